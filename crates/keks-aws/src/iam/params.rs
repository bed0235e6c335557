//! The IAM API's request parameters — required members, names, paths, tags, policy
//! documents, durations — checked with IAM's constraint messages, and `Marker`/`MaxItems`
//! pagination.

use super::{Iam, IamError, Tag};
use crate::account::{Principal, PrincipalKind};
use crate::query::{xml_escape, QueryError, QueryRequest};

const NAME_PATTERN: &str = r"[\w+=,.@-]+";
const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";

pub(super) fn description(req: &QueryRequest) -> Result<Option<&str>, QueryError> {
    let description = req.get("Description");
    if let Some(d) = description {
        if d.chars().count() > 1000 {
            return Err(QueryError::constraint(
                Some(d),
                "description",
                "Member must have length less than or equal to 1000",
            ));
        }
    }
    Ok(description)
}

/// `MaxSessionDuration`: 3600 to 43200 seconds.
pub(super) fn max_session_duration(req: &QueryRequest) -> Result<Option<u32>, QueryError> {
    let Some(text) = req.get("MaxSessionDuration") else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(n) if n < 3600 => Err(QueryError::constraint(
            Some(text),
            "maxSessionDuration",
            "Member must have value greater than or equal to 3600",
        )),
        Ok(n) if n > 43200 => Err(QueryError::constraint(
            Some(text),
            "maxSessionDuration",
            "Member must have value less than or equal to 43200",
        )),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(QueryError::validation(format!(
            "Value '{text}' for parameter MaxSessionDuration is invalid. It must be an integer"
        ))),
    }
}

