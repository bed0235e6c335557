//! keks only: how long from CreateCluster sent until the new cluster's Kubernetes API answers
//! its first request — DescribeCluster polled back to back until ACTIVE, then
//! `GET /api/v1/namespaces` at the cluster's `endpoint` over TLS trusting
//! `certificateAuthority.data`, with an EKS token as `aws eks get-token` makes it (a
//! presigned STS GetCallerIdentity URL that signs the `x-k8s-aws-id` header).

use std::sync::Arc;

use anyhow::{bail, Context};
use base64::Engine;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use keks_aws::sigv4;

use crate::apiserver_client::Endpoint;
use crate::aws_client::AwsEndpoint;
use crate::eks_phases::{describe_request, status_of, ClusterSpec};
use crate::eks_report::FirstRequestResult;
use crate::stats::{self, Latency};
use crate::timing;

/// A token as `aws eks get-token --cluster-name <cluster>` makes it.
pub fn eks_token(aws: &AwsEndpoint, cluster: &str) -> String {
    let amz_date = sigv4::amz_date_of(timing::wall());
    let headers = vec![
        ("host".to_string(), aws.host().to_string()),
        ("x-k8s-aws-id".to_string(), cluster.to_string()),
    ];
    let req = sigv4::Request {
        method: "GET",
        path: "/",
        query: "Action=GetCallerIdentity&Version=2011-06-15",
        headers: &headers,
        body: b"",
    };
    let scope = sigv4::Scope {
        access_key: aws.access_key().to_string(),
        date: amz_date[..8].to_string(),
        region: aws.region().to_string(),
        service: "sts".to_string(),
    };
    let query = sigv4::presign(
        &req,
        &scope,
        aws.secret(),
        &amz_date,
        60,
        &["host", "x-k8s-aws-id"],
    );
    let url = format!("http://{}/?{query}", aws.host());
    format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    )
}

/// `runs` clusters named `{prefix}-first-{i}`, one after the other.
pub async fn run(
    aws: &Arc<AwsEndpoint>,
    spec: &ClusterSpec,
    prefix: &str,
    runs: usize,
) -> anyhow::Result<FirstRequestResult> {
    let mut conn = aws.connect().await?;
    let (mut created, mut to_active, mut to_api, mut total) = (
        stats::histogram(),
        stats::histogram(),
        stats::histogram(),
        stats::histogram(),
    );
    let mut total_us = 0u64;
    let mut polls = 0u64;
    let mut api_retries = 0u64;
    for i in 0..runs {
        let name = format!("{prefix}-first-{i}");
        let start = timing::now();
        let create = aws.sign_json(
            "eks",
            Method::POST,
            "/clusters",
            "",
            Some(&spec.create_body(&name)),
        );
        conn.expect(&create, StatusCode::OK)
            .await
            .with_context(|| format!("CreateCluster {name}"))?;
        stats::record(&mut created, timing::since(start));
        let cluster = loop {
            polls += 1;
            let body = conn
                .expect(&describe_request(aws, &name), StatusCode::OK)
                .await?;
            let cluster = status_of(&body)?;
            match cluster["status"].as_str() {
                Some("ACTIVE") => break cluster,
                Some("CREATING") => {}
                other => bail!("cluster {name} is {other:?}"),
            }
            if polls > 1_000_000 {
                bail!("cluster {name} never became ACTIVE");
            }
        };
        let active = timing::now();
        let server = cluster["endpoint"]
            .as_str()
            .context("an ACTIVE cluster has no endpoint")?;
        let ca = cluster["certificateAuthority"]["data"]
            .as_str()
            .context("an ACTIVE cluster has no certificateAuthority.data")?;
        let kube = Endpoint::new(server, ca, &eks_token(aws, &name))?;
        let mut tries = 0;
        loop {
            let mut api = kube.connect().await?;
            let resp = api.send(Method::GET, "/api/v1/namespaces", None).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            if status == StatusCode::OK {
                break;
            }
            tries += 1;
            api_retries += 1;
            if tries >= 1_000 {
                bail!(
                    "{server}: GET /api/v1/namespaces: {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
            }
        }
        let done = timing::now();
        stats::record(&mut to_active, active.saturating_duration_since(start));
        stats::record(&mut to_api, done.saturating_duration_since(active));
        let t = done.saturating_duration_since(start);
        stats::record(&mut total, t);
        total_us += t.as_micros() as u64;
    }
    Ok(FirstRequestResult {
        runs,
        create_response: Latency::of(&created),
        create_to_active: Latency::of(&to_active),
        active_to_first_200: Latency::of(&to_api),
        total: Latency::of(&total),
        total_mean_us: total_us / runs.max(1) as u64,
        mean_polls: polls as f64 / runs.max(1) as f64,
        api_retries,
    })
}
