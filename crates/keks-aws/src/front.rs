//! The AWS front door: every request on the AWS listener is checked with SigV4 first (no
//! valid signature, no access), then routed by the signature's service name to the service's
//! front end, with errors worded for that service's protocol.

use std::time::SystemTime;

use super::account::Account;
use super::iam::Iam;
use super::query::{self, QueryRequest};
use super::sigv4::{self, SigV4Error};
use super::{autoscaling, ec2, iam, sts};

/// A request as the listener received it.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// A response to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn xml(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/xml".into())],
            body: body.into_bytes(),
        }
    }

    pub fn json(status: u16, error_type: Option<&str>, body: &serde_json::Value) -> Self {
        let mut headers = vec![("content-type".into(), "application/json".into())];
        if let Some(t) = error_type {
            headers.push(("x-amzn-errortype".into(), t.into()));
        }
        Self {
            status,
            headers,
            body: serde_json::to_vec(body).expect("JSON values serialize"),
        }
    }
}

/// The AWS services keks serves.
pub struct AwsFront {
    pub account: Account,
    /// Users, roles, access keys and role sessions: every request's credentials are looked
    /// up here.
    pub iam: Iam,
    /// The region's network (EC2 VPCs, subnets, security groups).
    pub network: keks_cloud::Network,
    /// The EC2 fleet and its Auto Scaling groups (EC2 instances, the Auto Scaling API);
    /// absent in tools that serve no fleet.
    pub fleet: Option<keks_cloud::AutoScaling>,
    /// The EKS control plane's front end (absent in tools that serve no EKS).
    pub eks: Option<std::sync::Arc<super::eks::EksFront>>,
}

impl AwsFront {
    pub async fn handle(&self, req: &HttpRequest<'_>, now: SystemTime) -> Response {
        let request_id = uuid_like();
        let signed = sigv4::Request {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: &req.headers,
            body: req.body,
        };
        let sig = match sigv4::parse(&signed) {
            Ok(sig) => sig,
            Err(e) => return self.auth_error(None, &e, &request_id),
        };
        let service = sig.scope.service.clone();
        let principal = match self.iam.authenticate(&signed, &sig, now) {
            Ok(p) => p,
            Err(e) => return self.auth_error(Some(&service), &e, &request_id),
        };
        match service.as_str() {
            "sts" => {
                let params = QueryRequest::parse(req.query, req.body);
                sts::handle(&self.iam, &principal, &params, &request_id, now).await
            }
            "iam" => {
                let params = QueryRequest::parse(req.query, req.body);
                iam::api::handle(&self.iam, &principal, &params, &request_id, now).await
            }
            "ec2" => {
                let params = QueryRequest::parse(req.query, req.body);
                ec2::handle_request(
                    &self.network,
                    self.fleet.as_ref(),
                    now.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                    &sig.scope.region,
                    &params,
                    &request_id,
                )
                .await
            }
            "autoscaling" if self.fleet.is_some() => {
                let params = QueryRequest::parse(req.query, req.body);
                let asg = self.fleet.as_ref().expect("checked");
                autoscaling::handle(asg, &params, &request_id).await
            }
            "eks" if self.eks.is_some() => {
                let caller = keks_eks::Caller {
                    account: principal.account.clone(),
                    arn: principal.arn.clone(),
                    user_id: principal.user_id.clone(),
                    access_key_id: sig.scope.access_key.clone(),
                };
                let eks = self.eks.as_ref().expect("checked");
                eks.handle(&caller, req).await
            }
            other => Response::json(
                501,
                Some("NotImplementedException"),
                &serde_json::json!({"message": format!("the AWS service {other:?} is not implemented by keks yet")}),
            ),
        }
    }

    /// A signature failure, worded for the service's protocol.
    fn auth_error(&self, service: Option<&str>, e: &SigV4Error, request_id: &str) -> Response {
        let message = e.to_string();
        match service {
            Some(service @ ("sts" | "iam" | "autoscaling")) => {
                let (status, code) = match e {
                    SigV4Error::Missing => (403, "MissingAuthenticationToken"),
                    SigV4Error::Incomplete(_) => (400, "IncompleteSignature"),
                    SigV4Error::UnknownAccessKey => (403, "InvalidClientTokenId"),
                    SigV4Error::ExpiredToken => (403, "ExpiredToken"),
                    SigV4Error::Mismatch => (403, "SignatureDoesNotMatch"),
                    SigV4Error::Expired { .. }
                    | SigV4Error::NotYetCurrent { .. }
                    | SigV4Error::PresignExpired => (403, "SignatureDoesNotMatch"),
                };
                let namespace = match service {
                    "iam" => iam::api::NAMESPACE,
                    "autoscaling" => autoscaling::NAMESPACE,
                    _ => sts::NAMESPACE,
                };
                Response::xml(
                    status,
                    query::error(namespace, true, code, &message, request_id),
                )
            }
            Some("ec2") => ec2::auth_error(e, request_id),
            _ => {
                let (status, code) = match e {
                    SigV4Error::Missing => (403, "MissingAuthenticationTokenException"),
                    SigV4Error::Incomplete(_) => (400, "IncompleteSignatureException"),
                    SigV4Error::UnknownAccessKey => (403, "UnrecognizedClientException"),
                    SigV4Error::ExpiredToken => (403, "ExpiredTokenException"),
                    SigV4Error::Mismatch
                    | SigV4Error::Expired { .. }
                    | SigV4Error::NotYetCurrent { .. }
                    | SigV4Error::PresignExpired => (403, "InvalidSignatureException"),
                };
                Response::json(status, Some(code), &serde_json::json!({"message": message}))
            }
        }
    }
}

/// A request id, a UUID as AWS uses.
fn uuid_like() -> String {
    uuid::Uuid::new_v4().to_string()
}
