//! One request's way through the API: find the cluster, authenticate, authorize, route to
//! discovery or a resource handler. Every error leaves here as a `metav1.Status`.

use std::sync::Arc;

use http::{header, Request, Response, StatusCode};
use hyper::body::Incoming;
use keks_core::SharedClock;

use super::body::{self, Body};
use super::query::Query;
use super::{discovery, resource};
use crate::authn::{AuthenticatorChain, UserInfo};
use crate::authz::{Authorizer, Decision};
use crate::clusters::Clusters;
use crate::request::RequestInfo;
use crate::status::{ApiError, GroupResource};

/// Everything the HTTP front needs.
pub struct ApiServer {
    pub clusters: Arc<Clusters>,
    pub authn: AuthenticatorChain,
    pub authorizer: Arc<Authorizer>,
    pub clock: SharedClock,
    /// Issues service account tokens (TokenRequest); also in `authn` as an authenticator.
    pub sa_tokens: Arc<crate::sa_tokens::ServiceAccountTokens>,
}

/// What the handlers get about a request.
pub struct Context<'a> {
    pub server: &'a ApiServer,
    pub api: Arc<crate::rest::ClusterApi>,
    pub info: RequestInfo,
    pub query: Query,
    pub user: UserInfo,
    pub accept: String,
    pub content_type: Option<String>,
    /// The `User-Agent`: names the field manager of writes without `fieldManager`.
    pub user_agent: String,
}

impl ApiServer {
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let method = req.method().as_str().to_string();
        let path = req.uri().path().to_string();
        let response = match self.route(req).await {
            Ok(response) => response,
            Err(e) => body::error(&e),
        };
        tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
        response
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/clusters/") else {
            return Err(ApiError::NoSuchResource);
        };
        let (cluster, sub_path) = match rest.split_once('/') {
            Some((c, p)) => (c.to_string(), format!("/{p}")),
            None => (rest.to_string(), "/".to_string()),
        };
        if self.clusters.get(&cluster).is_none() {
            return Err(ApiError::NoSuchResource);
        }
        if matches!(sub_path.as_str(), "/healthz" | "/livez" | "/readyz") {
            return Ok(body::text(StatusCode::OK, "ok"));
        }
        let user = self.authenticate(&cluster, &req).await?;
        // Only an authenticated request wakes a dormant cluster.
        let api = self
            .clusters
            .running(&cluster)
            .await
            .map_err(|e| ApiError::Internal(format!("starting cluster {cluster}: {e}")))?
            .ok_or(ApiError::NoSuchResource)?;
        let user = self.impersonate(&cluster, user, &req).await?;
        let query = Query::parse(req.uri().query());
        let info = RequestInfo::resolve(req.method().as_str(), &sub_path, query.flag("watch"));
        if self.authorizer.authorize(&cluster, &user, &info).await == Decision::Deny {
            return Err(forbidden(&user, &info));
        }
        let header = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ctx = Context {
            server: self,
            api,
            accept: header(header::ACCEPT).unwrap_or_default(),
            content_type: header(header::CONTENT_TYPE),
            user_agent: header(header::USER_AGENT).unwrap_or_default(),
            info,
            query,
            user,
        };
        if ctx.info.is_resource_request {
            resource::handle(ctx, req.into_body()).await
        } else {
            discovery::handle(&ctx, &sub_path)
        }
    }

    /// `Impersonate-User` / `Impersonate-Group` / `Impersonate-Uid`: act as another identity
    /// when the caller may `impersonate` it, as kube-apiserver allows (`kubectl --as`).
    async fn impersonate(
        &self,
        cluster: &str,
        caller: UserInfo,
        req: &Request<Incoming>,
    ) -> Result<UserInfo, ApiError> {
        let values = |name: &str| -> Vec<String> {
            req.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string)
                .collect()
        };
        let users = values("impersonate-user");
        let groups = values("impersonate-group");
        let uids = values("impersonate-uid");
        if users.is_empty() {
            if !groups.is_empty() || !uids.is_empty() {
                return Err(ApiError::BadRequest(
                    "requested [Impersonate-Group Impersonate-Uid] without impersonating a user"
                        .into(),
                ));
            }
            return Ok(caller);
        }
        let mut target = UserInfo {
            username: users[0].clone(),
            groups: groups.clone(),
            uid: uids.first().cloned().unwrap_or_default(),
            ..Default::default()
        };
        let mut checks: Vec<(&str, String)> = vec![("users", target.username.clone())];
        if let Some(rest) = target.username.strip_prefix("system:serviceaccount:") {
            if let Some((ns, name)) = rest.split_once(':') {
                checks = vec![("serviceaccounts", format!("{ns}/{name}"))];
                target.groups.extend([
                    "system:serviceaccounts".to_string(),
                    format!("system:serviceaccounts:{ns}"),
                ]);
            }
        }
        checks.extend(groups.iter().map(|g| ("groups", g.clone())));
        checks.extend(uids.iter().map(|u| ("uids", u.clone())));
        for (resource, name) in checks {
            let (namespace, name) = match name.split_once('/') {
                Some((ns, n)) if resource == "serviceaccounts" => (ns.to_string(), n.to_string()),
                _ => (String::new(), name),
            };
            let group = if resource == "uids" {
                "authentication.k8s.io"
            } else {
                ""
            };
            let info = RequestInfo {
                is_resource_request: true,
                verb: "impersonate".into(),
                api_group: group.into(),
                resource: resource.into(),
                namespace,
                name: name.clone(),
                ..Default::default()
            };
            if self.authorizer.authorize(cluster, &caller, &info).await == Decision::Deny {
                return Err(ApiError::Forbidden {
                    resource: crate::status::GroupResource::new(group, resource),
                    name: name.clone(),
                    message: format!("{resource} \"{name}\" is forbidden: User \"{}\" cannot impersonate resource \"{resource}\" in API group \"{group}\" at the cluster scope", caller.username),
                });
            }
        }
        if !target.in_group("system:authenticated") && target.username != "system:anonymous" {
            target.groups.push("system:authenticated".into());
        }
        Ok(target)
    }

    async fn authenticate(
        &self,
        cluster: &str,
        req: &Request<Incoming>,
    ) -> Result<UserInfo, ApiError> {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        self.authn
            .authenticate(cluster, token)
            .await
            .ok_or(ApiError::Unauthorized)
    }
}

/// The Forbidden error kube-apiserver writes for a denied request.
pub fn forbidden(user: &UserInfo, info: &RequestInfo) -> ApiError {
    if !info.is_resource_request {
        return ApiError::Forbidden {
            resource: GroupResource::default(),
            name: String::new(),
            message: format!(
                "forbidden: User \"{}\" cannot {} path \"{}\"",
                user.username, info.verb, info.path
            ),
        };
    }
    let resource = GroupResource::new(info.api_group.clone(), info.resource_and_subresource());
    let subject = if info.name.is_empty() {
        resource.to_string()
    } else {
        format!("{resource} \"{}\"", info.name)
    };
    let scope = if info.namespace.is_empty() || info.resource == "namespaces" {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", info.namespace)
    };
    let what = if info.subresource.is_empty() {
        format!("resource \"{}\"", info.resource)
    } else {
        format!("resource \"{}/{}\"", info.resource, info.subresource)
    };
    ApiError::Forbidden {
        resource,
        name: info.name.clone(),
        message: format!(
            "{subject} is forbidden: User \"{}\" cannot {} {what} in API group \"{}\" {scope}",
            user.username, info.verb, info.api_group
        ),
    }
}
