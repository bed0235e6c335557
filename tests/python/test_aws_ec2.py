"""EC2 with the real `aws` CLI and boto3: the default VPC keks creates with the account,
its public and private subnets in three availability zones, the default security group,
id lists, filters, pagination and EC2's error codes; the same ids after a restart."""

import json
import os
import subprocess
import sys

import boto3
import botocore
import pytest


def aws_json(keks, *args):
    env = dict(os.environ)
    env.update({k: v for k, v in keks.env.items() if k.startswith("AWS_")})
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    venv_bin = os.path.dirname(os.path.realpath(sys.executable))
    out = subprocess.run([os.path.join(venv_bin, "aws"), *args, "--output", "json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ec2(keks):
    env = keks.env
    return boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Message"]


def test_default_vpc_and_subnets(keks):
    account = aws_json(keks, "sts", "get-caller-identity")["Account"]
    vpcs = aws_json(keks, "ec2", "describe-vpcs")["Vpcs"]
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16" and vpc["State"] == "available"
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21 and vpc["OwnerId"] == account

    subnets = aws_json(keks, "ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc['VpcId']}")["Subnets"]
    assert len(subnets) == 6
    assert sorted(s["CidrBlock"] for s in subnets) == sorted(f"172.31.{16 * i}.0/20" for i in range(6))
    assert {s["AvailabilityZone"] for s in subnets} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert {s["AvailabilityZoneId"] for s in subnets} == {"use1-az1", "use1-az2", "use1-az4"}
    for s in subnets:
        tags = {t["Key"]: t["Value"] for t in s["Tags"]}
        assert s["SubnetId"].startswith("subnet-") and len(s["SubnetId"]) == 24
        assert s["AvailableIpAddressCount"] == 4091 and s["State"] == "available" and "Name" in tags
        if s["MapPublicIpOnLaunch"]:
            assert tags["kubernetes.io/role/elb"] == "1"
        else:
            assert tags["kubernetes.io/role/internal-elb"] == "1"

    private = aws_json(keks, "ec2", "describe-subnets", "--filters", "Name=tag:kubernetes.io/role/internal-elb,Values=1")["Subnets"]
    assert len(private) == 3 and not any(s["MapPublicIpOnLaunch"] for s in private)
    in_a = aws_json(keks, "ec2", "describe-subnets", "--filters", "Name=availability-zone,Values=us-east-1a",
                    "Name=map-public-ip-on-launch,Values=true")["Subnets"]
    assert len(in_a) == 1 and in_a[0]["DefaultForAz"] is True
    two = aws_json(keks, "ec2", "describe-subnets", "--subnet-ids", private[0]["SubnetId"], private[1]["SubnetId"])["Subnets"]
    assert {s["SubnetId"] for s in two} == {private[0]["SubnetId"], private[1]["SubnetId"]}


def test_zones_and_security_groups(keks):
    zones = aws_json(keks, "ec2", "describe-availability-zones")["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"], z["State"]) for z in zones] == [
        ("us-east-1a", "use1-az1", "available"), ("us-east-1b", "use1-az2", "available"), ("us-east-1c", "use1-az4", "available")]
    only = ec2(keks).describe_availability_zones(ZoneNames=["us-east-1b"])["AvailabilityZones"]
    assert [z["ZoneId"] for z in only] == ["use1-az2"]

    vpc_id = aws_json(keks, "ec2", "describe-vpcs")["Vpcs"][0]["VpcId"]
    groups = aws_json(keks, "ec2", "describe-security-groups", "--filters", f"Name=vpc-id,Values={vpc_id}")["SecurityGroups"]
    assert len(groups) == 1 and groups[0]["GroupName"] == "default" and groups[0]["GroupId"].startswith("sg-")
    by_name = ec2(keks).describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert by_name[0]["GroupId"] == groups[0]["GroupId"]
    by_filter = ec2(keks).describe_security_groups(Filters=[{"Name": "group-name", "Values": ["def*"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_filter] == [groups[0]["GroupId"]]


def test_pagination(keks):
    client = ec2(keks)
    page = client.describe_subnets(MaxResults=5)
    assert len(page["Subnets"]) == 5 and page["NextToken"]
    rest = client.describe_subnets(MaxResults=5, NextToken=page["NextToken"])
    assert len(rest["Subnets"]) == 1 and "NextToken" not in rest
    ids = [s["SubnetId"] for p in client.get_paginator("describe_subnets").paginate(PaginationConfig={"PageSize": 5}) for s in p["Subnets"]]
    assert len(ids) == 6 == len(set(ids))


def test_errors(keks):
    client = ec2(keks)
    code, status, message = error_of(client.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"])
    assert (code, status, message) == ("InvalidSubnetID.NotFound", 400, "The subnet ID 'subnet-0123456789abcdef0' does not exist")
    assert error_of(client.describe_subnets, SubnetIds=["not-a-subnet"])[:2] == ("InvalidSubnetID.Malformed", 400)
    code, _, message = error_of(client.describe_vpcs, VpcIds=["vpc-0123456789abcdef0"])
    assert (code, message) == ("InvalidVpcID.NotFound", "The vpc ID 'vpc-0123456789abcdef0' does not exist")
    assert error_of(client.describe_security_groups, GroupIds=["sg-0123456789abcdef0"])[:2] == ("InvalidGroup.NotFound", 400)
    assert error_of(client.describe_subnets, Filters=[{"Name": "no-such-filter", "Values": ["x"]}])[:2] == ("InvalidParameterValue", 400)
    assert error_of(client.describe_volumes)[:2] == ("NotImplemented", 501)
    env = keks.env
    elsewhere = boto3.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="eu-west-1",
                             aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    code, status, message = error_of(elsewhere.describe_subnets)
    assert (code, status) == ("UnsupportedOperation", 400) and "us-east-1 only" in message


def test_network_survives_a_restart(keks):
    before = (aws_json(keks, "ec2", "describe-vpcs")["Vpcs"], aws_json(keks, "ec2", "describe-subnets")["Subnets"],
              aws_json(keks, "ec2", "describe-security-groups")["SecurityGroups"])
    keks.stop()
    keks.start()
    after = (aws_json(keks, "ec2", "describe-vpcs")["Vpcs"], aws_json(keks, "ec2", "describe-subnets")["Subnets"],
             aws_json(keks, "ec2", "describe-security-groups")["SecurityGroups"])
    assert after == before


def test_route_tables_tell_public_from_private(keks):
    subnets = aws_json(keks, "ec2", "describe-subnets")["Subnets"]
    vpc_id = subnets[0]["VpcId"]
    igws = aws_json(keks, "ec2", "describe-internet-gateways", "--filters", f"Name=attachment.vpc-id,Values={vpc_id}")["InternetGateways"]
    assert len(igws) == 1 and igws[0]["InternetGatewayId"].startswith("igw-")
    igw = igws[0]["InternetGatewayId"]
    for s in subnets:
        tables = aws_json(keks, "ec2", "describe-route-tables", "--filters", f"Name=association.subnet-id,Values={s['SubnetId']}")["RouteTables"]
        if s["MapPublicIpOnLaunch"]:
            assert len(tables) == 1
            assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "State": "active", "Origin": "CreateRoute"} in tables[0]["Routes"]
        else:
            assert tables == []  # private subnets use the main table, which has no internet route
    main = aws_json(keks, "ec2", "describe-route-tables", "--filters", f"Name=vpc-id,Values={vpc_id}", "Name=association.main,Values=true")["RouteTables"]
    assert len(main) == 1 and [r["GatewayId"] for r in main[0]["Routes"]] == ["local"]
    code, status, _ = error_of(ec2(keks).describe_route_tables, RouteTableIds=["rtb-0123456789abcdef0"])
    assert (code, status) == ("InvalidRouteTableID.NotFound", 400)
