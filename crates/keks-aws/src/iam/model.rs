//! IAM's stored records (users, roles, access keys, role sessions) and their identifiers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::{random, Principal, PrincipalKind, KEY_ID_CHARS};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AIDA` + 17 characters.
    pub user_id: String,
    /// `arn:aws:iam::<acct>:user<path><name>`.
    pub arn: String,
    /// Unix seconds.
    pub create_date: u64,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub path: String,
    /// `AROA` + 17 characters.
    pub role_id: String,
    /// `arn:aws:iam::<acct>:role<path><name>`.
    pub arn: String,
    pub create_date: u64,
    /// The trust policy, as given (JSON text).
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    /// Seconds, 3600 to 43200.
    pub max_session_duration: u32,
    pub tags: Vec<Tag>,
    /// ARNs of the managed policies attached to the role, in attachment order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Inline policies: name → policy document (JSON text).
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub user_name: String,
    /// `Active`.
    pub status: String,
    pub create_date: u64,
}

/// The temporary credentials of one role session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `ASIA…`.
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: u64,
    pub role_name: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
}

impl Session {
    /// `arn:aws:sts::<acct>:assumed-role/<role-name>/<session>`.
    pub fn assumed_role_arn(&self, account: &str) -> String {
        format!(
            "arn:aws:sts::{account}:assumed-role/{}/{}",
            self.role_name, self.session_name
        )
    }

    /// `<role-id>:<session>`.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }

    pub fn principal(&self, account: &str) -> Principal {
        Principal {
            account: account.to_string(),
            arn: self.assumed_role_arn(account),
            user_id: self.assumed_role_id(),
            kind: PrincipalKind::AssumedRole {
                role_name: self.role_name.clone(),
                role_arn: self.role_arn.clone(),
                session_name: self.session_name.clone(),
            },
        }
    }
}

/// A unique id as IAM issues them: a 4-letter prefix (`AIDA`, `AROA`) and 17 characters.
pub fn new_unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random(KEY_ID_CHARS, 17))
}

/// A session token: opaque base64 text, long like AWS's.
pub fn new_session_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    format!("IQoJb3JpZ2luX2VjE{}", random(ALPHABET, 300))
}
