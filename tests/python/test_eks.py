"""The EKS API end to end with the real `aws` CLI, boto3 and kubectl: create-cluster with
subnets from describe-subnets, waiters, update-kubeconfig and `aws eks get-token`, access
entries and aws-auth deciding who may do what, token checks, updates, deletion, bad input."""

import base64
import datetime
import json
import os
import subprocess
import sys
import time
from unittest import mock

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

VENV_BIN = os.path.dirname(os.path.realpath(sys.executable))


def aws_env(keks, **overrides):
    env = dict(os.environ)
    env.update({k: v for k, v in keks.env.items() if k.startswith("AWS_")})
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.update(overrides)
    return env


def aws(keks, *args, env=None):
    out = subprocess.run([os.path.join(VENV_BIN, "aws"), *args, "--output", "json"],
                         env=env or aws_env(keks), capture_output=True, text=True)
    return out


def aws_ok(keks, *args, env=None):
    out = aws(keks, *args, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def kubectl(kubeconfig, *args, env):
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], env=env, capture_output=True, text=True,
                          timeout=60)


def eks(keks, **config):
    return boto3.client("eks", endpoint_url=keks.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id=keks.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keks.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(**config) if config else None)


def private_subnets(keks):
    subnets = aws_ok(keks, "ec2", "describe-subnets")["Subnets"]
    return [s["SubnetId"] for s in subnets if not s["MapPublicIpOnLaunch"]]


def account_id(keks):
    return aws_ok(keks, "sts", "get-caller-identity")["Account"]


TRUST_EKS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "eks.amazonaws.com"}}]})


def cluster_role(keks):
    """The IAM role clusters are created with (EKS requires it to exist)."""
    client = boto3.client("iam", endpoint_url=keks.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id=keks.env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=keks.env["AWS_SECRET_ACCESS_KEY"])
    try:
        return client.get_role(RoleName="eks-cluster")["Role"]["Arn"]
    except client.exceptions.NoSuchEntityException:
        return client.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=TRUST_EKS)["Role"]["Arn"]


def create_cluster(keks, name, *extra):
    subnets = ",".join(private_subnets(keks))
    role = cluster_role(keks)
    out = aws_ok(keks, "eks", "create-cluster", "--name", name, "--role-arn", role,
                 "--resources-vpc-config", f"subnetIds={subnets}", *extra)
    assert out["cluster"]["status"] == "CREATING"
    assert out["cluster"]["certificateAuthority"] == {}
    aws_ok(keks, "eks", "wait", "cluster-active", "--name", name)
    return out["cluster"]


def kubeconfig_for(keks, name):
    path = os.path.join(keks.data_dir, f"{name}.eks.kubeconfig")
    out = aws(keks, "eks", "update-kubeconfig", "--name", name, "--kubeconfig", path)
    assert out.returncode == 0, out.stderr
    return path


