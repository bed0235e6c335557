//! The IAM API (awsQuery, version 2010-05-08; IAM is global, signed for us-east-1): users,
//! access keys, roles and their attached managed policies over [`Iam`]. Other actions answer 501 `NotImplemented`.

use std::time::SystemTime;

use super::{iso8601, unix, AccessKeyRecord, Iam, IamError, NewRole, Role, Tag, User};
use crate::account::{Principal, PrincipalKind};
use crate::front::Response;
use crate::query::{self, percent_encode, xml_escape, QueryError, QueryRequest};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

const NAME_PATTERN: &str = r"[\w+=,.@-]+";
const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";

pub async fn handle(
    iam: &Iam,
    principal: &Principal,
    req: &QueryRequest,
    request_id: &str,
    now: SystemTime,
) -> Response {
    let Some(action) = req.action() else {
        return QueryError::new(400, "MissingAction", "Missing Action")
            .to_response(NAMESPACE, request_id);
    };
    match run(iam, principal, action, req, now).await {
        Ok(Some(result)) => {
            Response::xml(200, query::success(NAMESPACE, action, &result, request_id))
        }
        Ok(None) => Response::xml(200, query::success_empty(NAMESPACE, action, request_id)),
        Err(e) => e.to_response(NAMESPACE, request_id),
    }
}

impl From<IamError> for QueryError {
    fn from(e: IamError) -> Self {
        let message = e.to_string();
        match e {
            IamError::EntityAlreadyExists(_) => {
                QueryError::new(409, "EntityAlreadyExists", message)
            }
            IamError::NoSuchEntity(_) => QueryError::new(404, "NoSuchEntity", message),
            IamError::DeleteConflict(_) => QueryError::new(409, "DeleteConflict", message),
            IamError::LimitExceeded(_) => QueryError::new(409, "LimitExceeded", message),
            IamError::Store(_) | IamError::Damaged(_) => {
                tracing::error!(error = %message, "IAM storage failed");
                QueryError::new(500, "ServiceFailure", "The request processing has failed because of an unknown error, exception or failure.")
            }
        }
    }
}

