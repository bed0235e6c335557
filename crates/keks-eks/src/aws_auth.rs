//! The `aws-auth` ConfigMap in kube-system, as aws-iam-authenticator reads it: `mapRoles`,
//! `mapUsers` and `mapAccounts` (YAML in string values), and the templates a mapped
//! username may use (`{{AccountID}}`, `{{SessionName}}`, `{{SessionNameRaw}}`,
//! `{{EC2PrivateDNSName}}`, `{{AccessKeyID}}`).

use serde::Deserialize;
use serde_json::Value;

use crate::caller::{strip_role_path, Caller};

#[derive(Debug, Deserialize, Default, PartialEq, Eq)]
pub struct RoleMapping {
    #[serde(default)]
    pub rolearn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize, Default, PartialEq, Eq)]
pub struct UserMapping {
    #[serde(default)]
    pub userarn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The mappings of one `aws-auth` ConfigMap.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AwsAuth {
    pub roles: Vec<RoleMapping>,
    pub users: Vec<UserMapping>,
    pub accounts: Vec<String>,
}

impl AwsAuth {
    /// Reads the ConfigMap object; malformed sections are skipped (as the authenticator
    /// logs and ignores them) and reported in the second value.
    pub fn from_config_map(obj: &Value) -> (Self, Vec<String>) {
        let data = &obj["data"];
        let mut problems = Vec::new();
        let section = |key: &str| -> Option<String> {
            data.get(key).and_then(Value::as_str).map(str::to_string)
        };
        let mut out = AwsAuth::default();
        if let Some(text) = section("mapRoles") {
            match serde_yaml::from_str::<Option<Vec<RoleMapping>>>(&text) {
                Ok(v) => out.roles = v.unwrap_or_default(),
                Err(e) => problems.push(format!("mapRoles: {e}")),
            }
        }
        if let Some(text) = section("mapUsers") {
            match serde_yaml::from_str::<Option<Vec<UserMapping>>>(&text) {
                Ok(v) => out.users = v.unwrap_or_default(),
                Err(e) => problems.push(format!("mapUsers: {e}")),
            }
        }
        if let Some(text) = section("mapAccounts") {
            match serde_yaml::from_str::<Option<Vec<String>>>(&text) {
                Ok(v) => out.accounts = v.unwrap_or_default(),
                Err(e) => problems.push(format!("mapAccounts: {e}")),
            }
        }
        (out, problems)
    }

    /// The username and groups of a caller, if mapped.
    pub fn map(&self, caller: &Caller) -> Option<(String, Vec<String>)> {
        let canonical = caller.canonical_arn();
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if let Some(r) = self
            .roles
            .iter()
            .find(|r| eq(&strip_role_path(&r.rolearn), &canonical))
        {
            let default = canonical.clone();
            return Some((
                expand(
                    if r.username.is_empty() {
                        &default
                    } else {
                        &r.username
                    },
                    caller,
                ),
                r.groups.clone(),
            ));
        }
        if let Some(u) = self.users.iter().find(|u| eq(&u.userarn, &canonical)) {
            return Some((
                expand(
                    if u.username.is_empty() {
                        &canonical
                    } else {
                        &u.username
                    },
                    caller,
                ),
                u.groups.clone(),
            ));
        }
        if self.accounts.iter().any(|a| a == &caller.account) {
            return Some((canonical, Vec::new()));
        }
        None
    }
}

/// Adds a role to `mapRoles` of the cluster's `aws-auth` (creating the ConfigMap if
/// needed), unless the role is mapped already.
pub async fn add_role_mapping(
    api: &keks_apiserver::ClusterApi,
    role_arn: &str,
    username: &str,
    groups: &[&str],
) -> Result<(), keks_apiserver::status::ApiError> {
    use keks_apiserver::rest::{UpdateOptions, WriteOptions};
    use keks_apiserver::status::ApiError;
    let Some(d) = api.registry.get("", "v1", "configmaps") else {
        return Ok(());
    };
    let entry = serde_json::json!({"rolearn": role_arn, "username": username, "groups": groups});
    let with_entry = |current: &str| -> Option<String> {
        let mut roles: Vec<Value> = serde_yaml::from_str::<Option<Vec<Value>>>(current)
            .ok()
            .flatten()
            .unwrap_or_default();
        if roles
            .iter()
            .any(|r| r["rolearn"].as_str() == Some(role_arn))
        {
            return None;
        }
        roles.push(entry.clone());
        serde_yaml::to_string(&roles).ok()
    };
    loop {
        match api.try_get(&d, "kube-system", "aws-auth").await? {
            None => {
                let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "aws-auth", "namespace": "kube-system"},
                    "data": {"mapRoles": with_entry("").unwrap_or_default()}});
                match api
                    .create(&d, "kube-system", cm, &WriteOptions::default())
                    .await
                {
                    Err(ApiError::AlreadyExists { .. }) => continue,
                    other => return other.map(|_| ()),
                }
            }
            Some(_) => {
                return api
                    .guaranteed_update(
                        &d,
                        "kube-system",
                        "aws-auth",
                        &UpdateOptions::default(),
                        0,
                        |current| {
                            let mut next = current.clone();
                            let roles = current["data"]["mapRoles"].as_str().unwrap_or_default();
                            if let Some(updated) = with_entry(roles) {
                                next["data"]["mapRoles"] = Value::String(updated);
                            }
                            Ok(next)
                        },
                    )
                    .await
                    .map(|_| ())
            }
        }
    }
}