def get_token(cluster, access_key, secret, endpoint, session_token=None, signed_at=None):
    """A token exactly as `aws eks get-token` makes it, optionally signed at another time."""
    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret,
                                    aws_session_token=session_token, region_name="us-east-1")
    sts = session.client("sts", endpoint_url=endpoint)

    def add_cluster_header(request, **_):
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    if signed_at is None:
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    else:
        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return signed_at

        with mock.patch("botocore.auth.datetime.datetime", Frozen):
            url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def signed(keks, method, path, body):
    """A raw EKS request signed with the root credentials (to send what boto3 would refuse)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    creds = botocore.credentials.Credentials(keks.env["AWS_ACCESS_KEY_ID"], keks.env["AWS_SECRET_ACCESS_KEY"])
    req = AWSRequest(method=method, url=keks.env["AWS_ENDPOINT_URL"] + path, data=body.encode(),
                     headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "eks", "us-east-1").add_auth(req)
    return requests.request(method, req.url, data=req.body, headers=dict(req.headers), timeout=10)


def api_status(keks, cluster, token):
    described = aws_ok(keks, "eks", "describe-cluster", "--name", cluster)["cluster"]
    ca = os.path.join(keks.data_dir, f"{cluster}.ca.pem")
    with open(ca, "wb") as f:
        f.write(base64.b64decode(described["certificateAuthority"]["data"]))
    r = requests.get(described["endpoint"] + "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"},
                     verify=ca, timeout=10)
    return r.status_code


def test_create_cluster_then_kubectl_through_get_token(keks):
    cluster = create_cluster(keks, "demo", "--access-config", "authenticationMode=API_AND_CONFIG_MAP")
    described = aws_ok(keks, "eks", "describe-cluster", "--name", "demo")["cluster"]
    assert described["status"] == "ACTIVE"
    assert described["arn"] == f"arn:aws:eks:us-east-1:{account_id(keks)}:cluster/demo"
    assert described["endpoint"].startswith("https://127.0.0.1:") and described["endpoint"].endswith("/clusters/demo")
    assert described["certificateAuthority"]["data"]
    assert described["identity"]["oidc"]["issuer"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    vpc = described["resourcesVpcConfig"]
    assert vpc["vpcId"].startswith("vpc-") and vpc["clusterSecurityGroupId"].startswith("sg-")
    assert sorted(vpc["subnetIds"]) == sorted(cluster["resourcesVpcConfig"]["subnetIds"])
    assert described["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "10.100.0.0/16"
    assert described["platformVersion"].startswith("eks.")
    assert described["accessConfig"] == {"bootstrapClusterCreatorAdminPermissions": True,
                                         "authenticationMode": "API_AND_CONFIG_MAP"}
    # The cluster security group is a real EC2 security group of the VPC.
    groups = aws_ok(keks, "ec2", "describe-security-groups", "--group-ids", vpc["clusterSecurityGroupId"])
    assert groups["SecurityGroups"][0]["VpcId"] == vpc["vpcId"]

    kc = kubeconfig_for(keks, "demo")
    env = aws_env(keks)
    out = kubectl(kc, "get", "namespaces", env=env)
    assert out.returncode == 0, out.stderr
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"]:
        assert ns in out.stdout
    assert kubectl(kc, "get", "pods", "-A", env=env).returncode == 0
    out = kubectl(kc, "get", "deployment", "coredns", "-n", "kube-system", "-o", "json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["spec"]["replicas"] == 2
    out = kubectl(kc, "get", "daemonsets", "-n", "kube-system", "-o", "name", env=env)
    assert "daemonset.apps/kube-proxy" in out.stdout and "daemonset.apps/aws-node" in out.stdout
    assert kubectl(kc, "get", "configmap", "aws-auth", "-n", "kube-system", env=env).returncode == 0
    whoami = kubectl(kc, "auth", "whoami", "-o", "json", env=env)
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    root_arn = f"arn:aws:iam::{account_id(keks)}:root"
    assert user["username"] == root_arn and user["extra"]["canonicalArn"] == [root_arn]
    # The creator holds the cluster-admin access entry EKS gives it.
    entries = aws_ok(keks, "eks", "list-access-entries", "--cluster-name", "demo")["accessEntries"]
    assert entries == [f"arn:aws:iam::{account_id(keks)}:root"]
    policies = aws_ok(keks, "eks", "list-associated-access-policies", "--cluster-name", "demo",
                      "--principal-arn", entries[0])["associatedAccessPolicies"]
    assert policies[0]["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_access_entry_lets_a_second_user_view_but_not_create(keks):
    create_cluster(keks, "shared", "--access-config", "authenticationMode=API_AND_CONFIG_MAP")
    aws_ok(keks, "iam", "create-user", "--user-name", "bob")
    key = aws_ok(keks, "iam", "create-access-key", "--user-name", "bob")["AccessKey"]
    bob_arn = f"arn:aws:iam::{account_id(keks)}:user/bob"
    kc = kubeconfig_for(keks, "shared")
    bob = aws_env(keks, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])

    out = kubectl(kc, "get", "pods", "-A", env=bob)
    assert out.returncode != 0
    assert "Unauthorized" in out.stderr or "provide credentials" in out.stderr, out.stderr

    entry = aws_ok(keks, "eks", "create-access-entry", "--cluster-name", "shared", "--principal-arn", bob_arn)
    assert entry["accessEntry"]["username"] == bob_arn and entry["accessEntry"]["type"] == "STANDARD"
    # An entry without policies authenticates but authorizes nothing.
    out = kubectl(kc, "get", "pods", "-A", env=bob)
    assert out.returncode != 0 and "Forbidden" in out.stderr, out.stderr

    aws_ok(keks, "eks", "associate-access-policy", "--cluster-name", "shared", "--principal-arn", bob_arn,
           "--policy-arn", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
           "--access-scope", "type=cluster")
    out = kubectl(kc, "get", "pods", "-A", env=bob)
    assert out.returncode == 0, out.stderr
    out = kubectl(kc, "create", "namespace", "bobs", env=bob)
    assert out.returncode != 0 and "Forbidden" in out.stderr, out.stderr
    assert kubectl(kc, "auth", "can-i", "list", "deployments", "-A", env=bob).stdout.strip() == "yes"
    assert kubectl(kc, "auth", "can-i", "create", "deployments", env=bob).stdout.strip() == "no"

    # Namespace scope: edit in one namespace only.
    aws_ok(keks, "eks", "associate-access-policy", "--cluster-name", "shared", "--principal-arn", bob_arn,
           "--policy-arn", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
           "--access-scope", "type=namespace,namespaces=default")
    assert kubectl(kc, "create", "configmap", "c1", "-n", "default", env=bob).returncode == 0
    assert kubectl(kc, "create", "configmap", "c1", "-n", "kube-public", env=bob).returncode != 0

    aws_ok(keks, "eks", "delete-access-entry", "--cluster-name", "shared", "--principal-arn", bob_arn)
    out = kubectl(kc, "get", "pods", "-A", env=bob)
    assert out.returncode != 0


def test_aws_auth_maps_an_assumed_role_in_config_map_mode(keks):
    create_cluster(keks, "cm")  # the API's default authentication mode: CONFIG_MAP
    described = aws_ok(keks, "eks", "describe-cluster", "--name", "cm")["cluster"]
    assert described["accessConfig"]["authenticationMode"] == "CONFIG_MAP"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"AWS": account_id(keks)}}]})
    role = aws_ok(keks, "iam", "create-role", "--role-name", "deployer", "--assume-role-policy-document", trust)["Role"]
    creds = aws_ok(keks, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "ci")["Credentials"]
    deployer = aws_env(keks, AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                       AWS_SESSION_TOKEN=creds["SessionToken"])
    kc = kubeconfig_for(keks, "cm")
    admin = aws_env(keks)
    assert kubectl(kc, "get", "ns", env=admin).returncode == 0  # the creator, invisibly mapped
    assert kubectl(kc, "get", "ns", env=deployer).returncode != 0

    # Access entries are refused in CONFIG_MAP mode.
    out = aws(keks, "eks", "create-access-entry", "--cluster-name", "cm", "--principal-arn", role["Arn"])
    assert out.returncode != 0 and "InvalidRequestException" in out.stderr

    map_roles = f"- rolearn: {role['Arn']}\n  username: deployer:{{{{SessionName}}}}\n  groups:\n  - deployers\n"
    patch = json.dumps({"data": {"mapRoles": map_roles}})
    assert kubectl(kc, "patch", "configmap", "aws-auth", "-n", "kube-system", "--type", "merge", "-p", patch,
                   env=admin).returncode == 0
    assert kubectl(kc, "create", "clusterrolebinding", "deployers-view", "--clusterrole", "view",
                   "--group", "deployers", env=admin).returncode == 0
    out = kubectl(kc, "get", "ns", env=deployer)
    assert out.returncode == 0, out.stderr
    assert kubectl(kc, "create", "ns", "nope", env=deployer).returncode != 0
    out = kubectl(kc, "auth", "can-i", "list", "pods", "--as", "deployer:ci", "--as-group", "deployers", env=admin)
    assert out.stdout.strip() == "yes"


def test_tokens_for_another_cluster_expired_or_tampered_are_refused(keks):
    create_cluster(keks, "alpha", "--access-config", "authenticationMode=API")
    endpoint = keks.env["AWS_ENDPOINT_URL"]
    key, secret = keks.env["AWS_ACCESS_KEY_ID"], keks.env["AWS_SECRET_ACCESS_KEY"]
    good = get_token("alpha", key, secret, endpoint)
    assert api_status(keks, "alpha", good) == 200

    assert api_status(keks, "alpha", get_token("beta", key, secret, endpoint)) == 401
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    assert api_status(keks, "alpha", get_token("alpha", key, secret, endpoint, signed_at=old)) == 401
    url = base64.urlsafe_b64decode(good[len("k8s-aws-v1."):] + "==").decode()
    signature = url.split("X-Amz-Signature=")[1][:64]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = "k8s-aws-v1." + base64.urlsafe_b64encode(url.replace(signature, flipped).encode()).decode().rstrip("=")
    assert api_status(keks, "alpha", tampered) == 401
    assert api_status(keks, "alpha", get_token("alpha", key, "x" * 40, endpoint)) == 401
    assert api_status(keks, "alpha", "k8s-aws-v1.bm90IGEgdXJs") == 401


def test_version_update_runs_to_successful_then_delete(keks):
    create_cluster(keks, "upgrade", "--kubernetes-version", "1.33",
                   "--kubernetes-network-config", "serviceIpv4Cidr=172.20.0.0/16")
    out = aws(keks, "eks", "update-cluster-version", "--name", "upgrade", "--kubernetes-version", "1.31")
    assert out.returncode != 0 and "InvalidParameterException" in out.stderr
    update = aws_ok(keks, "eks", "update-cluster-version", "--name", "upgrade", "--kubernetes-version", "1.34")["update"]
    assert update["type"] == "VersionUpdate" and update["status"] == "InProgress"
    assert {"type": "Version", "value": "1.34"} in update["params"]
    deadline = time.time() + 20
    while True:
        described = aws_ok(keks, "eks", "describe-update", "--name", "upgrade", "--update-id", update["id"])["update"]
        if described["status"] == "Successful":
            break
        assert time.time() < deadline, described
        time.sleep(0.1)
    cluster = aws_ok(keks, "eks", "describe-cluster", "--name", "upgrade")["cluster"]
    assert cluster["version"] == "1.34" and cluster["status"] == "ACTIVE"
    assert aws_ok(keks, "eks", "list-updates", "--name", "upgrade")["updateIds"] == [update["id"]]
    kc = kubeconfig_for(keks, "upgrade")
    version = json.loads(kubectl(kc, "version", "-o", "json", env=aws_env(keks)).stdout)
    assert version["serverVersion"]["minor"].startswith("34")
    # Services take addresses from the cluster's own service range.
    services = json.loads(kubectl(kc, "get", "services", "-A", "-o", "json", env=aws_env(keks)).stdout)["items"]
    ips = {s["metadata"]["name"]: s["spec"]["clusterIP"] for s in services}
    assert ips == {"kubernetes": "172.20.0.1", "kube-dns": "172.20.0.10"}

    deleted = aws_ok(keks, "eks", "delete-cluster", "--name", "upgrade")["cluster"]
    assert deleted["status"] == "DELETING"
    aws_ok(keks, "eks", "wait", "cluster-deleted", "--name", "upgrade")
    out = aws(keks, "eks", "describe-cluster", "--name", "upgrade")
    assert out.returncode != 0 and "No cluster found for name: upgrade." in out.stderr
    assert kubectl(kc, "get", "ns", env=aws_env(keks)).returncode != 0


def test_boto3_waiters_paginators_and_tags(keks):
    client = eks(keks)
    subnets = private_subnets(keks)
    role = cluster_role(keks)
    for i in range(5):
        client.create_cluster(name=f"c{i}", roleArn=role, resourcesVpcConfig={"subnetIds": subnets},
                              tags={"team": "platform"})
    for i in range(5):
        client.get_waiter("cluster_active").wait(name=f"c{i}", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    pages = list(client.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [c for p in pages for c in p["clusters"]] == [f"c{i}" for i in range(5)]
    arn = client.describe_cluster(name="c0")["cluster"]["arn"]
    client.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "platform", "env": "dev"}
    client.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}
    versions = client.describe_cluster_versions()["clusterVersions"]
    assert any(v["defaultVersion"] for v in versions)
    names = [p["name"] for p in client.list_access_policies()["accessPolicies"]]
    assert "AmazonEKSViewPolicy" in names and "AmazonEKSClusterAdminPolicy" in names
    client.delete_cluster(name="c4")
    client.get_waiter("cluster_deleted").wait(name="c4", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert "c4" not in client.list_clusters()["clusters"]


def test_bad_input_gets_eks_errors_and_changes_nothing(keks):
    strict = eks(keks)
    loose = eks(keks, parameter_validation=False)
    role = cluster_role(keks)
    subnets = private_subnets(keks)

    def error(call, **kwargs):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kwargs)
        return e.value.response

    r = error(loose.create_cluster, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    assert r["Error"]["Code"] == "InvalidParameterException" and "'name'" in r["Error"]["Message"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    resp = signed(keks, "POST", "/clusters", json.dumps({"name": "x", "roleArn": role,
                                                         "resourcesVpcConfig": {"subnetIds": "subnet-1"}}))
    assert resp.status_code == 400 and resp.headers["x-amzn-ErrorType"] == "InvalidParameterException"
    assert "resourcesVpcConfig.subnetIds" in resp.json()["message"]
    r = error(loose.create_cluster, name="x", roleArn=role, resourcesVpcConfig={"subnetIds": subnets},
              kubernetesNetworkConfig={"ipFamily": "ipv5"})
    assert "ipFamily" in r["Error"]["Message"]
    r = error(strict.create_cluster, name="-bad", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    assert r["Error"]["Code"] == "InvalidParameterException"
    r = error(strict.create_cluster, name="x", roleArn="not-an-arn", resourcesVpcConfig={"subnetIds": subnets})
    assert r["Error"]["Code"] == "InvalidParameterException" and "role ARN" in r["Error"]["Message"]
    missing_role = f"arn:aws:iam::{account_id(keks)}:role/missing"
    r = error(strict.create_cluster, name="x", roleArn=missing_role, resourcesVpcConfig={"subnetIds": subnets})
    assert "could not be assumed because it does not exist" in r["Error"]["Message"]
    r = error(strict.create_cluster, name="x", roleArn=role, resourcesVpcConfig={"subnetIds": subnets[:1]})
    assert "at least two different AZs" in r["Error"]["Message"]
    r = error(strict.create_cluster, name="x", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0", subnets[0]]})
    assert "subnet-0123456789abcdef0" in r["Error"]["Message"]
    r = error(strict.create_cluster, name="x", roleArn=role, version="1.12", resourcesVpcConfig={"subnetIds": subnets})
    assert "unsupported Kubernetes version" in r["Error"]["Message"]
    r = error(strict.describe_cluster, name="missing")
    assert r["Error"]["Code"] == "ResourceNotFoundException" and r["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert r["Error"]["Message"] == "No cluster found for name: missing."
    r = error(strict.delete_cluster, name="missing")
    assert r["Error"]["Code"] == "ResourceNotFoundException"
    r = error(loose.list_clusters, maxResults=1000)
    assert r["Error"]["Code"] == "InvalidParameterException" and "maxResults" in r["Error"]["Message"]
    assert strict.list_clusters()["clusters"] == []

    # Malformed JSON, signed properly.
    resp = signed(keks, "POST", "/clusters", "{not json")
    assert resp.status_code == 400 and resp.headers["x-amzn-ErrorType"].startswith("SerializationException")
    # Unsigned: refused before anything is read.
    resp = requests.get(keks.env["AWS_ENDPOINT_URL"] + "/clusters", timeout=10)
    assert resp.status_code == 403

    # Wrong state: a second update while one is in progress; a duplicate name.
    strict.create_cluster(name="busy", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    strict.get_waiter("cluster_active").wait(name="busy", WaiterConfig={"Delay": 1})
    r = error(strict.create_cluster, name="busy", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    assert r["Error"]["Code"] == "ResourceInUseException" and r["ResponseMetadata"]["HTTPStatusCode"] == 409
    strict.update_cluster_config(name="busy", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]})
    r = error(strict.update_cluster_version, name="busy", version="1.34")
    assert r["Error"]["Code"] in ("ResourceInUseException", "InvalidParameterException")
    r = error(strict.create_access_entry, clusterName="busy", principalArn="arn:aws:iam::123456789012:role/x")
    assert r["Error"]["Code"] == "InvalidRequestException"
    assert strict.list_clusters()["clusters"] == ["busy"]
    r = error(strict.list_tags_for_resource, resourceArn="arn:aws:eks:us-east-1:000000000000:cluster/none")
    assert r["Error"]["Code"] == "NotFoundException"
    r = error(strict.describe_addon, clusterName="busy", addonName="vpc-cni")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_clusters_survive_a_restart(keks):
    create_cluster(keks, "durable", "--access-config", "authenticationMode=API_AND_CONFIG_MAP")
    before = aws_ok(keks, "eks", "describe-cluster", "--name", "durable")["cluster"]
    keks.stop()
    keks.start()
    after = aws_ok(keks, "eks", "describe-cluster", "--name", "durable")["cluster"]
    assert after["arn"] == before["arn"] and after["createdAt"] == before["createdAt"]
    assert after["status"] == "ACTIVE"
    kc = kubeconfig_for(keks, "durable")
    out = kubectl(kc, "get", "deployment", "coredns", "-n", "kube-system", env=aws_env(keks))
    assert out.returncode == 0, out.stderr


def test_a_cluster_wakes_on_its_first_authenticated_request_and_runs_after_a_restart(keks):
    # A new cluster is dormant (keks holds its record only); a request without valid
    # credentials is refused and wakes nothing; the first authenticated one writes its
    # contents and starts its controllers, which then run across restarts.
    create_cluster(keks, "sleeper", "--access-config", "authenticationMode=API")
    assert api_status(keks, "sleeper", "not-a-token") == 401
    kc = kubeconfig_for(keks, "sleeper")
    env = aws_env(keks)

    def coredns_pods():
        out = kubectl(kc, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "name", env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    deadline = time.time() + 20
    while len(coredns_pods()) != 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(coredns_pods()) == 2  # the Deployment and ReplicaSet controllers ran
    namespaces = kubectl(kc, "get", "namespaces", "-o", "name", env=env).stdout.split()
    assert "namespace/kube-node-lease" in namespaces
    keks.process.kill()
    keks.process.wait(timeout=15)
    keks.start()
    env = aws_env(keks)
    kc = kubeconfig_for(keks, "sleeper")  # the restarted keks listens on new ports
    out = kubectl(kc, "delete", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--wait=false", env=env)
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 20
    while time.time() < deadline:
        out = kubectl(kc, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json", env=env)
        live = [p for p in json.loads(out.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]
        if len(live) == 2:
            break
        time.sleep(0.2)
    assert len(live) == 2  # replaced by the ReplicaSet controller after the restart


def test_acknowledged_eks_writes_survive_kill_9(keks):
    client = eks(keks)
    subnets = private_subnets(keks)
    role = cluster_role(keks)
    client.create_cluster(name="k9", roleArn=role, resourcesVpcConfig={"subnetIds": subnets},
                          accessConfig={"authenticationMode": "API"})
    client.get_waiter("cluster_active").wait(name="k9", WaiterConfig={"Delay": 1})
    iam = boto3.client("iam", endpoint_url=keks.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id=keks.env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=keks.env["AWS_SECRET_ACCESS_KEY"])
    arn = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST_EKS)["Role"]["Arn"]
    r = None
    try:
        client.create_access_entry(clusterName="k9", principalArn=f"arn:aws:iam::{account_id(keks)}:role/ghost")
    except botocore.exceptions.ClientError as e:
        r = e.response
    assert r and r["Error"]["Code"] == "InvalidParameterException" and "could not be found" in r["Error"]["Message"]
    client.create_access_entry(clusterName="k9", principalArn=arn, kubernetesGroups=["readers"])
    client.tag_resource(resourceArn=client.describe_cluster(name="k9")["cluster"]["arn"], tags={"k": "v"})
    keks.process.kill()
    keks.process.wait(timeout=15)
    keks.start()
    client = eks(keks)
    cluster = client.describe_cluster(name="k9")["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["tags"] == {"k": "v"}
    entry = client.describe_access_entry(clusterName="k9", principalArn=arn)["accessEntry"]
    assert entry["kubernetesGroups"] == ["readers"]
