"""IAM and STS AssumeRole with the real `aws` CLI and boto3: users and their access keys,
roles, acting as a user and as an assumed role (header-signed and presigned), errors with
IAM's codes and statuses and no change of state, and everything surviving a restart."""

import datetime
import json
import os
import subprocess
import sys

import boto3
import botocore
import pytest
import requests

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


def aws(keks, *args, env_overrides=None):
    env = dict(os.environ)
    env.update({k: v for k, v in keks.env.items() if k.startswith("AWS_")})
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    env.update(env_overrides or {})
    venv_bin = os.path.dirname(os.path.realpath(sys.executable))
    return subprocess.run([os.path.join(venv_bin, "aws"), *args, "--output", "json"], env=env, capture_output=True, text=True)


def aws_json(keks, *args, **kwargs):
    out = aws(keks, *args, **kwargs)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def client(keks, service, key=None, secret=None, token=None):
    env = keks.env
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=key or env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=token,
    )


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Message"]


def test_users_and_access_keys_with_the_cli(keks):
    account = aws_json(keks, "sts", "get-caller-identity")["Account"]
    user = aws_json(keks, "iam", "create-user", "--user-name", "alice", "--path", "/team/", "--tags", "Key=owner,Value=platform")["User"]
    assert user["Arn"] == f"arn:aws:iam::{account}:user/team/alice"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Tags"] == [{"Key": "owner", "Value": "platform"}]
    assert aws_json(keks, "iam", "get-user", "--user-name", "alice")["User"]["UserId"] == user["UserId"]

    key = aws_json(keks, "iam", "create-access-key", "--user-name", "alice")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and key["Status"] == "Active" and len(key["SecretAccessKey"]) == 40
    as_alice = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    identity = aws_json(keks, "sts", "get-caller-identity", env_overrides=as_alice)
    assert identity == {"UserId": user["UserId"], "Account": account, "Arn": user["Arn"]}
    assert aws_json(keks, "iam", "get-user", env_overrides=as_alice)["User"]["UserName"] == "alice"

    aws_json(keks, "iam", "create-access-key", "--user-name", "alice")
    third = aws(keks, "iam", "create-access-key", "--user-name", "alice")
    assert third.returncode != 0 and "LimitExceeded" in third.stderr
    listed = aws_json(keks, "iam", "list-access-keys", "--user-name", "alice")["AccessKeyMetadata"]
    assert len(listed) == 2 and key["AccessKeyId"] in [k["AccessKeyId"] for k in listed]

    conflict = aws(keks, "iam", "delete-user", "--user-name", "alice")
    assert conflict.returncode != 0 and "DeleteConflict" in conflict.stderr
    for k in listed:
        aws_json(keks, "iam", "delete-access-key", "--user-name", "alice", "--access-key-id", k["AccessKeyId"])
    refused = aws(keks, "sts", "get-caller-identity", env_overrides=as_alice)
    assert refused.returncode != 0 and "InvalidClientTokenId" in refused.stderr
    aws_json(keks, "iam", "delete-user", "--user-name", "alice")
    gone = aws(keks, "iam", "get-user", "--user-name", "alice")
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


def test_user_errors_leave_no_trace(keks):
    iam = client(keks, "iam")
    iam.create_user(UserName="bob")
    assert error_of(iam.create_user, UserName="BOB")[:2] == ("EntityAlreadyExists", 409)
    code, status, message = error_of(iam.create_user, UserName="no spaces")
    assert (code, status) == ("ValidationError", 400) and "'userName'" in message
    assert error_of(iam.create_user, UserName="x", Path="no-slashes")[:2] == ("ValidationError", 400)
    assert error_of(iam.get_user, UserName="nobody")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.delete_access_key, UserName="bob", AccessKeyId="AKIAIOSFODNN7EXAMPLE")[:2] == ("NoSuchEntity", 404)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["bob"]
    assert error_of(iam.create_group, GroupName="g")[:2] == ("NotImplemented", 501)
    root_keys = iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in root_keys] == [keks.env["AWS_ACCESS_KEY_ID"]]


def test_session_token_with_long_term_keys_is_refused(keks):
    sts = client(keks, "sts", token="IQoJb3JpZ2luX2VjEnotarealtoken")
    assert error_of(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)


