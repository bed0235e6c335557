//! The IAM API (awsQuery, version 2010-05-08; IAM is global, signed for us-east-1): users,
//! access keys, roles with their managed and inline policies and tags, over [`Iam`]. Other
//! actions answer 501 `NotImplemented`. Parameters are checked in `params.rs`, XML is
//! written in `xml.rs`.

use std::time::SystemTime;

use super::params::{
    check_policy, description, key_owner, max_session_duration, name, no_such_role_policy,
    paginate, path, path_prefix, policy_name, required, tags, truncation_xml,
};
use super::xml::{access_key_metadata_xml, role_xml, user_xml};
use super::{iso8601, unix, Iam, IamError, NewRole, Role, User};
use crate::account::{Principal, PrincipalKind};
use crate::front::Response;
use crate::query::{self, percent_encode, xml_escape, QueryError, QueryRequest};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

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
