"""Fargate profiles through the real `aws` CLI and boto3: create with EKS's defaults, the
waiters, the node role's access entry or aws-auth mapping, EKS's validation errors, tags,
and DeleteCluster refused while profiles exist."""

import json

import boto3
import botocore
import pytest

from test_eks import TRUST_EKS, account_id, aws, aws_ok, create_cluster, private_subnets


def clients(keks):
    kwargs = dict(endpoint_url=keks.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                  aws_access_key_id=keks.env["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=keks.env["AWS_SECRET_ACCESS_KEY"])
    return boto3.client("eks", **kwargs), boto3.client("iam", **kwargs), boto3.client("ec2", **kwargs)


def pod_role(iam, name="fargate-pods"):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "eks-fargate-pods.amazonaws.com"}}]})
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def error(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response


def test_profile_lifecycle_with_the_cli(keks):
    create_cluster(keks, "fg", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    role = pod_role(iam)
    created = aws_ok(keks, "eks", "create-fargate-profile", "--cluster-name", "fg", "--fargate-profile-name", "apps",
                     "--pod-execution-role-arn", role,
                     "--selectors", "namespace=prod*,labels={app=web-?}", "namespace=default")["fargateProfile"]
    assert created["status"] == "CREATING"
    assert created["fargateProfileArn"].startswith(f"arn:aws:eks:us-east-1:{account_id(keks)}:fargateprofile/fg/apps/")
    assert created["selectors"] == [{"namespace": "prod*", "labels": {"app": "web-?"}}, {"namespace": "default"}]
    # Subnets default to the cluster's private subnets.
    assert sorted(created["subnets"]) == sorted(private_subnets(keks))
    aws_ok(keks, "eks", "wait", "fargate-profile-active", "--cluster-name", "fg", "--fargate-profile-name", "apps")
    described = aws_ok(keks, "eks", "describe-fargate-profile", "--cluster-name", "fg",
                       "--fargate-profile-name", "apps")["fargateProfile"]
    assert described["status"] == "ACTIVE" and described["health"] == {"issues": []}
    assert aws_ok(keks, "eks", "list-fargate-profiles", "--cluster-name", "fg")["fargateProfileNames"] == ["apps"]
    # The pod execution role can register its nodes: EKS adds a FARGATE_LINUX entry.
    entry = eks.describe_access_entry(clusterName="fg", principalArn=role)["accessEntry"]
    assert entry["type"] == "FARGATE_LINUX" and entry["username"] == "system:node:{{SessionName}}"

    eks.tag_resource(resourceArn=created["fargateProfileArn"], tags={"team": "web"})
    assert eks.list_tags_for_resource(resourceArn=created["fargateProfileArn"])["tags"] == {"team": "web"}

    out = aws(keks, "eks", "delete-cluster", "--name", "fg")
    assert out.returncode != 0 and "ResourceInUseException" in out.stderr
    deleting = aws_ok(keks, "eks", "delete-fargate-profile", "--cluster-name", "fg",
                      "--fargate-profile-name", "apps")["fargateProfile"]
    assert deleting["status"] == "DELETING"
    aws_ok(keks, "eks", "wait", "fargate-profile-deleted", "--cluster-name", "fg", "--fargate-profile-name", "apps")
    assert aws_ok(keks, "eks", "list-fargate-profiles", "--cluster-name", "fg")["fargateProfileNames"] == []
    aws_ok(keks, "eks", "delete-cluster", "--name", "fg")
    aws_ok(keks, "eks", "wait", "cluster-deleted", "--name", "fg")


def test_config_map_clusters_map_the_pod_role_in_aws_auth(keks):
    create_cluster(keks, "fgcm")
    eks, iam, _ = clients(keks)
    role = pod_role(iam)
    eks.create_fargate_profile(clusterName="fgcm", fargateProfileName="p", podExecutionRoleArn=role,
                               selectors=[{"namespace": "default"}])
    eks.get_waiter("fargate_profile_active").wait(clusterName="fgcm", fargateProfileName="p",
                                                  WaiterConfig={"Delay": 1})
    from test_eks import aws_env, kubeconfig_for, kubectl
    kc = kubeconfig_for(keks, "fgcm")
    out = kubectl(kc, "get", "configmap", "aws-auth", "-n", "kube-system", "-o", "json", env=aws_env(keks))
    assert out.returncode == 0, out.stderr
    roles = json.loads(out.stdout)["data"]["mapRoles"]
    assert role in roles and "system:node-proxier" in roles and "system:node:{{SessionName}}" in roles


def test_profile_validation_as_eks(keks):
    create_cluster(keks, "fgv", "--access-config", "authenticationMode=API")
    eks, iam, ec2 = clients(keks)
    role = pod_role(iam)
    base = dict(clusterName="fgv", podExecutionRoleArn=role)

    r = error(eks.create_fargate_profile, fargateProfileName="none", selectors=[], **base)
    assert r["Error"]["Code"] == "InvalidParameterException" and "at least one selector" in r["Error"]["Message"]
    r = error(eks.create_fargate_profile, fargateProfileName="six",
              selectors=[{"namespace": f"n{i}"} for i in range(6)], **base)
    assert r["Error"]["Code"] == "InvalidParameterException"
    r = error(eks.create_fargate_profile, fargateProfileName="nons", selectors=[{"labels": {"a": "b"}}], **base)
    assert "namespace" in r["Error"]["Message"]
    r = error(eks.create_fargate_profile, fargateProfileName="labels",
              selectors=[{"namespace": "x", "labels": {f"k{i}": "v" for i in range(6)}}], **base)
    assert r["Error"]["Message"] == "Request contains Selector with more than 5 Label pairs"
    public = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["MapPublicIpOnLaunch"]]
    r = error(eks.create_fargate_profile, fargateProfileName="pub", selectors=[{"namespace": "x"}],
              subnets=public[:1], **base)
    assert r["Error"]["Message"] == f"Subnet {public[0]} provided in Fargate Profile is not a private subnet"
    path_role = iam.create_role(RoleName="withpath", Path="/team/", AssumeRolePolicyDocument=TRUST_EKS)["Role"]["Arn"]
    r = error(eks.create_fargate_profile, clusterName="fgv", fargateProfileName="path", podExecutionRoleArn=path_role,
              selectors=[{"namespace": "x"}])
    assert "path" in r["Error"]["Message"]
    r = error(eks.create_fargate_profile, clusterName="fgv", fargateProfileName="ghost",
              podExecutionRoleArn=f"arn:aws:iam::{account_id(keks)}:role/ghost", selectors=[{"namespace": "x"}])
    assert "does not exist" in r["Error"]["Message"]
    r = error(eks.create_fargate_profile, clusterName="nocluster", fargateProfileName="p",
              podExecutionRoleArn=role, selectors=[{"namespace": "x"}])
    assert r["Error"]["Code"] == "ResourceNotFoundException"
    r = error(eks.describe_fargate_profile, clusterName="fgv", fargateProfileName="missing")
    assert r["Error"]["Message"] == "No Fargate Profile found with name: missing."
    assert eks.list_fargate_profiles(clusterName="fgv")["fargateProfileNames"] == []

    for i in range(10):
        eks.create_fargate_profile(fargateProfileName=f"p{i}", selectors=[{"namespace": f"ns{i}"}], **base)
        eks.get_waiter("fargate_profile_active").wait(clusterName="fgv", fargateProfileName=f"p{i}",
                                                      WaiterConfig={"Delay": 1})
    r = error(eks.create_fargate_profile, fargateProfileName="p0", selectors=[{"namespace": "x"}], **base)
    assert r["Error"]["Code"] == "ResourceInUseException"
    assert r["Error"]["Message"] == "A Fargate Profile already exists with this name in this cluster."
    r = error(eks.create_fargate_profile, fargateProfileName="p10", selectors=[{"namespace": "x"}], **base)
    assert r["Error"]["Code"] == "ResourceLimitExceededException"
    assert len(eks.list_fargate_profiles(clusterName="fgv")["fargateProfileNames"]) == 10


def test_pods_matching_a_profile_go_to_the_fargate_scheduler(keks):
    from test_eks import aws_env, kubeconfig_for, kubectl
    create_cluster(keks, "fgpods", "--access-config", "authenticationMode=API")
    eks, iam, _ = clients(keks)
    role = pod_role(iam)
    kc = kubeconfig_for(keks, "fgpods")
    env = aws_env(keks)
    assert kubectl(kc, "create", "namespace", "serverless", env=env).returncode == 0
    # Created before any profile: never changed.
    assert kubectl(kc, "run", "early", "-n", "serverless", "--image=nginx", "--labels=app=web", env=env).returncode == 0
    eks.create_fargate_profile(clusterName="fgpods", fargateProfileName="web", podExecutionRoleArn=role,
                               selectors=[{"namespace": "server*", "labels": {"app": "w?b"}}])
    eks.get_waiter("fargate_profile_active").wait(clusterName="fgpods", fargateProfileName="web",
                                                  WaiterConfig={"Delay": 1})

    def pod(name, ns="serverless"):
        out = kubectl(kc, "get", "pod", name, "-n", ns, "-o", "json", env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert kubectl(kc, "run", "web", "-n", "serverless", "--image=nginx", "--labels=app=web", env=env).returncode == 0
    web = pod("web")
    assert web["spec"]["schedulerName"] == "fargate-scheduler"
    assert web["metadata"]["labels"]["eks.amazonaws.com/fargate-profile"] == "web"
    assert pod("early")["spec"]["schedulerName"] == "default-scheduler"
    assert kubectl(kc, "run", "other", "-n", "serverless", "--image=nginx", "--labels=app=db", env=env).returncode == 0
    assert pod("other")["spec"]["schedulerName"] == "default-scheduler"
    assert kubectl(kc, "run", "elsewhere", "--image=nginx", "--labels=app=web", env=env).returncode == 0
    assert pod("elsewhere", "default")["spec"]["schedulerName"] == "default-scheduler"
    custom = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "custom", "labels": {"app": "web"}},
              "spec": {"schedulerName": "my-scheduler", "containers": [{"name": "c", "image": "nginx"}]}}
    out = subprocess_apply(kc, env, custom, "serverless")
    assert out.returncode == 0, out.stderr
    assert pod("custom")["spec"]["schedulerName"] == "my-scheduler"

    # Deleting the profile deletes the pods it placed.
    eks.delete_fargate_profile(clusterName="fgpods", fargateProfileName="web")
    eks.get_waiter("fargate_profile_deleted").wait(clusterName="fgpods", fargateProfileName="web",
                                                   WaiterConfig={"Delay": 1})
    import time
    deadline = time.time() + 10
    while kubectl(kc, "get", "pod", "web", "-n", "serverless", env=env).returncode == 0:
        assert time.time() < deadline, "the Fargate pod of the deleted profile is still there"
        time.sleep(0.2)
    assert kubectl(kc, "get", "pod", "early", "-n", "serverless", env=env).returncode == 0


