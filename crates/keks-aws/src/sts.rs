//! STS (awsQuery, version 2011-06-15): GetCallerIdentity, which `aws sts
//! get-caller-identity` and `aws eks get-token` tokens rely on, and AssumeRole, which issues
//! temporary credentials for a role of the account. Other actions answer the honest "not
//! implemented" error.

use std::time::{Duration, SystemTime};

use crate::account::{Principal, PrincipalKind};
use crate::front::Response;
use crate::iam::{iam_error_to_query, iso8601, Iam};
use crate::query::{self, xml_escape, QueryError, QueryRequest};

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The default session length of AssumeRole.
pub const DEFAULT_SESSION: Duration = Duration::from_secs(3600);
/// The shortest session AssumeRole issues.
pub const MIN_SESSION: Duration = Duration::from_secs(900);
/// Role chaining (an assumed role assuming a role) is limited to one hour.
pub const CHAINED_SESSION_LIMIT: Duration = Duration::from_secs(3600);

pub async fn handle(
    iam: &Iam,
    principal: &Principal,
    req: &QueryRequest,
    request_id: &str,
    now: SystemTime,
) -> Response {
    let result = match req.action() {
        Some("GetCallerIdentity") => Ok(format!(
            "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
            xml_escape(&principal.arn),
            xml_escape(&principal.user_id),
            xml_escape(&principal.account)
        )),
        Some("AssumeRole") => assume_role(iam, principal, req, now).await,
        Some(action) => Err(QueryError::new(
            501,
            "NotImplemented",
            format!("STS action {action} is not implemented by keks yet"),
        )),
        None => Err(QueryError::new(400, "MissingAction", "Missing Action")),
    };
    match result {
        Ok(xml) => Response::xml(
            200,
            query::success(
                NAMESPACE,
                req.action().unwrap_or_default(),
                &xml,
                request_id,
            ),
        ),
        Err(e) => e.to_response(NAMESPACE, request_id),
    }
}

async fn assume_role(
    iam: &Iam,
    principal: &Principal,
    req: &QueryRequest,
    now: SystemTime,
) -> Result<String, QueryError> {
    let role_arn = req
        .get("RoleArn")
        .ok_or_else(|| QueryError::constraint(None, "roleArn", "Member must not be null"))?;
    if role_arn.len() < 20 {
        return Err(QueryError::constraint(
            Some(role_arn),
            "roleArn",
            "Member must have length greater than or equal to 20",
        ));
    }
    if role_arn.len() > 2048 {
        return Err(QueryError::constraint(
            Some(role_arn),
            "roleArn",
            "Member must have length less than or equal to 2048",
        ));
    }
    let session_name = req.get("RoleSessionName").ok_or_else(|| {
        QueryError::constraint(None, "roleSessionName", "Member must not be null")
    })?;
    let length = session_name.chars().count();
    if length < 2 {
        return Err(QueryError::constraint(
            Some(session_name),
            "roleSessionName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if length > 64 {
        return Err(QueryError::constraint(
            Some(session_name),
            "roleSessionName",
            "Member must have length less than or equal to 64",
        ));
    }
    if !session_name.chars().all(crate::iam::is_name_char) {
        return Err(QueryError::constraint(
            Some(session_name),
            "roleSessionName",
            r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ));
    }
    let duration = match req.get("DurationSeconds") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n < MIN_SESSION.as_secs() => {
                return Err(QueryError::constraint(
                    Some(text),
                    "durationSeconds",
                    "Member must have value greater than or equal to 900",
                ))
            }
            Ok(n) if n > 43200 => {
                return Err(QueryError::constraint(
                    Some(text),
                    "durationSeconds",
                    "Member must have value less than or equal to 43200",
                ))
            }
            Ok(n) => Some(Duration::from_secs(n)),
            Err(_) => {
                return Err(QueryError::validation(format!(
                    "Value '{text}' for parameter DurationSeconds is invalid. It must be an integer"
                )))
            }
        },
    };
    let Some(role) = iam.role_by_arn(role_arn) else {
        return Err(QueryError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                principal.arn
            ),
        ));
    };
    let chained = matches!(principal.kind, PrincipalKind::AssumedRole { .. });
    let duration = match duration {
        Some(d) if chained && d > CHAINED_SESSION_LIMIT => {
            return Err(QueryError::validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ))
        }
        Some(d) if d.as_secs() > u64::from(role.max_session_duration) => {
            return Err(QueryError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ))
        }
        Some(d) => d,
        None => DEFAULT_SESSION,
    };
    let session = iam
        .assume_role(&role, session_name, duration, now)
        .await
        .map_err(iam_error_to_query)?;
    Ok(format!(
        "    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        xml_escape(&session.assumed_role_id()),
        xml_escape(&session.assumed_role_arn(&principal.account)),
        session.access_key_id,
        xml_escape(&session.secret_access_key),
        xml_escape(&session.session_token),
        iso8601(session.expiration)
    ))
}