async fn run(
    iam: &Iam,
    principal: &Principal,
    action: &str,
    req: &QueryRequest,
    now: SystemTime,
) -> Result<Option<String>, QueryError> {
    let result = match action {
        "CreateUser" => {
            let name = name(req, "UserName", "userName")?;
            let path = path(req)?;
            let tags = tags(req)?;
            let user = iam.create_user(name, &path, tags, now).await?;
            format!("<User>{}</User>", user_xml(&user, true))
        }
        "GetUser" => {
            let user = match req.get("UserName") {
                Some(_) => {
                    let name = name(req, "UserName", "userName")?;
                    iam.user(name).ok_or_else(|| super::no_such_user(name))?
                }
                None => match &principal.kind {
                    PrincipalKind::User { name } => {
                        iam.user(name).ok_or_else(|| super::no_such_user(name))?
                    }
                    PrincipalKind::Root => {
                        return Ok(Some(format!(
                        "<User><UserId>{}</UserId><Arn>{}</Arn><CreateDate>{}</CreateDate></User>",
                        xml_escape(&principal.user_id),
                        xml_escape(&principal.arn),
                        iso8601(unix(now))
                    )))
                    }
                    PrincipalKind::AssumedRole { .. } => {
                        return Err(QueryError::validation(
                            "Must specify userName when calling with non-User credentials",
                        ))
                    }
                },
            };
            format!("<User>{}</User>", user_xml(&user, true))
        }
        "ListUsers" => {
            let prefix = path_prefix(req)?;
            let users: Vec<User> = iam
                .users()
                .into_iter()
                .filter(|u| u.path.starts_with(&prefix))
                .collect();
            let (page, marker) = paginate(req, &users, |u| u.name.to_lowercase())?;
            let items: String = page
                .iter()
                .map(|u| format!("<member>{}</member>", user_xml(u, false)))
                .collect();
            format!("<Users>{items}</Users>{}", truncation_xml(marker))
        }
        "DeleteUser" => {
            let name = name(req, "UserName", "userName")?;
            iam.delete_user(name).await?;
            return Ok(None);
        }
        "CreateAccessKey" => {
            let user = key_owner(iam, principal, req)?;
            let key = iam.create_access_key(&user, now).await?;
            format!(
                "<AccessKey><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId><Status>{}</Status><SecretAccessKey>{}</SecretAccessKey><CreateDate>{}</CreateDate></AccessKey>",
                xml_escape(&key.user_name),
                key.access_key_id,
                key.status,
                xml_escape(&key.secret_access_key),
                iso8601(key.create_date)
            )
        }
        "ListAccessKeys" => {
            if req.get("UserName").is_none() && principal.kind == PrincipalKind::Root {
                // The root user's own key.
                let root = &iam.account().root;
                return Ok(Some(format!(
                    "<AccessKeyMetadata><member><AccessKeyId>{}</AccessKeyId><Status>Active</Status></member></AccessKeyMetadata><IsTruncated>false</IsTruncated>",
                    root.access_key_id
                )));
            }
            let user = key_owner(iam, principal, req)?;
            if iam.user(&user).is_none() {
                return Err(super::no_such_user(&user).into());
            }
            let keys = iam.access_keys(&user);
            let (page, marker) = paginate(req, &keys, |k| k.access_key_id.clone())?;
            let items: String = page.iter().map(access_key_metadata_xml).collect();
            format!(
                "<AccessKeyMetadata>{items}</AccessKeyMetadata>{}",
                truncation_xml(marker)
            )
        }
        "DeleteAccessKey" => {
            let key_id = required(req, "AccessKeyId", "accessKeyId")?;
            if !(16..=128).contains(&key_id.len()) || !key_id.chars().all(|c| c.is_alphanumeric()) {
                return Err(QueryError::constraint(
                    Some(key_id),
                    "accessKeyId",
                    r"Member must satisfy regular expression pattern: [\w]+",
                ));
            }
            let user = key_owner(iam, principal, req)?;
            iam.delete_access_key(&user, key_id).await?;
            return Ok(None);
        }
        "CreateRole" => {
            let name = name(req, "RoleName", "roleName")?;
            let path = path(req)?;
            let document = required(req, "AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
            check_policy(document)?;
            let description = description(req)?;
            let max_session_duration = max_session_duration(req)?.unwrap_or(3600);
            let role = iam
                .create_role(
                    NewRole {
                        name: name.to_string(),
                        path,
                        assume_role_policy_document: document.to_string(),
                        description: description.map(str::to_string),
                        max_session_duration,
                        tags: tags(req)?,
                    },
                    now,
                )
                .await?;
            format!("<Role>{}</Role>", role_xml(&role, true))
        }
        "GetRole" => {
            let name = name(req, "RoleName", "roleName")?;
            let role = iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            format!("<Role>{}<RoleLastUsed/></Role>", role_xml(&role, true))
        }
        "ListRoles" => {
            let prefix = path_prefix(req)?;
            let roles: Vec<Role> = iam
                .roles()
                .into_iter()
                .filter(|r| r.path.starts_with(&prefix))
                .collect();
            let (page, marker) = paginate(req, &roles, |r| r.name.to_lowercase())?;
            let items: String = page
                .iter()
                .map(|r| format!("<member>{}</member>", role_xml(r, false)))
                .collect();
            format!("<Roles>{items}</Roles>{}", truncation_xml(marker))
        }
        "AttachRolePolicy" | "DetachRolePolicy" => {
            let name = name(req, "RoleName", "roleName")?;
            let arn = required(req, "PolicyArn", "policyArn")?;
            if !(20..=2048).contains(&arn.len()) || !arn.starts_with("arn:") {
                return Err(QueryError::new(
                    400,
                    "InvalidInput",
                    format!("ARN {arn} is not valid."),
                ));
            }
            if action == "AttachRolePolicy" {
                iam.attach_role_policy(name, arn).await?;
            } else {
                iam.detach_role_policy(name, arn).await?;
            }
            return Ok(None);
        }
        "ListAttachedRolePolicies" => {
            let name = name(req, "RoleName", "roleName")?;
            let role = iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            let policies: Vec<String> = role.attached_policies.clone();
            let (page, marker) = paginate(req, &policies, |arn| arn.clone())?;
            let items: String = page
                .iter()
                .map(|arn| {
                    format!(
                        "<member><PolicyName>{}</PolicyName><PolicyArn>{}</PolicyArn></member>",
                        xml_escape(arn.rsplit('/').next().unwrap_or(arn)),
                        xml_escape(arn)
                    )
                })
                .collect();
            format!(
                "<AttachedPolicies>{items}</AttachedPolicies>{}",
                truncation_xml(marker)
            )
        }
        "UpdateRole" => {
            let name = name(req, "RoleName", "roleName")?;
            let description = description(req)?.map(str::to_string);
            let max = max_session_duration(req)?;
            iam.update_role(name, |role| {
                if description.is_some() {
                    role.description = description;
                }
                if let Some(max) = max {
                    role.max_session_duration = max;
                }
                Ok(())
            })
            .await?;
            "".to_string()
        }
        "UpdateAssumeRolePolicy" => {
            let name = name(req, "RoleName", "roleName")?;
            let document = required(req, "PolicyDocument", "policyDocument")?;
            check_policy(document)?;
            iam.update_role(name, |role| {
                role.assume_role_policy_document = document.to_string();
                Ok(())
            })
            .await?;
            return Ok(None);
        }
        "PutRolePolicy" => {
            let name = name(req, "RoleName", "roleName")?;
            let policy_name = policy_name(req)?;
            let document = required(req, "PolicyDocument", "policyDocument")?;
            check_policy(document)?;
            iam.update_role(name, |role| {
                role.inline_policies
                    .insert(policy_name.to_string(), document.to_string());
                Ok(())
            })
            .await?;
            return Ok(None);
        }
        "GetRolePolicy" => {
            let name = name(req, "RoleName", "roleName")?;
            let policy_name = policy_name(req)?;
            let role = iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            let document = role
                .inline_policies
                .get(policy_name)
                .ok_or_else(|| no_such_role_policy(policy_name))?;
            format!(
                "<RoleName>{}</RoleName><PolicyName>{}</PolicyName><PolicyDocument>{}</PolicyDocument>",
                xml_escape(&role.name),
                xml_escape(policy_name),
                percent_encode(document)
            )
        }
        "DeleteRolePolicy" => {
            let name = name(req, "RoleName", "roleName")?;
            let policy_name = policy_name(req)?;
            iam.update_role(name, |role| {
                role.inline_policies
                    .remove(policy_name)
                    .map(drop)
                    .ok_or_else(|| no_such_role_policy(policy_name))
            })
            .await?;
            return Ok(None);
        }
        "ListRolePolicies" => {
            let name = name(req, "RoleName", "roleName")?;
            let role = iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            let names: Vec<String> = role.inline_policies.keys().cloned().collect();
            let (page, marker) = paginate(req, &names, |n| n.clone())?;
            let items: String = page
                .iter()
                .map(|n| format!("<member>{}</member>", xml_escape(n)))
                .collect();
            format!(
                "<PolicyNames>{items}</PolicyNames>{}",
                truncation_xml(marker)
            )
        }
        "ListInstanceProfilesForRole" => {
            // keks has no instance profiles yet: every role is in none.
            let name = name(req, "RoleName", "roleName")?;
            iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            "<InstanceProfiles/><IsTruncated>false</IsTruncated>".to_string()
        }
        "TagRole" => {
            let name = name(req, "RoleName", "roleName")?;
            let new_tags = tags(req)?;
            iam.update_role(name, |role| {
                for tag in new_tags {
                    match role.tags.iter_mut().find(|t| t.key == tag.key) {
                        Some(existing) => existing.value = tag.value,
                        None => role.tags.push(tag),
                    }
                }
                if role.tags.len() > 50 {
                    return Err(IamError::LimitExceeded(
                        "The number of tags has reached the maximum limit.".into(),
                    ));
                }
                Ok(())
            })
            .await?;
            return Ok(None);
        }
        "UntagRole" => {
            let name = name(req, "RoleName", "roleName")?;
            let keys: Vec<String> = req
                .list("TagKeys.member")
                .into_iter()
                .map(str::to_string)
                .collect();
            iam.update_role(name, |role| {
                role.tags.retain(|t| !keys.contains(&t.key));
                Ok(())
            })
            .await?;
            return Ok(None);
        }
        "ListRoleTags" => {
            let name = name(req, "RoleName", "roleName")?;
            let role = iam.role(name).ok_or_else(|| super::no_such_role(name))?;
            let (page, marker) = paginate(req, &role.tags, |t| t.key.clone())?;
            let items: String = page
                .iter()
                .map(|t| {
                    format!(
                        "<member><Key>{}</Key><Value>{}</Value></member>",
                        xml_escape(&t.key),
                        xml_escape(&t.value)
                    )
                })
                .collect();
            format!("<Tags>{items}</Tags>{}", truncation_xml(marker))
        }
        "DeleteRole" => {
            let name = name(req, "RoleName", "roleName")?;
            iam.delete_role(name).await?;
            return Ok(None);
        }
        other => {
            return Err(QueryError::new(
                501,
                "NotImplemented",
                format!("IAM action {other} is not implemented by keks yet"),
            ))
        }
    };
    Ok(Some(result))
}

fn description(req: &QueryRequest) -> Result<Option<&str>, QueryError> {
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
fn max_session_duration(req: &QueryRequest) -> Result<Option<u32>, QueryError> {
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
fn policy_name(req: &QueryRequest) -> Result<&str, QueryError> {
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

fn no_such_role_policy(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role policy with name {name} cannot be found."))
}

fn required<'a>(req: &'a QueryRequest, param: &str, member: &str) -> Result<&'a str, QueryError> {
    req.get(param)
        .ok_or_else(|| QueryError::constraint(None, member, "Member must not be null"))
}

/// A user or role name: 1–64 characters of `[\w+=,.@-]`.
fn name<'a>(req: &'a QueryRequest, param: &str, member: &str) -> Result<&'a str, QueryError> {
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

fn path(req: &QueryRequest) -> Result<String, QueryError> {
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

fn path_prefix(req: &QueryRequest) -> Result<String, QueryError> {
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

fn tags(req: &QueryRequest) -> Result<Vec<Tag>, QueryError> {
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
fn check_policy(document: &str) -> Result<(), QueryError> {
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
fn key_owner(iam: &Iam, principal: &Principal, req: &QueryRequest) -> Result<String, QueryError> {
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
fn paginate<'a, T>(
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

fn truncation_xml(marker: Option<String>) -> String {
    match marker {
        Some(m) => format!(
            "<IsTruncated>true</IsTruncated><Marker>{}</Marker>",
            xml_escape(&m)
        ),
        None => "<IsTruncated>false</IsTruncated>".to_string(),
    }
}

fn tags_xml(tags: &[Tag]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let items: String = tags
        .iter()
        .map(|t| {
            format!(
                "<member><Key>{}</Key><Value>{}</Value></member>",
                xml_escape(&t.key),
                xml_escape(&t.value)
            )
        })
        .collect();
    format!("<Tags>{items}</Tags>")
}

fn user_xml(user: &User, with_tags: bool) -> String {
    format!(
        "<Path>{}</Path><UserName>{}</UserName><UserId>{}</UserId><Arn>{}</Arn><CreateDate>{}</CreateDate>{}",
        xml_escape(&user.path),
        xml_escape(&user.name),
        user.user_id,
        xml_escape(&user.arn),
        iso8601(user.create_date),
        if with_tags { tags_xml(&user.tags) } else { String::new() }
    )
}

fn role_xml(role: &Role, with_tags: bool) -> String {
    let description = role
        .description
        .as_deref()
        .map(|d| format!("<Description>{}</Description>", xml_escape(d)))
        .unwrap_or_default();
    format!(
        "<Path>{}</Path><RoleName>{}</RoleName><RoleId>{}</RoleId><Arn>{}</Arn><CreateDate>{}</CreateDate><AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>{description}<MaxSessionDuration>{}</MaxSessionDuration>{}",
        xml_escape(&role.path),
        xml_escape(&role.name),
        role.role_id,
        xml_escape(&role.arn),
        iso8601(role.create_date),
        percent_encode(&role.assume_role_policy_document),
        role.max_session_duration,
        if with_tags { tags_xml(&role.tags) } else { String::new() }
    )
}

fn access_key_metadata_xml(key: &AccessKeyRecord) -> String {
    format!(
        "<member><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId><Status>{}</Status><CreateDate>{}</CreateDate></member>",
        xml_escape(&key.user_name),
        key.access_key_id,
        key.status,
        iso8601(key.create_date)
    )
}
