//! The AWS account keks simulates: a 12-digit id and root credentials generated on first
//! start, kept in the store (`/keks/aws/account`), and the lookup of an access key to the
//! principal it belongs to. IAM users, roles and temporary credentials live in
//! [`crate::iam`].

use bytes::Bytes;
use keks_store::{Compare, Store, StoreError, Txn, TxnOp};
use rand::Rng;
use serde::{Deserialize, Serialize};

const KEY: &str = "/keks/aws/account";

/// One access key and who it belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The principal's ARN, e.g. `arn:aws:iam::123456789012:root`.
    pub arn: String,
    /// `UserId` as STS reports it (the account id for root).
    pub user_id: String,
}

/// The simulated account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub root: AccessKey,
}

/// Who a verified request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account: String,
    /// `arn:aws:iam::<acct>:root`, `arn:aws:iam::<acct>:user/<path>/<name>` or
    /// `arn:aws:sts::<acct>:assumed-role/<role-name>/<session>`.
    pub arn: String,
    /// `UserId` as STS reports it: the account id (root), the user id (`AIDA…`), or
    /// `<role-id>:<session>` (assumed role).
    pub user_id: String,
    pub kind: PrincipalKind,
}

/// What kind of identity a principal is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    User { name: String },
    /// A session of an IAM role (STS AssumeRole).
    AssumedRole {
        role_name: String,
        /// The IAM role's ARN, with its path: `arn:aws:iam::<acct>:role/<path>/<name>`.
        role_arn: String,
        session_name: String,
    },
}

pub(crate) const KEY_ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn random(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A long-term access key id: `AKIA` and 16 characters, as IAM issues them.
pub fn new_access_key_id() -> String {
    format!("AKIA{}", random(KEY_ID_CHARS, 16))
}

/// A 40-character secret access key.
pub fn new_secret() -> String {
    random(SECRET_CHARS, 40)
}

impl Account {
    /// Loads the account, creating it (and its root credentials) on first start.
    pub async fn load_or_create(store: &dyn Store) -> Result<Self, AccountError> {
        if let Some(kv) = store.get(KEY.as_bytes()).await? {
            return Ok(serde_json::from_slice(&kv.value)?);
        }
        let mut rng = rand::thread_rng();
        let id: String = format!("{}{}", rng.gen_range(1..10), random(b"0123456789", 11));
        let account = Account {
            root: AccessKey {
                access_key_id: new_access_key_id(),
                secret_access_key: new_secret(),
                arn: format!("arn:aws:iam::{id}:root"),
                user_id: id.clone(),
            },
            id,
        };
        let value = Bytes::from(serde_json::to_vec(&account)?);
        let created = store
            .txn(
                Txn::new()
                    .when([Compare::absent(KEY)])
                    .and_then([TxnOp::put(KEY, value)]),
            )
            .await?;
        if !created.succeeded {
            // Another process won the race; use what it stored.
            let kv = store
                .get(KEY.as_bytes())
                .await?
                .ok_or(AccountError::Vanished)?;
            return Ok(serde_json::from_slice(&kv.value)?);
        }
        Ok(account)
    }

    /// The root user as a principal (access keys, root's included, are looked up through
    /// [`crate::iam::Iam::lookup`]).
    pub fn root_principal(&self) -> Principal {
        Principal {
            account: self.id.clone(),
            arn: self.root.arn.clone(),
            user_id: self.root.user_id.clone(),
            kind: PrincipalKind::Root,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the stored account record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("the account record vanished while it was being created")]
    Vanished,
}