def subprocess_apply(kc, env, obj, namespace):
    import subprocess
    return subprocess.run(["kubectl", "--kubeconfig", kc, "apply", "-n", namespace, "-f", "-"], input=json.dumps(obj),
                          env=env, capture_output=True, text=True, timeout=60)


def test_keks_create_cluster_fargate_puts_coredns_on_fargate(keks):
    import subprocess
    from conftest import keks_binary
    from test_eks import aws_env, kubectl
    kc = keks.data_dir + "/quick.kubeconfig"
    out = subprocess.run([keks_binary(), "create", "cluster", "quick", "--fargate", "--kubeconfig", kc,
                          "--data-dir", keks.data_dir], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ACTIVE" in out.stdout
    eks, _, _ = clients(keks)
    assert eks.describe_cluster(name="quick")["cluster"]["status"] == "ACTIVE"
    profile = eks.describe_fargate_profile(clusterName="quick", fargateProfileName="fp-default")["fargateProfile"]
    assert profile["selectors"] == [{"namespace": "default"}, {"namespace": "kube-system"}]
    env = aws_env(keks)
    deployment = json.loads(kubectl(kc, "get", "deployment", "coredns", "-n", "kube-system", "-o", "json",
                                    env=env).stdout)
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert "eks.amazonaws.com/compute-type" not in annotations
    # The kubeconfig works without the aws CLI, and so does update-kubeconfig.
    assert kubectl(kc, "get", "ns", env={"PATH": "/usr/bin:/bin", "HOME": keks.data_dir}).returncode == 0
    again = subprocess.run([keks_binary(), "create", "cluster", "quick", "--kubeconfig", kc, "--data-dir",
                            keks.data_dir], capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "already exists" in again.stderr
