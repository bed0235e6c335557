//! `aws eks get-token` tokens, checked by keks itself as aws-iam-authenticator checks them
//! (and as STS would check the presigned request inside): `k8s-aws-v1.` + base64url of a
//! presigned STS GetCallerIdentity URL whose signature covers the `x-k8s-aws-id` header
//! naming the cluster. Valid 15 minutes from `X-Amz-Date` whatever `X-Amz-Expires` says;
//! only the whitelisted query parameters, each once; path `/`. The identity is then mapped
//! to a Kubernetes user by the EKS control plane (access entries, aws-auth).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use keks_apiserver::authn::{Authenticated, TokenAuthenticator};
use keks_core::SharedClock;
use keks_eks::{Caller, ControlPlane};

use crate::iam::Iam;
use crate::sigv4::{self, Form, SigV4Error};

pub const PREFIX: &str = "k8s-aws-v1.";
/// The longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// How long a token is valid from its `X-Amz-Date`.
pub const LIFETIME: Duration = Duration::from_secs(15 * 60);
const CLUSTER_HEADER: &str = "x-k8s-aws-id";
const ALLOWED_PARAMETERS: [&str; 9] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

/// Why a token was refused (logged at debug; the client only sees 401).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the token is not base64url of a URL")]
    Malformed,
    #[error("the token's URL must have path '/'")]
    BadPath,
    #[error("the token's URL has a parameter that is not allowed or repeated: {0}")]
    BadParameter(String),
    #[error("the token's URL is not a GetCallerIdentity call")]
    NotGetCallerIdentity,
    #[error("the token does not sign the x-k8s-aws-id header")]
    ClusterNotSigned,
    #[error("the token expired")]
    Expired,
    #[error("the token's access key is unknown")]
    UnknownAccessKey,
    #[error("the token's signature is not valid: {0}")]
    Signature(String),
}

/// The identity a token proves for `cluster`, or why it proves nothing.
pub fn verify(
    iam: &Iam,
    cluster: &str,
    token: &str,
    now: std::time::SystemTime,
) -> Result<Caller, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let encoded = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::Malformed)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(TokenError::Malformed)?;
    let (host, path_query) = rest.split_at(rest.find('/').ok_or(TokenError::BadPath)?);
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    if path != "/" {
        return Err(TokenError::BadPath);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut action = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let lower = key.to_ascii_lowercase();
        if !ALLOWED_PARAMETERS.contains(&lower.as_str()) || seen.contains(&lower) {
            return Err(TokenError::BadParameter(key.into_owned()));
        }
        if lower == "action" {
            action = Some(value.into_owned());
        }
        seen.push(lower);
    }
    if action.as_deref() != Some("GetCallerIdentity") {
        return Err(TokenError::NotGetCallerIdentity);
    }
    let headers = vec![
        ("host".to_string(), host.to_string()),
        (CLUSTER_HEADER.to_string(), cluster.to_string()),
    ];
    let request = sigv4::Request {
        method: "GET",
        path,
        query,
        headers: &headers,
        body: b"",
    };
    let mut signature = sigv4::parse(&request).map_err(|e| TokenError::Signature(e.to_string()))?;
    if !signature.signed_headers.iter().any(|h| h == CLUSTER_HEADER) {
        return Err(TokenError::ClusterNotSigned);
    }
    let signed_at = sigv4::parse_amz_date(&signature.amz_date)
        .ok_or_else(|| TokenError::Signature("bad X-Amz-Date".into()))?;
    if now > signed_at + LIFETIME {
        return Err(TokenError::Expired);
    }
    // The token's lifetime is the authenticator's, not the URL's X-Amz-Expires.
    signature.form = Form::Query {
        expires: LIFETIME.as_secs(),
    };
    let principal = iam
        .authenticate(&request, &signature, now)
        .map_err(|e| match e {
            SigV4Error::UnknownAccessKey => TokenError::UnknownAccessKey,
            SigV4Error::ExpiredToken => TokenError::Expired,
            other => TokenError::Signature(other.to_string()),
        })?;
    Ok(Caller {
        account: principal.account,
        arn: principal.arn,
        user_id: principal.user_id,
        access_key_id: signature.scope.access_key.clone(),
    })
}

/// The authenticator keks puts in every cluster's chain.
pub struct EksTokenAuthenticator {
    pub iam: Iam,
    pub control: Arc<ControlPlane>,
    pub clock: SharedClock,
}

#[async_trait::async_trait]
impl TokenAuthenticator for EksTokenAuthenticator {
    async fn authenticate(&self, cluster: &str, token: &str) -> Authenticated {
        if !token.starts_with(PREFIX) {
            return Authenticated::NotMine;
        }
        let caller = match verify(&self.iam, cluster, token, self.clock.wall()) {
            Ok(caller) => caller,
            Err(e) => {
                tracing::debug!(cluster, error = %e, "EKS token refused");
                return Authenticated::Invalid;
            }
        };
        match self.control.kubernetes_user(cluster, &caller).await {
            Some(user) => Authenticated::User(user),
            None => {
                tracing::debug!(cluster, arn = %caller.arn, "the identity is not mapped in the cluster");
                Authenticated::Invalid
            }
        }
    }
}
