use std::sync::Arc;

use keks_store::{MemoryStore, Store};

use super::*;

async fn network() -> Network {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Network::load_or_create(store, "us-east-1", "123456789012")
        .await
        .unwrap()
}

fn call(network: &Network, body: &str) -> (u16, String) {
    let response = handle(
        network,
        None,
        "us-east-1",
        &QueryRequest::parse("", body.as_bytes()),
        "req-1",
    );
    (response.status, String::from_utf8(response.body).unwrap())
}

#[tokio::test]
async fn subnets_by_filter_and_id() {
    let net = network().await;
    let vpc = net.default_vpc();
    let (status, body) = call(
        &net,
        &format!("Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1={}&Filter.2.Name=map-public-ip-on-launch&Filter.2.Value.1=false", vpc.id),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("<subnetId>").count(), 3, "{body}");
    assert!(body.contains("<requestId>req-1</requestId>"));
    assert!(body.contains("kubernetes.io/role/internal-elb"));
    assert!(!body.contains("<mapPublicIpOnLaunch>true"));

    let id = net.subnets()[0].id.clone();
    let (_, body) = call(&net, &format!("Action=DescribeSubnets&SubnetId.1={id}"));
    assert_eq!(body.matches("<subnetId>").count(), 1);

    let (status, body) = call(
        &net,
        &format!("Action=DescribeSubnets&SubnetId.1={id}&SubnetId.2=subnet-0123456789abcdef0&SubnetId.3=subnet-1234abcd"),
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidSubnetID.NotFound</Code>"),
        "{body}"
    );
    assert!(
        body.contains("The subnet IDs 'subnet-0123456789abcdef0, subnet-1234abcd' do not exist"),
        "{body}"
    );

    let (status, body) = call(&net, "Action=DescribeSubnets&SubnetId.1=nope");
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidSubnetID.Malformed</Code>"),
        "{body}"
    );

    let (status, body) = call(
        &net,
        "Action=DescribeSubnets&Filter.1.Name=bogus&Filter.1.Value.1=x",
    );
    assert_eq!(status, 400);
    assert!(body.contains("The filter 'bogus' is invalid"), "{body}");
}

#[tokio::test]
async fn pagination_walks_every_subnet_once() {
    let net = network().await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = "Action=DescribeSubnets&MaxResults=5".to_string();
        if let Some(t) = &token {
            body.push_str(&format!("&NextToken={t}"));
        }
        let (status, xml) = call(&net, &body);
        assert_eq!(status, 200, "{xml}");
        seen.extend(
            xml.split("<subnetId>")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().to_string()),
        );
        token = xml
            .split("<nextToken>")
            .nth(1)
            .map(|s| s.split('<').next().unwrap().to_string());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    let (status, body) = call(&net, "Action=DescribeSubnets&MaxResults=2");
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn vpcs_zones_groups_and_unknown_actions() {
    let net = network().await;
    let (status, body) = call(
        &net,
        "Action=DescribeVpcs&Filter.1.Name=is-default&Filter.1.Value.1=true",
    );
    assert_eq!(status, 200);
    assert!(body.contains("<isDefault>true</isDefault>") && body.contains("172.31.0.0/16"));
    let (status, body) = call(&net, "Action=DescribeVpcs&VpcId.1=vpc-0123456789abcdef0");
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-0123456789abcdef0' does not exist</Message>"), "{body}");

    let (_, body) = call(
        &net,
        "Action=DescribeAvailabilityZones&ZoneName.1=us-east-1c",
    );
    assert!(
        body.contains("<zoneId>use1-az4</zoneId>") && !body.contains("us-east-1a"),
        "{body}"
    );
    let (status, _) = call(
        &net,
        "Action=DescribeAvailabilityZones&ZoneName.1=us-east-1z",
    );
    assert_eq!(status, 400);

    let (status, body) = call(&net, "Action=DescribeSecurityGroups&GroupName.1=default");
    assert_eq!(status, 200);
    assert!(body.contains("<groupName>default</groupName>"));
    let (status, body) = call(
        &net,
        "Action=DescribeSecurityGroups&GroupId.1=sg-0123456789abcdef0",
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("<Code>InvalidGroup.NotFound</Code>"),
        "{body}"
    );

    let (status, body) = call(&net, "Action=RunInstances");
    assert_eq!(status, 501);
    assert!(body.contains("<Code>NotImplemented</Code>"));
    assert!(body.contains("<RequestID>req-1</RequestID>"));
}

