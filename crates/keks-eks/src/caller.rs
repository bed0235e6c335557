//! Who is calling: the IAM identity behind a signed request or an `aws eks get-token` token,
//! and its canonical ARN (an assumed-role session canonicalizes to its role, without the
//! role's path, as aws-iam-authenticator does).

/// A verified AWS identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// As STS GetCallerIdentity reports it.
    pub arn: String,
    pub user_id: String,
    pub access_key_id: String,
}

impl Caller {
    /// The ARN access entries and aws-auth are keyed by.
    pub fn canonical_arn(&self) -> String {
        canonicalize(&self.arn)
    }

    /// The session name of an assumed-role identity.
    pub fn session_name(&self) -> Option<&str> {
        let rest = self.arn.split_once(":assumed-role/")?.1;
        rest.split_once('/').map(|(_, session)| session)
    }
}

/// `arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`; other ARNs as they are.
pub fn canonicalize(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [prefix, partition, "sts", "", account, resource] = parts.as_slice() {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or_default();
            return format!("{prefix}:{partition}:iam::{account}:role/{role}");
        }
    }
    arn.to_string()
}

/// A role ARN without its path (`role/a/b/name` → `role/name`), as EKS compares them.
pub fn strip_role_path(arn: &str) -> String {
    match arn.split_once(":role/") {
        Some((head, rest)) => format!("{head}:role/{}", rest.rsplit('/').next().unwrap_or(rest)),
        None => arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_roles_canonicalize_to_their_role() {
        assert_eq!(
            canonicalize("arn:aws:sts::123456789012:assumed-role/admin/alice"),
            "arn:aws:iam::123456789012:role/admin"
        );
        assert_eq!(
            canonicalize("arn:aws:iam::123456789012:user/bob"),
            "arn:aws:iam::123456789012:user/bob"
        );
        assert_eq!(
            strip_role_path("arn:aws:iam::123456789012:role/team/x/deployer"),
            "arn:aws:iam::123456789012:role/deployer"
        );
        let c = Caller {
            account: "123456789012".into(),
            arn: "arn:aws:sts::123456789012:assumed-role/admin/alice".into(),
            user_id: "AROAX:alice".into(),
            access_key_id: "ASIAX".into(),
        };
        assert_eq!(c.session_name(), Some("alice"));
    }
}
