"""Managed node groups end to end with the aws CLI, boto3 and kubectl: a group's instances
become Ready nodes with EKS's labels, the group's labels and taints and the EKS AMI's
allocatable; pods run on them; scaling, label and taint updates reach the nodes as Update
records; bad input is refused as EKS refuses it; deleting the group removes its nodes, and
the cluster cannot be deleted while it exists. A version update surges, cordons and drains
through the Eviction API: a PodDisruptionBudget fails it with PodEvictionFailure (across a
restart), `--force` replaces every node; a spot interruption notice drains the node, and the
group replaces the instance."""

import json
import time

import botocore.exceptions
import pytest

from test_eks import account_id, aws_env, aws_ok, create_cluster, kubeconfig_for, kubectl
from test_eks_fargate import clients
from test_eks_fargate_pods import apply, deployment, pods, wait


def node_role(iam, name="nodes"):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "ec2.amazonaws.com"}}]})
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def group_nodes(kc, env, group):
    out = kubectl(kc, "get", "nodes", "-l", f"eks.amazonaws.com/nodegroup={group}", "-o", "json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["items"]


def ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def error(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response


def test_nodegroup_nodes_updates_refusals_and_deletion(keks):
    create_cluster(keks, "ng", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    role = node_role(iam)
    subnets = eks.describe_cluster(name="ng")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    created = aws_ok(keks, "eks", "create-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "workers",
                     "--node-role", role, "--subnets", *subnets,
                     "--scaling-config", "minSize=1,maxSize=4,desiredSize=2",
                     "--labels", "team=blue", "--taints", "key=dedicated,value=web,effect=NO_SCHEDULE",
                     "--tags", "owner=me")["nodegroup"]
    assert created["status"] == "CREATING"
    assert created["instanceTypes"] == ["t3.medium"]
    assert created["capacityType"] == "ON_DEMAND"
    assert created["diskSize"] == 20
    assert created["amiType"].startswith("AL2")
    assert created["updateConfig"] == {"maxUnavailable": 1}
    arn = created["nodegroupArn"]
    uuid = arn.rsplit("/", 1)[1]
    assert arn == f"arn:aws:eks:us-east-1:{account_id(keks)}:nodegroup/ng/workers/{uuid}"
    assert created["resources"]["autoScalingGroups"] == [{"name": f"eks-workers-{uuid}"}]
    eks.get_waiter("nodegroup_active").wait(clusterName="ng", nodegroupName="workers", WaiterConfig={"Delay": 1})
    described = eks.describe_nodegroup(clusterName="ng", nodegroupName="workers")["nodegroup"]
    assert described["status"] == "ACTIVE" and described["health"] == {"issues": []}
    assert eks.list_nodegroups(clusterName="ng")["nodegroups"] == ["workers"]
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "me"}

    kc = kubeconfig_for(keks, "ng")
    env = aws_env(keks)
    nodes = wait("two Ready nodes", lambda: (lambda n: n if len(n) == 2 and all(map(ready, n)) else None)(
        group_nodes(kc, env, "workers")))
    for n in nodes:
        labels = n["metadata"]["labels"]
        name = n["metadata"]["name"]
        assert name.startswith("ip-") and name.endswith(".ec2.internal")
        assert labels["eks.amazonaws.com/nodegroup"] == "workers"
        assert labels["eks.amazonaws.com/nodegroup-image"].startswith("ami-")
        assert labels["eks.amazonaws.com/capacityType"] == "ON_DEMAND"
        assert labels["node.kubernetes.io/instance-type"] == "t3.medium"
        assert labels["topology.kubernetes.io/region"] == "us-east-1"
        assert labels["topology.kubernetes.io/zone"].startswith("us-east-1")
        assert labels["topology.k8s.aws/zone-id"].startswith("use1-az")
        assert labels["kubernetes.io/arch"] == "amd64" and labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/hostname"] == name
        assert labels["team"] == "blue"
        assert n["spec"]["taints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
        assert n["spec"]["providerID"].startswith("aws:///us-east-1")
        assert n["status"]["allocatable"]["pods"] == "17"
        assert n["status"]["capacity"]["cpu"] == "2"
        assert n["status"]["allocatable"]["cpu"] == "1930m"
        kinds = {a["type"] for a in n["status"]["addresses"]}
        assert {"InternalIP", "InternalDNS", "Hostname"} <= kinds

    # Pods tolerating the taint run on the group's nodes.
    assert kubectl(kc, "create", "namespace", "apps", env=env).returncode == 0
    web = deployment("web", "apps", {"app": "web"}, replicas=3)
    web["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
    apply(kc, env, web)
    names = {n["metadata"]["name"] for n in nodes}
    running = wait("web pods Running", lambda: (lambda p: p if len(p) == 3 else None)(
        [p for p in pods(kc, env, "apps", "app=web") if p["status"].get("phase") == "Running"]))
    assert {p["spec"]["nodeName"] for p in running} <= names

    # Scaling to 3: a third node; the update is recorded and completes.
    update = aws_ok(keks, "eks", "update-nodegroup-config", "--cluster-name", "ng", "--nodegroup-name", "workers",
                    "--scaling-config", "desiredSize=3")["update"]
    assert update["status"] == "InProgress" and update["type"] == "ConfigUpdate"
    assert {"type": "DesiredSize", "value": "3"} in update["params"]
    eks.get_waiter("nodegroup_active").wait(clusterName="ng", nodegroupName="workers", WaiterConfig={"Delay": 1})
    aws_ok(keks, "eks", "wait", "nodegroup-active", "--cluster-name", "ng", "--nodegroup-name", "workers")
    assert len([n for n in group_nodes(kc, env, "workers") if ready(n)]) == 3
    got = eks.describe_update(name="ng", nodegroupName="workers", updateId=update["id"])["update"]
    assert got["status"] == "Successful"
    assert eks.list_updates(name="ng", nodegroupName="workers")["updateIds"] == [update["id"]]
    assert eks.list_updates(name="ng")["updateIds"] == []

    # Labels and taints: added and removed on every node.
    aws_ok(keks, "eks", "update-nodegroup-config", "--cluster-name", "ng", "--nodegroup-name", "workers",
           "--labels", "addOrUpdateLabels={tier=front},removeLabels=team")
    eks.get_waiter("nodegroup_active").wait(clusterName="ng", nodegroupName="workers", WaiterConfig={"Delay": 1})
    eks.update_nodegroup_config(clusterName="ng", nodegroupName="workers", taints={
        "addOrUpdateTaints": [{"key": "spot", "effect": "PREFER_NO_SCHEDULE"}],
        "removeTaints": [{"key": "dedicated", "value": "web", "effect": "NO_SCHEDULE"}]})
    eks.get_waiter("nodegroup_active").wait(clusterName="ng", nodegroupName="workers", WaiterConfig={"Delay": 1})

    def relabelled():
        ns = group_nodes(kc, env, "workers")
        return len(ns) == 3 and all(
            n["metadata"]["labels"].get("tier") == "front" and "team" not in n["metadata"]["labels"]
            and n["spec"].get("taints") == [{"key": "spot", "effect": "PreferNoSchedule"}] for n in ns)

    wait("labels and taints on the nodes", relabelled)

    # Refusals, as EKS words them.
    err = error(eks.create_nodegroup, clusterName="ng", nodegroupName="arm", nodeRole=role, subnets=subnets,
                instanceTypes=["m6g.large"], amiType="AL2023_x86_64_STANDARD")
    assert err["Error"]["Code"] == "InvalidParameterException"
    err = error(eks.create_nodegroup, clusterName="ng", nodegroupName="small", nodeRole=role, subnets=subnets,
                scalingConfig={"minSize": 3, "maxSize": 4, "desiredSize": 2})
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert err["Error"]["Message"] == "Minimum capacity 3 can't be greater than desired size 2"
    err = error(eks.create_nodegroup, clusterName="ng", nodegroupName="workers", nodeRole=role, subnets=subnets)
    assert err["Error"]["Code"] == "ResourceInUseException"
    assert err["nodegroupName"] == "workers" and err["clusterName"] == "ng"
    err = error(eks.create_nodegroup, clusterName="ng", nodegroupName="x", subnets=subnets,
                nodeRole=f"arn:aws:iam::{account_id(keks)}:role/missing")
    assert err["Error"]["Code"] == "InvalidParameterException"
    err = error(eks.update_nodegroup_config, clusterName="ng", nodegroupName="workers",
                scalingConfig={"desiredSize": 9})
    assert err["Error"]["Message"] == "desiredSize can't be greater than maxSize"
    assert [n for n in eks.list_nodegroups(clusterName="ng")["nodegroups"]] == ["workers"]

    # The cluster stays while the group exists.
    err = error(eks.delete_cluster, name="ng")
    assert err["Error"]["Code"] == "ResourceInUseException"

    deleting = aws_ok(keks, "eks", "delete-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "workers")
    assert deleting["nodegroup"]["status"] == "DELETING"
    eks.get_waiter("nodegroup_deleted").wait(clusterName="ng", nodegroupName="workers", WaiterConfig={"Delay": 1})
    aws_ok(keks, "eks", "wait", "nodegroup-deleted", "--cluster-name", "ng", "--nodegroup-name", "workers")
    assert group_nodes(kc, env, "workers") == []
    err = error(eks.describe_nodegroup, clusterName="ng", nodegroupName="workers")
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    aws_ok(keks, "eks", "delete-cluster", "--name", "ng")


def test_nodegroups_and_their_nodes_survive_a_restart(keks):
    create_cluster(keks, "ngr")
    eks, iam, _ = clients(keks)
    role = node_role(iam, "ngr-nodes")
    subnets = eks.describe_cluster(name="ngr")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    eks.create_nodegroup(clusterName="ngr", nodegroupName="arm", nodeRole=role, subnets=subnets,
                         amiType="AL2023_ARM_64_STANDARD", instanceTypes=["m6g.large"],
                         scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 1})
    eks.get_waiter("nodegroup_active").wait(clusterName="ngr", nodegroupName="arm", WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "ngr")
    env = aws_env(keks)
    before = wait("an arm64 node", lambda: group_nodes(kc, env, "arm"))
    assert before[0]["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert before[0]["status"]["allocatable"]["pods"] == "29"
    keks.stop()
    keks.start()
    # The ports move with a restart: new clients and a new kubeconfig.
    eks, _, _ = clients(keks)
    assert eks.describe_nodegroup(clusterName="ngr", nodegroupName="arm")["nodegroup"]["status"] == "ACTIVE"
    kc = kubeconfig_for(keks, "ngr")
    env = aws_env(keks)
    after = wait("the node after the restart", lambda: group_nodes(kc, env, "arm"))
    assert [n["metadata"]["name"] for n in after] == [n["metadata"]["name"] for n in before]
    eks.delete_nodegroup(clusterName="ngr", nodegroupName="arm")
    eks.get_waiter("nodegroup_deleted").wait(clusterName="ngr", nodegroupName="arm", WaiterConfig={"Delay": 1})
    assert group_nodes(kc, env, "arm") == []



def test_a_group_launches_from_an_ec2_launch_template(keks):
    create_cluster(keks, "nglt", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    role = node_role(iam, "nglt-nodes")
    subnets = eks.describe_cluster(name="nglt")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    lt = aws_ok(keks, "ec2", "create-launch-template", "--launch-template-name", "workers-lt",
                "--launch-template-data", json.dumps({"InstanceType": "m5.large"}))["LaunchTemplate"]
    base = dict(clusterName="nglt", nodeRole=role, subnets=subnets,
                scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1})
    # What belongs in the template is refused beside it, and nothing is created.
    r = error(eks.create_nodegroup, nodegroupName="bad", diskSize=50,
              launchTemplate={"name": "workers-lt"}, **base)
    assert r["Error"]["Code"] == "InvalidParameterException"
    assert r["Error"]["Message"] == "Disk size must be specified within the launch template."
    r = error(eks.create_nodegroup, nodegroupName="bad", instanceTypes=["t3.large"],
              launchTemplate={"name": "workers-lt"}, **base)
    assert r["Error"]["Code"] == "InvalidRequestException"
    assert r["Error"]["Message"] == "Cannot specify instance types in launch template and API Request"
    r = error(eks.create_nodegroup, nodegroupName="bad",
              launchTemplate={"name": "workers-lt", "id": lt["LaunchTemplateId"]}, **base)
    assert r["Error"]["Code"] == "InvalidParameterException" and "but not both" in r["Error"]["Message"]
    r = error(eks.create_nodegroup, nodegroupName="bad", launchTemplate={"name": "missing-lt"}, **base)
    assert r["Error"]["Code"] == "InvalidParameterException" and "missing-lt" in r["Error"]["Message"]
    assert eks.list_nodegroups(clusterName="nglt")["nodegroups"] == []

    created = eks.create_nodegroup(nodegroupName="from-lt", launchTemplate={"name": "workers-lt"},
                                   **base)["nodegroup"]
    assert created["launchTemplate"] == {"name": "workers-lt", "version": "1", "id": lt["LaunchTemplateId"]}
    assert created["instanceTypes"] == ["m5.large"]
    eks.get_waiter("nodegroup_active").wait(clusterName="nglt", nodegroupName="from-lt", WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "nglt")
    env = aws_env(keks)
    node = wait("the node", lambda: group_nodes(kc, env, "from-lt"))[0]
    labels = node["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["eks.amazonaws.com/sourceLaunchTemplateId"] == lt["LaunchTemplateId"]
    assert labels["eks.amazonaws.com/sourceLaunchTemplateVersion"] == "1"


def test_launch_failures_degrade_the_group_until_capacity_returns(keks):
    from test_aws_fleet import admin, client

    create_cluster(keks, "ngd")
    eks, iam, _ = clients(keks)
    role = node_role(iam, "ngd-nodes")
    subnets = eks.describe_cluster(name="ngd")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    group = eks.create_nodegroup(clusterName="ngd", nodegroupName="c5", nodeRole=role, subnets=subnets,
                                 instanceTypes=["c5.large"],
                                 scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1})["nodegroup"]
    eks.get_waiter("nodegroup_active").wait(clusterName="ngd", nodegroupName="c5", WaiterConfig={"Delay": 1})
    asg_name = group["resources"]["autoScalingGroups"][0]["name"]
    status, _ = admin(keks, "POST", "/_keks/faults", {"kind": "insufficientCapacity", "instanceType": "c5.large"})
    assert status == 201
    asg = client(keks, "autoscaling")
    instance = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]["Instances"][0]
    asg.terminate_instance_in_auto_scaling_group(InstanceId=instance["InstanceId"],
                                                 ShouldDecrementDesiredCapacity=False)

    def described():
        return eks.describe_nodegroup(clusterName="ngd", nodegroupName="c5")["nodegroup"]

    degraded = wait("DEGRADED", lambda: (lambda g: g if g["status"] == "DEGRADED" else None)(described()))
    issue = degraded["health"]["issues"][0]
    assert issue["code"] == "AsgInstanceLaunchFailures" and issue["resourceIds"] == [asg_name]
    assert "InsufficientInstanceCapacity" in issue["message"] or "capacity" in issue["message"].lower()
    status, _ = admin(keks, "DELETE", "/_keks/faults")
    assert status == 200
    healed = wait("ACTIVE again", lambda: (lambda g: g if g["status"] == "ACTIVE" else None)(described()),
                  timeout=30)
    assert healed["health"] == {"issues": []}


def test_keks_create_cluster_with_nodes(keks):
    import subprocess
    from conftest import keks_binary
    kc = keks.data_dir + "/withnodes.kubeconfig"
    out = subprocess.run([keks_binary(), "create", "cluster", "withnodes", "--nodes", "2", "--kubeconfig", kc,
                          "--data-dir", keks.data_dir], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "managed node group ng-default (2 x t3.medium)" in out.stdout
    env = {"PATH": "/usr/bin:/bin", "HOME": keks.data_dir}
    nodes = json.loads(subprocess.run(["kubectl", "--kubeconfig", kc, "get", "nodes", "-o", "json"], env=env,
                                      capture_output=True, text=True, timeout=60).stdout)["items"]
    assert len(nodes) == 2
    assert all(n["metadata"]["labels"]["eks.amazonaws.com/nodegroup"] == "ng-default" for n in nodes)
    deadline = time.time() + 30
    while True:
        pods = json.loads(subprocess.run(["kubectl", "--kubeconfig", kc, "get", "pods", "-n", "kube-system", "-l",
                                          "k8s-app=kube-dns", "-o", "json"], env=env, capture_output=True,
                                         text=True, timeout=60).stdout)["items"]
        if len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods):
            break
        assert time.time() < deadline, "CoreDNS did not run on the node group"
        time.sleep(0.3)


def pdb(name, ns, labels, max_unavailable=0):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": ns},
            "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": labels}}}


def running(kc, env, ns, selector, count):
    return wait(f"{count} Running pods", lambda: (lambda p: p if len(p) == count else None)(
        [p for p in pods(kc, env, ns, selector)
         if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]), timeout=60)


def test_version_update_fails_on_a_budget_then_forced_replaces_every_node(keks):
    create_cluster(keks, "ngv", "--kubernetes-version", "1.33")
    eks, iam, _ = clients(keks)
    role = node_role(iam, "ngv-nodes")
    subnets = eks.describe_cluster(name="ngv")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    aws_ok(keks, "eks", "create-nodegroup", "--cluster-name", "ngv", "--nodegroup-name", "workers",
           "--node-role", role, "--subnets", *subnets, "--scaling-config", "minSize=2,maxSize=2,desiredSize=2")
    eks.get_waiter("nodegroup_active").wait(clusterName="ngv", nodegroupName="workers", WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "ngv")
    env = aws_env(keks)
    before = wait("two Ready nodes", lambda: (lambda n: n if len(n) == 2 and all(map(ready, n)) else None)(
        group_nodes(kc, env, "workers")))
    old_names = sorted(n["metadata"]["name"] for n in before)
    assert all(n["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.33.") for n in before)
    assert kubectl(kc, "create", "namespace", "apps", env=env).returncode == 0
    apply(kc, env, deployment("web", "apps", {"app": "web"}, replicas=2))
    apply(kc, env, pdb("web", "apps", {"app": "web"}))
    running(kc, env, "apps", "app=web", 2)

    # The node group may only follow the cluster: 1.34 is refused until the cluster runs it.
    err = error(eks.update_nodegroup_version, clusterName="ngv", nodegroupName="workers", version="1.34")
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert err["Error"]["Message"] == ("Requested Nodegroup version 1.34 is invalid. "
                                       "The node group version must match the cluster version 1.33")
    err = error(eks.update_nodegroup_version, clusterName="ngv", nodegroupName="workers",
                releaseVersion="1.34.1-20251120")
    assert err["Error"]["Message"] == "Requested release version 1.34.1-20251120 is not valid for kubernetes version 1.33"
    aws_ok(keks, "eks", "update-cluster-version", "--name", "ngv", "--kubernetes-version", "1.34")
    aws_ok(keks, "eks", "wait", "cluster-active", "--name", "ngv")

    update = aws_ok(keks, "eks", "update-nodegroup-version", "--cluster-name", "ngv", "--nodegroup-name", "workers",
                    "--kubernetes-version", "1.34")["update"]
    assert update["type"] == "VersionUpdate" and update["status"] == "InProgress"
    assert update["params"] == [{"type": "Version", "value": "1.34"},
                                {"type": "ReleaseVersion", "value": "1.34.1-20251120"}]
    assert eks.describe_nodegroup(clusterName="ngv", nodegroupName="workers")["nodegroup"]["status"] == "UPDATING"
    err = error(eks.update_nodegroup_version, clusterName="ngv", nodegroupName="workers", version="1.34")
    assert err["Error"]["Code"] == "ResourceInUseException"
    assert err["nodegroupName"] == "workers"

    # The old nodes are cordoned once the new ones are Ready; a restart then resumes the update.
    wait("the old nodes cordoned", lambda: all(
        n["spec"].get("unschedulable") and n["metadata"]["labels"].get(
            "node.kubernetes.io/exclude-from-external-load-balancers") == "true"
        for n in group_nodes(kc, env, "workers") if n["metadata"]["name"] in old_names), timeout=30)
    assert eks.describe_update(name="ngv", nodegroupName="workers",
                               updateId=update["id"])["update"]["status"] == "InProgress"
    keks.stop()
    keks.start()
    eks, _, _ = clients(keks)
    kc = kubeconfig_for(keks, "ngv")
    env = aws_env(keks)

    def finished(update_id):
        u = eks.describe_update(name="ngv", nodegroupName="workers", updateId=update_id)["update"]
        return u if u["status"] != "InProgress" else None

    failed = wait("the update to fail", lambda: finished(update["id"]), timeout=90)
    assert failed["status"] == "Failed"
    assert failed["errors"][0]["errorCode"] == "PodEvictionFailure"
    assert failed["errors"][0]["errorMessage"] == \
        "Reached max retries while trying to evict pods from nodes in node group workers"
    assert set(failed["errors"][0]["resourceIds"]) <= set(old_names)
    group = eks.describe_nodegroup(clusterName="ngv", nodegroupName="workers")["nodegroup"]
    assert group["status"] == "ACTIVE" and group["version"] == "1.33"
    back = wait("the old nodes alone and schedulable", lambda: (lambda ns: ns if sorted(
        n["metadata"]["name"] for n in ns) == old_names and not any(n["spec"].get("unschedulable") for n in ns)
        else None)(group_nodes(kc, env, "workers")), timeout=30)
    assert all(n["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.33.") for n in back)
    running(kc, env, "apps", "app=web", 2)

    # With --force the budget no longer holds the pods back: every node is replaced.
    forced = aws_ok(keks, "eks", "update-nodegroup-version", "--cluster-name", "ngv", "--nodegroup-name", "workers",
                    "--kubernetes-version", "1.34", "--force")["update"]
    eks.get_waiter("nodegroup_active").wait(clusterName="ngv", nodegroupName="workers",
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    aws_ok(keks, "eks", "wait", "nodegroup-active", "--cluster-name", "ngv", "--nodegroup-name", "workers")
    done = eks.describe_update(name="ngv", nodegroupName="workers", updateId=forced["id"])["update"]
    assert done["status"] == "Successful" and done["errors"] == []
    group = eks.describe_nodegroup(clusterName="ngv", nodegroupName="workers")["nodegroup"]
    assert group["version"] == "1.34" and group["releaseVersion"] == "1.34.1-20251120"
    ids = [u for u in eks.list_updates(name="ngv", nodegroupName="workers")["updateIds"]]
    assert sorted(ids) == sorted([update["id"], forced["id"]])
    after = wait("two new Ready nodes", lambda: (lambda n: n if len(n) == 2 and all(map(ready, n)) else None)(
        group_nodes(kc, env, "workers")))
    new_names = sorted(n["metadata"]["name"] for n in after)
    assert not set(new_names) & set(old_names)
    for n in after:
        assert n["status"]["nodeInfo"]["kubeletVersion"] == "v1.34.1-eks-113cf36"
        assert n["metadata"]["labels"]["eks.amazonaws.com/nodegroup-image"] != \
            before[0]["metadata"]["labels"]["eks.amazonaws.com/nodegroup-image"]
        assert not n["spec"].get("unschedulable")
    web = running(kc, env, "apps", "app=web", 2)
    assert {p["spec"]["nodeName"] for p in web} <= set(new_names)


def test_spot_interruption_cordons_drains_and_replaces_the_node(keks):
    from test_aws_fleet import admin

    create_cluster(keks, "ngs")
    eks, iam, _ = clients(keks)
    role = node_role(iam, "ngs-nodes")
    subnets = eks.describe_cluster(name="ngs")["cluster"]["resourcesVpcConfig"]["subnetIds"]
    eks.create_nodegroup(clusterName="ngs", nodegroupName="spot", nodeRole=role, subnets=subnets,
                         capacityType="SPOT", scalingConfig={"minSize": 2, "maxSize": 2, "desiredSize": 2})
    eks.get_waiter("nodegroup_active").wait(clusterName="ngs", nodegroupName="spot", WaiterConfig={"Delay": 1})
    kc = kubeconfig_for(keks, "ngs")
    env = aws_env(keks)
    nodes = wait("two Ready nodes", lambda: (lambda n: n if len(n) == 2 and all(map(ready, n)) else None)(
        group_nodes(kc, env, "spot")))
    assert all(n["metadata"]["labels"]["eks.amazonaws.com/capacityType"] == "SPOT" for n in nodes)
    assert kubectl(kc, "create", "namespace", "apps", env=env).returncode == 0
    apply(kc, env, deployment("web", "apps", {"app": "web"}, replicas=4))
    web = running(kc, env, "apps", "app=web", 4)
    victim = web[0]["spec"]["nodeName"]
    node = next(n for n in nodes if n["metadata"]["name"] == victim)
    instance_id = node["spec"]["providerID"].rsplit("/", 1)[1]
    status, answer = admin(keks, "POST", "/_keks/spot-interruptions", {"instanceId": instance_id})
    assert status == 200, answer
    assert answer["instanceId"] == instance_id

    # Within the two-minute notice: cordoned, drained, the pods running elsewhere.
    def cordoned():
        n = [x for x in group_nodes(kc, env, "spot") if x["metadata"]["name"] == victim]
        return n and n[0]["spec"].get("unschedulable") and any(
            t["key"] == "node.kubernetes.io/unschedulable" and t["effect"] == "NoSchedule"
            for t in n[0]["spec"].get("taints", []))

    wait("the interrupted node cordoned", cordoned)
    moved = wait("the pods off the interrupted node", lambda: (lambda p: p if all(
        x["spec"]["nodeName"] != victim for x in p) else None)(running(kc, env, "apps", "app=web", 4)))
    assert len(moved) == 4

    # At the end of the notice the instance goes and the group replaces it.
    replaced = wait("a replacement node", lambda: (lambda n: n if len(n) == 2 and all(map(ready, n)) and victim not in {
        x["metadata"]["name"] for x in n} else None)(group_nodes(kc, env, "spot")), timeout=180)
    assert all(n["metadata"]["labels"]["eks.amazonaws.com/capacityType"] == "SPOT" for n in replaced)
    assert eks.describe_nodegroup(clusterName="ngs", nodegroupName="spot")["nodegroup"]["status"] == "ACTIVE"