#[tokio::test]
async fn route_tables_show_which_subnets_are_public() {
    let net = network().await;
    let public = net.subnets().into_iter().find(|s| !s.is_private()).unwrap();
    let private = net.subnets().into_iter().find(|s| s.is_private()).unwrap();
    let (status, body) = call(
        &net,
        &format!(
            "Action=DescribeRouteTables&Filter.1.Name=association.subnet-id&Filter.1.Value.1={}",
            public.id
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.matches("<vpcId>").count(),
        1,
        "one table (with all its associations): {body}"
    );
    assert!(body.contains(&format!(
        "<gatewayId>{}</gatewayId>",
        public.internet_gateway_id.unwrap()
    )));
    let (_, body) = call(
        &net,
        &format!(
            "Action=DescribeRouteTables&Filter.1.Name=association.subnet-id&Filter.1.Value.1={}",
            private.id
        ),
    );
    assert!(
        !body.contains("<item>"),
        "a private subnet has no explicit association: {body}"
    );
    let (_, body) = call(
        &net,
        "Action=DescribeRouteTables&Filter.1.Name=association.main&Filter.1.Value.1=true",
    );
    assert!(
        body.contains("<main>true</main>") && !body.contains("igw-"),
        "{body}"
    );
    let (status, body) = call(
        &net,
        "Action=DescribeRouteTables&RouteTableId.1=rtb-0123456789abcdef0",
    );
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidRouteTableID.NotFound</Code><Message>The routeTable ID 'rtb-0123456789abcdef0' does not exist</Message>"), "{body}");

    let (status, body) = call(&net, "Action=DescribeInternetGateways");
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("<vpcId>{}</vpcId>", net.default_vpc().id)),
        "{body}"
    );
}

#[tokio::test]
async fn other_regions_are_refused() {
    let net = network().await;
    let response = handle(
        &net,
        None,
        "us-west-2",
        &QueryRequest::parse("", b"Action=DescribeSubnets"),
        "req-1",
    );
    assert_eq!(response.status, 400);
    let body = String::from_utf8(response.body).unwrap();
    assert!(body.contains("<Code>UnsupportedOperation</Code>"), "{body}");
    assert!(body.contains("region us-east-1 only"), "{body}");
}

#[tokio::test]
async fn instance_types_by_filter() {
    let net = network().await;
    let (status, body) = call(
        &net,
        "Action=DescribeInstanceTypes&Filter.1.Name=vcpu-info.default-vcpus&Filter.1.Value.1=1&Filter.2.Name=processor-info.supported-architecture&Filter.2.Value.1=arm64",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<instanceType>m6g.medium</instanceType>"),
        "{body}"
    );
    assert!(!body.contains("<instanceType>m5."), "{body}");
    assert!(body.contains("<defaultThreadsPerCore>1</defaultThreadsPerCore>"));
    let (status, body) = call(&net, "Action=DescribeInstanceTypes&InstanceType.1=m5.large");
    assert_eq!(status, 200);
    assert!(body.contains("<maximumNetworkInterfaces>3</maximumNetworkInterfaces>"));
    assert!(body.contains("<ipv4AddressesPerInterface>10</ipv4AddressesPerInterface>"));
    assert!(body.contains("<sizeInMiB>8192</sizeInMiB>"));
    let (status, body) = call(&net, "Action=DescribeInstanceTypes&InstanceType.1=m5.huge");
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidInstanceType</Code>"), "{body}");
    let (status, body) = call(
        &net,
        "Action=DescribeInstanceTypes&Filter.1.Name=no-such-filter&Filter.1.Value.1=x",
    );
    assert_eq!(status, 400);
    assert!(body.contains("InvalidParameterValue"), "{body}");
    // Without a fleet, instances are not served.
    let (status, _) = call(&net, "Action=DescribeInstances");
    assert_eq!(status, 501);
}