/// An inline policy's name: 1–128 characters of `[\w+=,.@-]`.
pub(super) fn policy_name(req: &QueryRequest) -> Result<&str, QueryError> {
    let value = required(req, "PolicyName", "policyName")?;
    if value.is_empty() || value.chars().count() > 128 {
        return Err(QueryError::constraint(
            Some(value),
            "policyName",
            "Member must have length less than or equal to 128",
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(QueryError::constraint(
            Some(value),
            "policyName",
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(value)
}

pub(super) fn no_such_role_policy(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role policy with name {name} cannot be found."))
}

pub(super) fn required<'a>(
    req: &'a QueryRequest,
    param: &str,
    member: &str,
) -> Result<&'a str, QueryError> {
    req.get(param)
        .ok_or_else(|| QueryError::constraint(None, member, "Member must not be null"))
}

/// A user or role name: 1–64 characters of `[\w+=,.@-]`.
pub(super) fn name<'a>(
    req: &'a QueryRequest,
    param: &str,
    member: &str,
) -> Result<&'a str, QueryError> {
    let value = required(req, param, member)?;
    check_name(value, member)?;
    Ok(value)
}

pub(crate) fn check_name(value: &str, member: &str) -> Result<(), QueryError> {
    if value.is_empty() {
        return Err(QueryError::constraint(
            Some(value),
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if value.chars().count() > 64 {
        return Err(QueryError::constraint(
            Some(value),
            member,
            "Member must have length less than or equal to 64",
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(QueryError::constraint(
            Some(value),
            member,
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

/// `[\w+=,.@-]`.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || "_+=,.@-".contains(c)
}

pub(super) fn path(req: &QueryRequest) -> Result<String, QueryError> {
    let Some(path) = req.get("Path") else {
        return Ok("/".to_string());
    };
    let well_formed = path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && path[1..path.len() - 1]
                .chars()
                .all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
    if path.len() > 512 {
        return Err(QueryError::constraint(
            Some(path),
            "path",
            "Member must have length less than or equal to 512",
        ));
    }
    if !well_formed {
        return Err(QueryError::constraint(
            Some(path),
            "path",
            &format!("Member must satisfy regular expression pattern: {PATH_PATTERN}"),
        ));
    }
    Ok(path.to_string())
}

pub(super) fn path_prefix(req: &QueryRequest) -> Result<String, QueryError> {
    match req.get("PathPrefix") {
        None => Ok("/".to_string()),
        Some(p) if p.starts_with('/') && p.len() <= 512 => Ok(p.to_string()),
        Some(p) => Err(QueryError::constraint(
            Some(p),
            "pathPrefix",
            r"Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*",
        )),
    }
}

pub(super) fn tags(req: &QueryRequest) -> Result<Vec<Tag>, QueryError> {
    let tags = req.tags("Tags.member");
    if tags.len() > 50 {
        return Err(QueryError::validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    for (key, value) in &tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(QueryError::constraint(
                Some(key),
                "tags.member.key",
                "Member must have length less than or equal to 128",
            ));
        }
        if value.chars().count() > 256 {
            return Err(QueryError::constraint(
                Some(value),
                "tags.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
    }
    Ok(tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect())
}

/// A trust policy must be a JSON object.
pub(super) fn check_policy(document: &str) -> Result<(), QueryError> {
    if document.is_empty() {
        return Err(QueryError::constraint(
            Some(document),
            "assumeRolePolicyDocument",
            "Member must have length greater than or equal to 1",
        ));
    }
    match serde_json::from_str::<serde_json::Value>(document) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(QueryError::new(
            400,
            "MalformedPolicyDocument",
            "Syntax errors in policy.",
        )),
        Err(_) => Err(QueryError::new(
            400,
            "MalformedPolicyDocument",
            "This policy contains invalid Json",
        )),
    }
}

/// Whose access keys a request means: `UserName`, else the calling user.
pub(super) fn key_owner(
    iam: &Iam,
    principal: &Principal,
    req: &QueryRequest,
) -> Result<String, QueryError> {
    if req.get("UserName").is_some() {
        let name = name(req, "UserName", "userName")?;
        return Ok(iam.user(name).map_or_else(|| name.to_string(), |u| u.name));
    }
    match &principal.kind {
        PrincipalKind::User { name } => Ok(name.clone()),
        PrincipalKind::Root => Err(QueryError::validation(
            "keks manages access keys of IAM users only; name the user with UserName",
        )),
        PrincipalKind::AssumedRole { .. } => Err(QueryError::validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// One page of `items`: from the `Marker` (the key of the page's first
/// item) up to `MaxItems` (default 100). Returns the page and the next page's marker.
pub(super) fn paginate<'a, T>(
    req: &QueryRequest,
    items: &'a [T],
    key: impl Fn(&T) -> String,
) -> Result<(&'a [T], Option<String>), QueryError> {
    let max_items = match req.get("MaxItems") {
        None => 100,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n < 1 => {
                return Err(QueryError::constraint(
                    Some(text),
                    "maxItems",
                    "Member must have value greater than or equal to 1",
                ))
            }
            Ok(n) if n > 1000 => {
                return Err(QueryError::constraint(
                    Some(text),
                    "maxItems",
                    "Member must have value less than or equal to 1000",
                ))
            }
            Ok(n) => n as usize,
            Err(_) => {
                return Err(QueryError::validation(format!(
                    "Value '{text}' for parameter MaxItems is invalid. It must be an integer"
                )))
            }
        },
    };
    let start = match req.get("Marker") {
        None => 0,
        // The marker is the key of the page's first item; if that item is gone meanwhile,
        // continue where it would have been (lists of names are sorted by them).
        Some(marker) => items
            .iter()
            .position(|item| key(item) == marker)
            .unwrap_or_else(|| items.partition_point(|item| key(item).as_str() < marker)),
    };
    let end = (start + max_items).min(items.len());
    let next = (end < items.len()).then(|| key(&items[end]));
    Ok((&items[start..end], next))
}

pub(super) fn truncation_xml(marker: Option<String>) -> String {
    match marker {
        Some(m) => format!(
            "<IsTruncated>true</IsTruncated><Marker>{}</Marker>",
            xml_escape(&m)
        ),
        None => "<IsTruncated>false</IsTruncated>".to_string(),
    }
}
