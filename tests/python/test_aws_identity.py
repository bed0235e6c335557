"""The AWS side of keks with the real `aws` CLI and boto3: generated credentials in env.sh,
STS GetCallerIdentity, and SigV4 failures answered with AWS's error codes."""

import datetime
import os
import subprocess

import boto3
import botocore
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def aws(keks, *args, env_overrides=None):
    env = dict(os.environ)
    env.update({k: v for k, v in keks.env.items() if k.startswith("AWS_")})
    env.update(env_overrides or {})
    env.pop("AWS_PROFILE", None)
    venv_bin = os.path.dirname(os.path.realpath(__import__("sys").executable))
    return subprocess.run([os.path.join(venv_bin, "aws"), *args, "--output", "json"], env=env, capture_output=True, text=True)


def test_env_sh_has_generated_credentials(keks):
    env = keks.env
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"].startswith("AKIA") and len(env["AWS_ACCESS_KEY_ID"]) == 20
    assert len(env["AWS_SECRET_ACCESS_KEY"]) == 40
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


def test_aws_cli_get_caller_identity(keks):
    out = aws(keks, "sts", "get-caller-identity")
    assert out.returncode == 0, out.stderr
    import json

    identity = json.loads(out.stdout)
    assert len(identity["Account"]) == 12 and identity["Account"].isdigit()
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:root"


def test_credentials_survive_a_restart(keks):
    before = dict(keks.env)
    keks.stop()
    keks.start()
    assert keks.env["AWS_ACCESS_KEY_ID"] == before["AWS_ACCESS_KEY_ID"]
    assert aws(keks, "sts", "get-caller-identity").returncode == 0


def test_bad_credentials_are_refused(keks):
    wrong_secret = aws(keks, "sts", "get-caller-identity", env_overrides={"AWS_SECRET_ACCESS_KEY": "x" * 40})
    assert wrong_secret.returncode != 0 and "SignatureDoesNotMatch" in wrong_secret.stderr
    unknown_key = aws(keks, "sts", "get-caller-identity", env_overrides={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"})
    assert unknown_key.returncode != 0 and "InvalidClientTokenId" in unknown_key.stderr


def sts_client(keks, **overrides):
    env = keks.env
    return boto3.client(
        "sts",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=overrides.get("key", env["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=overrides.get("secret", env["AWS_SECRET_ACCESS_KEY"]),
    )


def test_boto3_get_caller_identity(keks):
    identity = sts_client(keks).get_caller_identity()
    assert identity["Arn"].endswith(":root")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(keks, secret="y" * 40).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def signed(keks, when):
    """A GetCallerIdentity request signed at `when`."""
    env = keks.env
    request = AWSRequest(method="POST", url=env["AWS_ENDPOINT_URL"] + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    auth = SigV4Auth(Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]), "sts", env["AWS_DEFAULT_REGION"])
    original = botocore.auth.datetime.datetime

    class Frozen(original):
        @classmethod
        def utcnow(cls):
            return when.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None):
            return when if tz else when.replace(tzinfo=None)

    botocore.auth.datetime.datetime = Frozen
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.datetime.datetime = original
    return request


def test_signatures_more_than_15_minutes_off_are_refused(keks):
    now = datetime.datetime.now(datetime.timezone.utc)
    fresh = signed(keks, now - datetime.timedelta(minutes=5))
    ok = requests.post(fresh.url, data=fresh.body, headers=dict(fresh.headers))
    assert ok.status_code == 200, ok.text
    stale = signed(keks, now - datetime.timedelta(minutes=20))
    refused = requests.post(stale.url, data=stale.body, headers=dict(stale.headers))
    assert refused.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in refused.text and "Signature expired" in refused.text
    future = signed(keks, now + datetime.timedelta(minutes=20))
    assert requests.post(future.url, data=future.body, headers=dict(future.headers)).status_code == 403


def test_unsigned_and_host_unsigned_requests_are_refused(keks):
    url = keks.env["AWS_ENDPOINT_URL"] + "/"
    unsigned = requests.post(url, data="Action=GetCallerIdentity")
    assert unsigned.status_code == 403 and unsigned.headers.get("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    request = signed(keks, datetime.datetime.now(datetime.timezone.utc))
    headers = dict(request.headers)
    headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=content-type;x-amz-date")
    refused = requests.post(request.url, data=request.body, headers=headers)
    assert refused.status_code == 400 and "IncompleteSignature" in refused.text, refused.text