/// Fills a username template for a caller.
pub fn expand(template: &str, caller: &Caller) -> String {
    let session_raw = caller.session_name().unwrap_or_default();
    // The authenticator replaces '@' in session names, which are not valid in usernames of
    // some consumers; {{SessionNameRaw}} keeps it.
    let session = session_raw.replace('@', "-");
    template
        .replace("{{AccountID}}", &caller.account)
        .replace("{{SessionNameRaw}}", session_raw)
        .replace("{{SessionName}}", &session)
        .replace("{{AccessKeyID}}", &caller.access_key_id)
        .replace("{{EC2PrivateDNSName}}", &ec2_private_dns_name(session_raw))
}

/// The private DNS name of an EC2 node whose instance role made the call: the session of
/// an instance profile is the instance id; keks' nodes answer from their simulated
/// instance once EC2 instances exist (until then, the session name stands in).
fn ec2_private_dns_name(session: &str) -> String {
    session.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caller(arn: &str) -> Caller {
        Caller {
            account: "123456789012".into(),
            arn: arn.into(),
            user_id: "AROAEXAMPLE:alice@example.com".into(),
            access_key_id: "ASIAEXAMPLE".into(),
        }
    }

    #[test]
    fn maps_roles_users_and_templates() {
        let cm = json!({"data": {
            "mapRoles": "- rolearn: arn:aws:iam::123456789012:role/ops/admin\n  username: admin:{{SessionName}}\n  groups:\n  - system:masters\n",
            "mapUsers": "- userarn: arn:aws:iam::123456789012:user/bob\n  username: bob\n  groups: [devs]\n",
        }});
        let (auth, problems) = AwsAuth::from_config_map(&cm);
        assert!(problems.is_empty());
        let c = caller("arn:aws:sts::123456789012:assumed-role/admin/alice@example.com");
        assert_eq!(
            auth.map(&c),
            Some((
                "admin:alice-example.com".into(),
                vec!["system:masters".into()]
            ))
        );
        assert_eq!(
            auth.map(&caller("arn:aws:iam::123456789012:user/bob")),
            Some(("bob".into(), vec!["devs".into()]))
        );
        assert_eq!(
            auth.map(&caller("arn:aws:iam::123456789012:user/eve")),
            None
        );
        let (_, problems) =
            AwsAuth::from_config_map(&json!({"data": {"mapRoles": "{not: [a list"}}));
        assert_eq!(problems.len(), 1);
    }
}