def test_roles_and_pagination(keks):
    iam = client(keks, "iam")
    account = client(keks, "sts").get_caller_identity()["Account"]
    role = iam.create_role(RoleName="eks-cluster", Path="/eks/", AssumeRolePolicyDocument=TRUST, Description="cluster role",
                           MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/eks/eks-cluster"
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    got = iam.get_role(RoleName="eks-cluster")["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "cluster role"
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]

    assert error_of(iam.create_role, RoleName="eks-cluster", AssumeRolePolicyDocument=TRUST)[:2] == ("EntityAlreadyExists", 409)
    assert error_of(iam.create_role, RoleName="bad", AssumeRolePolicyDocument="{not json")[:2] == ("MalformedPolicyDocument", 400)
    code, status, message = error_of(iam.create_role, RoleName="bad", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=50000)
    assert (code, status) == ("ValidationError", 400) and "maxSessionDuration" in message
    assert error_of(iam.get_role, RoleName="bad")[:2] == ("NoSuchEntity", 404)

    for i in range(4):
        iam.create_role(RoleName=f"node-{i}", AssumeRolePolicyDocument=TRUST)
    first = iam.list_roles(MaxItems=2)
    assert first["IsTruncated"] and len(first["Roles"]) == 2
    second = iam.list_roles(MaxItems=2, Marker=first["Marker"])
    names = [r["RoleName"] for r in first["Roles"] + second["Roles"]]
    assert len(set(names)) == 4
    everything = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}) for r in page["Roles"]]
    assert sorted(everything) == ["eks-cluster", "node-0", "node-1", "node-2", "node-3"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/eks/")["Roles"]] == ["eks-cluster"]

    iam.delete_role(RoleName="node-0")
    assert error_of(iam.delete_role, RoleName="node-0")[:2] == ("NoSuchEntity", 404)


def test_assume_role_and_act_as_it(keks):
    iam = client(keks, "iam")
    account = client(keks, "sts").get_caller_identity()["Account"]
    role = iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=TRUST)["Role"]

    out = aws_json(keks, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "build-42")
    creds, assumed = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert assumed == {"Arn": f"arn:aws:sts::{account}:assumed-role/deployer/build-42", "AssumedRoleId": f"{role['RoleId']}:build-42"}

    as_role = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_SESSION_TOKEN": creds["SessionToken"]}
    identity = aws_json(keks, "sts", "get-caller-identity", env_overrides=as_role)
    assert identity == {"UserId": f"{role['RoleId']}:build-42", "Account": account, "Arn": assumed["Arn"]}
    # The role's session can use the other services too.
    assert aws_json(keks, "ec2", "describe-vpcs", env_overrides=as_role)["Vpcs"]

    # Without the session token, or with another, the temporary key is refused.
    no_token = dict(as_role)
    no_token.pop("AWS_SESSION_TOKEN")
    refused = aws(keks, "sts", "get-caller-identity", env_overrides=no_token)
    assert refused.returncode != 0 and "InvalidClientTokenId" in refused.stderr
    sts = client(keks, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-4] + "AAAA")
    assert error_of(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)

    # A presigned GetCallerIdentity URL (how EKS tokens are made) carries the session token.
    sts = client(keks, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    assert "X-Amz-Security-Token=" in url
    answer = requests.get(url)
    assert answer.status_code == 200, answer.text
    assert f"<Arn>{assumed['Arn']}</Arn>" in answer.text
    stripped = "&".join(p for p in url.split("&") if not p.startswith("X-Amz-Security-Token="))
    refused = requests.get(stripped)
    assert refused.status_code == 403 and "InvalidClientTokenId" in refused.text

    # Bad input: the role must exist, names and durations must fit.
    code, status, message = error_of(client(keks, "sts").assume_role, RoleArn=f"arn:aws:iam::{account}:role/nope", RoleSessionName="s1")
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f"is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{account}:role/nope")
    assert error_of(client(keks, "sts").assume_role, RoleArn=role["Arn"], RoleSessionName="bad name!")[:2] == ("ValidationError", 400)
    code, _, message = error_of(client(keks, "sts").assume_role, RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    assert code == "ValidationError" and "MaxSessionDuration" in message
    short = client(keks, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)["Credentials"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert 850 <= (short["Expiration"] - now).total_seconds() <= 905


def test_iam_state_survives_kill_9(keks):
    iam = client(keks, "iam")
    user = iam.create_user(UserName="persisted")["User"]
    key = iam.create_access_key(UserName="persisted")["AccessKey"]
    role = iam.create_role(RoleName="persisted-role", AssumeRolePolicyDocument=TRUST)["Role"]
    creds = client(keks, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="before-restart")["Credentials"]
    account = client(keks, "sts").get_caller_identity()["Account"]

    keks.process.kill()  # kill -9: every acknowledged write must be in the store
    keks.process.wait()
    keks.start()

    iam = client(keks, "iam")
    assert client(keks, "sts").get_caller_identity()["Account"] == account
    assert iam.get_user(UserName="persisted")["User"]["UserId"] == user["UserId"]
    assert iam.get_role(RoleName="persisted-role")["Role"]["RoleId"] == role["RoleId"]
    as_user = client(keks, "sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert as_user["Arn"] == user["Arn"]
    as_role = client(keks, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
    assert as_role["Arn"].endswith(":assumed-role/persisted-role/before-restart")


def test_managed_policies_on_roles(keks):
    iam = client(keks, "iam")
    iam.create_role(RoleName="eks-node", AssumeRolePolicyDocument=TRUST)
    policies = ["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]
    for arn in policies:
        out = aws(keks, "iam", "attach-role-policy", "--role-name", "eks-node", "--policy-arn", arn)
        assert out.returncode == 0, out.stderr
    attached = iam.list_attached_role_policies(RoleName="eks-node")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted(policies)
    assert {p["PolicyName"] for p in attached} == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}
    paged = [p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName="eks-node", PaginationConfig={"PageSize": 2}) for p in page["AttachedPolicies"]]
    assert sorted(paged) == sorted(policies)

    assert error_of(iam.attach_role_policy, RoleName="eks-node", PolicyArn="arn:aws:iam::123456789012:policy/mine")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.attach_role_policy, RoleName="nobody", PolicyArn=policies[0])[:2] == ("NoSuchEntity", 404)
    code, status, message = error_of(iam.delete_role, RoleName="eks-node")
    assert (code, status) == ("DeleteConflict", 409) and "detach all policies" in message
    for arn in policies:
        iam.detach_role_policy(RoleName="eks-node", PolicyArn=arn)
    assert error_of(iam.detach_role_policy, RoleName="eks-node", PolicyArn=policies[0])[:2] == ("NoSuchEntity", 404)
    iam.delete_role(RoleName="eks-node")


@pytest.mark.skipif(not os.environ.get("KEKS_SLOW_TESTS"), reason="waits 15 minutes on the real clock; set KEKS_SLOW_TESTS=1")
def test_expired_session_is_refused_on_the_real_clock(keks):
    """The shortest session is 900 s, so this waits for real; crates/keks-aws/tests/front.rs
    covers expiry at chosen clock times in the normal suite."""
    import time

    role = client(keks, "iam").create_role(RoleName="short", AssumeRolePolicyDocument=TRUST)["Role"]
    creds = client(keks, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="brief", DurationSeconds=900)["Credentials"]
    as_role = client(keks, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert as_role.get_caller_identity()["Arn"].endswith(":assumed-role/short/brief")
    remaining = (creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    time.sleep(max(0, remaining) + 2)
    assert error_of(as_role.get_caller_identity)[:2] == ("ExpiredToken", 403)
    ec2 = client(keks, "ec2", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert error_of(ec2.describe_vpcs)[:2] == ("RequestExpired", 400)


def test_role_updates_inline_policies_and_tags(keks):
    """What Terraform's aws_iam_role reads and writes besides CreateRole/GetRole."""
    iam = client(keks, "iam")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "a", "Value": "1"}])
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(policy))
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["read"]
    got = iam.get_role_policy(RoleName="app", PolicyName="read")
    assert got["PolicyDocument"] == policy and got["RoleName"] == "app"
    assert error_of(iam.get_role_policy, RoleName="app", PolicyName="nope")[:2] == ("NoSuchEntity", 404)
    assert error_of(iam.put_role_policy, RoleName="app", PolicyName="bad", PolicyDocument="[")[:2] == ("MalformedPolicyDocument", 400)
    assert iam.list_instance_profiles_for_role(RoleName="app")["InstanceProfiles"] == []

    iam.tag_role(RoleName="app", Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    iam.untag_role(RoleName="app", TagKeys=["b"])
    assert iam.list_role_tags(RoleName="app")["Tags"] == [{"Key": "a", "Value": "2"}]

    iam.update_role(RoleName="app", Description="updated", MaxSessionDuration=7200)
    trust2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(trust2))
    role = iam.get_role(RoleName="app")["Role"]
    assert (role["Description"], role["MaxSessionDuration"], role["AssumeRolePolicyDocument"]) == ("updated", 7200, trust2)

    code, _, message = error_of(iam.delete_role, RoleName="app")
    assert code == "DeleteConflict" and "delete policies first" in message
    iam.delete_role_policy(RoleName="app", PolicyName="read")
    iam.delete_role(RoleName="app")
