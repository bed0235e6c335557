"""The simulated EC2 fleet with the real `aws` CLI and boto3: the instance-type catalog
(DescribeInstanceTypes), instances (RunInstances, DescribeInstances with filters,
TerminateInstances), launch templates, Auto Scaling groups (create with a MixedInstancesPolicy,
converge across zones, scale, terminate, activities, delete), fault injection through the
admin endpoint, and state after a restart."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import botocore
import pytest


def client(keks, service):
    env = keks.env
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def aws_json(keks, *args):
    env = dict(os.environ)
    env.update({k: v for k, v in keks.env.items() if k.startswith("AWS_")})
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    venv_bin = os.path.dirname(os.path.realpath(sys.executable))
    out = subprocess.run([os.path.join(venv_bin, "aws"), *args, "--output", "json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def admin(keks, method, path, body=None, token=True):
    req = urllib.request.Request(keks.env["KEKS_ENDPOINT_URL"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + keks.env["KEKS_ADMIN_TOKEN"])
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def private_subnets(keks):
    subnets = client(keks, "ec2").describe_subnets(
        Filters=[{"Name": "tag:kubernetes.io/role/internal-elb", "Values": ["1"]}])["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def test_instance_types(keks):
    out = aws_json(keks, "ec2", "describe-instance-types", "--instance-types", "m5.large", "t3.medium", "g5.xlarge")
    types = {t["InstanceType"]: t for t in out["InstanceTypes"]}
    m5 = types["m5.large"]
    assert m5["VCpuInfo"]["DefaultVCpus"] == 2 and m5["MemoryInfo"]["SizeInMiB"] == 8192
    assert m5["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
    assert m5["NetworkInfo"]["MaximumNetworkInterfaces"] == 3 and m5["NetworkInfo"]["Ipv4AddressesPerInterface"] == 10
    t3 = types["t3.medium"]["NetworkInfo"]
    assert t3["MaximumNetworkInterfaces"] * (t3["Ipv4AddressesPerInterface"] - 1) + 2 == 17
    assert types["t3.medium"]["BurstablePerformanceSupported"] is True
    gpu = types["g5.xlarge"]["GpuInfo"]["Gpus"][0]
    assert gpu["Manufacturer"] == "NVIDIA" and gpu["Count"] == 1

    arm2 = aws_json(keks, "ec2", "describe-instance-types", "--filters",
                    "Name=processor-info.supported-architecture,Values=arm64", "Name=vcpu-info.default-vcpus,Values=2")
    names = {t["InstanceType"] for t in arm2["InstanceTypes"]}
    assert {"m6g.large", "c7g.large", "r6g.large"} <= names and not any(n.startswith("m5") for n in names)

    # The CLI pages through the whole catalog (pages of at most 100).
    every = aws_json(keks, "ec2", "describe-instance-types")["InstanceTypes"]
    assert len(every) > 100 and len({t["InstanceType"] for t in every}) == len(every)

    code, message = error_of(client(keks, "ec2").describe_instance_types, InstanceTypes=["m5.huge"])
    assert code == "InvalidInstanceType" and "m5.huge" in message


def test_run_describe_terminate(keks):
    ec2 = client(keks, "ec2")
    subnet = private_subnets(keks)[0]
    run = ec2.run_instances(ImageId="ami-12345678", InstanceType="m5.large", MinCount=2, MaxCount=2,
                            SubnetId=subnet["SubnetId"],
                            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]}])
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert all(i.startswith("i-") and len(i) == 19 for i in ids)
    first = run["Instances"][0]
    assert first["State"]["Name"] == "pending" and first["Placement"]["AvailabilityZone"] == subnet["AvailabilityZone"]
    assert first["PrivateDnsName"] == "ip-" + first["PrivateIpAddress"].replace(".", "-") + ".ec2.internal"

    def running():
        found = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]},
                                                {"Name": "tag:team", "Values": ["blue"]}])
        got = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
        return sorted(got) == sorted(ids)
    wait_for(running)
    by_zone = ec2.describe_instances(Filters=[{"Name": "availability-zone", "Values": [subnet["AvailabilityZone"]]},
                                              {"Name": "instance-type", "Values": ["m5.large"]}])
    assert len(by_zone["Reservations"]) == 1 and len(by_zone["Reservations"][0]["Instances"]) == 2
    assert ec2.describe_instances(Filters=[{"Name": "instance-type", "Values": ["c5.large"]}])["Reservations"] == []
    free = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"]
    assert free == 4089

    code, _ = error_of(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
    assert code == "InvalidInstanceID.NotFound"
    code, _ = error_of(ec2.run_instances, ImageId="ami-1", InstanceType="m5.huge", MinCount=1, MaxCount=1)
    assert code == "InvalidParameterValue"

    out = aws_json(keks, "ec2", "terminate-instances", "--instance-ids", ids[0])
    change = out["TerminatingInstances"][0]
    assert change["PreviousState"]["Name"] == "running" and change["CurrentState"]["Name"] == "shutting-down"
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[ids[0]], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    free = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"]
    assert free == 4090


def test_auto_scaling_group_lifecycle(keks):
    ec2, asg = client(keks, "ec2"), client(keks, "autoscaling")
    subnets = [s["SubnetId"] for s in private_subnets(keks)]
    lt = ec2.create_launch_template(LaunchTemplateName="nodes", LaunchTemplateData={"InstanceType": "t3.medium"})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    assert lt_id.startswith("lt-") and lt["LaunchTemplate"]["LatestVersionNumber"] == 1
    assert ec2.describe_launch_templates(LaunchTemplateNames=["nodes"])["LaunchTemplates"][0]["LaunchTemplateId"] == lt_id

    asg.create_auto_scaling_group(
        AutoScalingGroupName="workers", MinSize=1, MaxSize=10, DesiredCapacity=3,
        VPCZoneIdentifier=",".join(subnets),
        MixedInstancesPolicy={"LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": lt_id, "Version": "$Latest"},
            "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "m5.xlarge"}]}},
        Tags=[{"Key": "k8s.io/cluster-autoscaler/enabled", "Value": "true", "PropagateAtLaunch": True}])

    def in_service(n):
        def check():
            g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0]
            live = [i for i in g["Instances"] if i["LifecycleState"] == "InService"]
            return g if len(live) == n and len(g["Instances"]) == n else None
        return wait_for(check)

    group = in_service(3)
    assert group["DesiredCapacity"] == 3 and group["MinSize"] == 1 and group["MaxSize"] == 10
    assert sorted(group["AvailabilityZones"]) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert sorted(i["AvailabilityZone"] for i in group["Instances"]) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(i["InstanceType"] == "m5.large" for i in group["Instances"])
    overrides = group["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
    assert [o["InstanceType"] for o in overrides] == ["m5.large", "m5.xlarge"]
    assert group["VPCZoneIdentifier"] == ",".join(subnets)
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:aws:autoscaling:groupName", "Values": ["workers"]}])
    assert sum(len(r["Instances"]) for r in tagged["Reservations"]) == 3

    code, _ = error_of(asg.create_auto_scaling_group, AutoScalingGroupName="workers", MinSize=0, MaxSize=1,
                       LaunchTemplate={"LaunchTemplateId": lt_id}, VPCZoneIdentifier=subnets[0])
    assert code == "AlreadyExists"
    code, message = error_of(asg.update_auto_scaling_group, AutoScalingGroupName="workers", MinSize=5, MaxSize=2)
    assert code == "ValidationError" and "min bound" in message
    code, _ = error_of(asg.set_desired_capacity, AutoScalingGroupName="nope", DesiredCapacity=1)
    assert code == "ValidationError"

    aws_json(keks, "autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "workers", "--desired-capacity", "5")
    group = in_service(5)
    asg.update_auto_scaling_group(AutoScalingGroupName="workers", DesiredCapacity=2)
    group = in_service(2)

    victim = group["Instances"][0]["InstanceId"]
    activity = asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert activity["Activity"]["Description"] == f"Terminating EC2 instance: {victim}"
    group = in_service(1)
    assert group["DesiredCapacity"] == 1

    activities = asg.describe_scaling_activities(AutoScalingGroupName="workers")["Activities"]
    assert any(a["Description"].startswith("Launching a new EC2 instance: i-") for a in activities)
    assert all(a["StatusCode"] == "Successful" for a in activities)

    code, _ = error_of(asg.delete_auto_scaling_group, AutoScalingGroupName="workers")
    assert code == "ResourceInUse"
    asg.delete_auto_scaling_group(AutoScalingGroupName="workers", ForceDelete=True)
    wait_for(lambda: asg.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"] == [])


def test_faults_through_the_admin_endpoint(keks):
    ec2, asg = client(keks, "ec2"), client(keks, "autoscaling")
    subnets = [s["SubnetId"] for s in private_subnets(keks)]
    status, _ = admin(keks, "POST", "/_keks/faults", {"kind": "insufficientCapacity"}, token=False)
    assert status == 401
    status, faults = admin(keks, "POST", "/_keks/faults",
                           {"kind": "insufficientCapacity", "instanceType": "m5.large", "availabilityZone": "us-east-1a"})
    assert status == 201 and len(faults) == 1

    code, message = error_of(ec2.run_instances, ImageId="ami-1", InstanceType="m5.large", MinCount=1, MaxCount=1,
                             SubnetId=subnets[0])
    assert code == "InsufficientInstanceCapacity" and "us-east-1a" in message

    lt_id = ec2.create_launch_template(LaunchTemplateName="spot", LaunchTemplateData={"InstanceType": "m5.large"})["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="spotty", MinSize=0, MaxSize=6, DesiredCapacity=3, VPCZoneIdentifier=",".join(subnets),
        MixedInstancesPolicy={
            "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": lt_id},
                               "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "m5.xlarge"}]},
            "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 0}})

    def instances(n):
        def check():
            g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["spotty"])["AutoScalingGroups"][0]
            return g["Instances"] if len([i for i in g["Instances"] if i["LifecycleState"] == "InService"]) == n else None
        return wait_for(check)

    live = instances(3)
    in_a = [i for i in live if i["AvailabilityZone"] == "us-east-1a"]
    assert [i["InstanceType"] for i in in_a] == ["m5.xlarge"]
    failed = [a for a in asg.describe_scaling_activities(AutoScalingGroupName="spotty")["Activities"]
              if a["StatusCode"] == "Failed"]
    assert failed and "sufficient m5.large capacity" in failed[0]["StatusMessage"]

    status, faults = admin(keks, "DELETE", "/_keks/faults")
    assert status == 200 and faults == []

    # A spot interruption: two minutes' notice, then termination and a replacement.
    spot = ec2.describe_instances(InstanceIds=[live[0]["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert spot["InstanceLifecycle"] == "spot"
    status, notice = admin(keks, "POST", "/_keks/spot-interruptions", {"instanceId": spot["InstanceId"]})
    assert status == 200 and notice["terminateAt"] - time.time() > 100
    status, _ = admin(keks, "POST", "/_keks/spot-interruptions", {"instanceId": "i-0123456789abcdef0"})
    assert status == 404


def test_fleet_survives_a_restart(keks):
    ec2, asg = client(keks, "ec2"), client(keks, "autoscaling")
    subnets = [s["SubnetId"] for s in private_subnets(keks)]
    lt_id = ec2.create_launch_template(LaunchTemplateName="restart", LaunchTemplateData={"InstanceType": "c6g.large"})[
        "LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(AutoScalingGroupName="durable", MinSize=2, MaxSize=2,
                                  LaunchTemplate={"LaunchTemplateId": lt_id}, VPCZoneIdentifier=",".join(subnets))
    before = wait_for(lambda: sorted(i["InstanceId"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["durable"])["AutoScalingGroups"][0]["Instances"] if i["LifecycleState"] == "InService") or None)
    assert len(before) == 2
    keks.stop()
    keks.start()
    asg, ec2 = client(keks, "autoscaling"), client(keks, "ec2")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["durable"])["AutoScalingGroups"][0]
    assert sorted(i["InstanceId"] for i in group["Instances"]) == before
    assert group["LaunchTemplate"]["LaunchTemplateId"] == lt_id
    found = ec2.describe_instances(InstanceIds=before)["Reservations"]
    assert all(i["State"]["Name"] == "running" and i["Architecture"] == "arm64" for r in found for i in r["Instances"])
