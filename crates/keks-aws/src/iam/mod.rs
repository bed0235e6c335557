//! The account's IAM: users and their access keys, roles, and the temporary credentials of
//! role sessions (STS AssumeRole). Kept in the store under `/keks/aws/iam/` — every change
//! is written through the store before it is acknowledged — and cached in memory, so that
//! [`Iam::lookup`] (run for every signed request) is synchronous and cheap.
//!
//! The IAM API over this model is in [`api`]; STS AssumeRole in [`crate::sts`].

pub mod api;
mod model;
mod params;
mod xml;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use keks_store::{Compare, KeyRange, RangeRequest, Store, StoreError, Txn, TxnOp};
use parking_lot::RwLock;

use crate::account::{Account, Principal, PrincipalKind};
use crate::sigv4::{self, SigV4Error};
pub use model::{AccessKeyRecord, Role, Session, Tag, User};
pub(crate) use params::is_name_char;

const USERS: &str = "/keks/aws/iam/users/";
const ROLES: &str = "/keks/aws/iam/roles/";
const ACCESS_KEYS: &str = "/keks/aws/iam/access-keys/";
const SESSIONS: &str = "/keks/aws/iam/sessions/";

/// At most this many access keys per user, as IAM's quota.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// What an access key id stands for: the secret to check signatures with, the session
/// token the request must carry (temporary credentials only), and the principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub principal: Principal,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("The security token included in the request is invalid.")]
    Unknown,
    #[error("The security token included in the request is expired")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("a stored IAM record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
}

/// The account's IAM; clones share it.
#[derive(Clone)]
pub struct Iam {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    account: Account,
    state: RwLock<State>,
    /// Serializes changes within this process (check, then write through the store).
    writes: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// By lowercase name: IAM names are unique regardless of case.
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
    access_keys: HashMap<String, AccessKeyRecord>,
    sessions: HashMap<String, Session>,
}

/// What CreateRole takes.
#[derive(Clone, Debug, Default)]
pub struct NewRole {
    pub name: String,
    pub path: String,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub tags: Vec<Tag>,
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An ISO 8601 UTC time, as IAM and STS write them: `2026-11-23T11:20:00Z`.
pub fn iso8601(unix_seconds: u64) -> String {
    jiff::Timestamp::from_second(unix_seconds as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Iam {
    /// Loads the account's IAM entities from the store.
    pub async fn load(store: Arc<dyn Store>, account: Account) -> Result<Self, IamError> {
        let mut state = State::default();
        for kv in list(store.as_ref(), USERS).await? {
            let user: User = serde_json::from_slice(&kv)?;
            state.users.insert(user.name.to_lowercase(), user);
        }
        for kv in list(store.as_ref(), ROLES).await? {
            let role: Role = serde_json::from_slice(&kv)?;
            state.roles.insert(role.name.to_lowercase(), role);
        }
        for kv in list(store.as_ref(), ACCESS_KEYS).await? {
            let key: AccessKeyRecord = serde_json::from_slice(&kv)?;
            state.access_keys.insert(key.access_key_id.clone(), key);
        }
        for kv in list(store.as_ref(), SESSIONS).await? {
            let session: Session = serde_json::from_slice(&kv)?;
            state
                .sessions
                .insert(session.access_key_id.clone(), session);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                account,
                state: RwLock::new(state),
                writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn account(&self) -> &Account {
        &self.inner.account
    }

    /// The credential an access key id stands for, at `now`: the root key, an IAM user's
    /// key, or a role session's temporary key (refused once expired).
    pub fn lookup(&self, access_key_id: &str, now: SystemTime) -> Result<Credential, LookupError> {
        let account = &self.inner.account;
        if account.root.access_key_id == access_key_id {
            return Ok(Credential {
                secret_access_key: account.root.secret_access_key.clone(),
                session_token: None,
                principal: account.root_principal(),
            });
        }
        let state = self.inner.state.read();
        if let Some(key) = state.access_keys.get(access_key_id) {
            let user = state
                .users
                .get(&key.user_name.to_lowercase())
                .ok_or(LookupError::Unknown)?;
            return Ok(Credential {
                secret_access_key: key.secret_access_key.clone(),
                session_token: None,
                principal: Principal {
                    account: account.id.clone(),
                    arn: user.arn.clone(),
                    user_id: user.user_id.clone(),
                    kind: PrincipalKind::User {
                        name: user.name.clone(),
                    },
                },
            });
        }
        if let Some(session) = state.sessions.get(access_key_id) {
            if unix(now) >= session.expiration {
                return Err(LookupError::Expired);
            }
            return Ok(Credential {
                secret_access_key: session.secret_access_key.clone(),
                session_token: Some(session.session_token.clone()),
                principal: session.principal(&account.id),
            });
        }
        Err(LookupError::Unknown)
    }

    /// Authenticates a signed request at `now`: looks its access key up, checks the session
    /// token (required, and matching, for temporary credentials; refused with long-term
    /// ones) and verifies the signature. What the AWS front does for every request, and what
    /// a token authenticator does for a presigned STS URL.
    pub fn authenticate(
        &self,
        req: &sigv4::Request<'_>,
        sig: &sigv4::Signature,
        now: SystemTime,
    ) -> Result<Principal, SigV4Error> {
        let credential = self
            .lookup(&sig.scope.access_key, now)
            .map_err(|e| match e {
                LookupError::Unknown => SigV4Error::UnknownAccessKey,
                LookupError::Expired => SigV4Error::ExpiredToken,
            })?;
        if sigv4::session_token(req, sig) != credential.session_token {
            return Err(SigV4Error::UnknownAccessKey);
        }
        sigv4::verify(req, sig, &credential.secret_access_key, now)?;
        Ok(credential.principal)
    }

    pub fn user(&self, name: &str) -> Option<User> {
        self.inner
            .state
            .read()
            .users
            .get(&name.to_lowercase())
            .cloned()
    }

    pub fn user_by_arn(&self, arn: &str) -> Option<User> {
        self.inner
            .state
            .read()
            .users
            .values()
            .find(|u| u.arn == arn)
            .cloned()
    }

    /// Users in name order (case-insensitive).
    pub fn users(&self) -> Vec<User> {
        self.inner.state.read().users.values().cloned().collect()
    }

    pub fn role(&self, name: &str) -> Option<Role> {
        self.inner
            .state
            .read()
            .roles
            .get(&name.to_lowercase())
            .cloned()
    }

    /// The role with this ARN (`arn:aws:iam::<acct>:role/<path>/<name>`).
    pub fn role_by_arn(&self, arn: &str) -> Option<Role> {
        self.inner
            .state
            .read()
            .roles
            .values()
            .find(|r| r.arn == arn)
            .cloned()
    }

    /// Roles in name order (case-insensitive).
    pub fn roles(&self) -> Vec<Role> {
        self.inner.state.read().roles.values().cloned().collect()
    }

    /// A user's access keys, oldest first.
    pub fn access_keys(&self, user_name: &str) -> Vec<AccessKeyRecord> {
        let mut keys: Vec<_> = self
            .inner
            .state
            .read()
            .access_keys
            .values()
            .filter(|k| k.user_name.eq_ignore_ascii_case(user_name))
            .cloned()
            .collect();
        keys.sort_by(|a, b| {
            (a.create_date, &a.access_key_id).cmp(&(b.create_date, &b.access_key_id))
        });
        keys
    }

    pub async fn create_user(
        &self,
        name: &str,
        path: &str,
        tags: Vec<Tag>,
        now: SystemTime,
    ) -> Result<User, IamError> {
        let _writing = self.inner.writes.lock().await;
        let key = format!("{USERS}{}", name.to_lowercase());
        if self.user(name).is_some() {
            return Err(already_exists("User", name));
        }
        let user = User {
            name: name.to_string(),
            path: path.to_string(),
            user_id: model::new_unique_id("AIDA"),
            arn: format!("arn:aws:iam::{}:user{path}{name}", self.inner.account.id),
            create_date: unix(now),
            tags,
        };
        self.create(&key, &user).await.map_err(|e| match e {
            CreateError::Exists => already_exists("User", name),
            CreateError::Iam(e) => e,
        })?;
        self.inner
            .state
            .write()
            .users
            .insert(name.to_lowercase(), user.clone());
        Ok(user)
    }

    pub async fn delete_user(&self, name: &str) -> Result<(), IamError> {
        let _writing = self.inner.writes.lock().await;
        let Some(user) = self.user(name) else {
            return Err(no_such_user(name));
        };
        if !self.access_keys(&user.name).is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        self.inner
            .store
            .delete(Bytes::from(format!("{USERS}{}", name.to_lowercase())))
            .await?;
        self.inner.state.write().users.remove(&name.to_lowercase());
        Ok(())
    }

    pub async fn create_access_key(
        &self,
        user_name: &str,
        now: SystemTime,
    ) -> Result<AccessKeyRecord, IamError> {
        let _writing = self.inner.writes.lock().await;
        let Some(user) = self.user(user_name) else {
            return Err(no_such_user(user_name));
        };
        if self.access_keys(&user.name).len() >= MAX_ACCESS_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
            )));
        }
        let record = AccessKeyRecord {
            access_key_id: crate::account::new_access_key_id(),
            secret_access_key: crate::account::new_secret(),
            user_name: user.name.clone(),
            status: "Active".into(),
            create_date: unix(now),
        };
        let key = format!("{ACCESS_KEYS}{}", record.access_key_id);
        self.create(&key, &record).await.map_err(|e| match e {
            CreateError::Exists => IamError::EntityAlreadyExists("access key id collision".into()),
            CreateError::Iam(e) => e,
        })?;
        self.inner
            .state
            .write()
            .access_keys
            .insert(record.access_key_id.clone(), record.clone());
        Ok(record)
    }

    pub async fn delete_access_key(
        &self,
        user_name: &str,
        access_key_id: &str,
    ) -> Result<(), IamError> {
        let _writing = self.inner.writes.lock().await;
        if self.user(user_name).is_none() {
            return Err(no_such_user(user_name));
        }
        let owned = self
            .inner
            .state
            .read()
            .access_keys
            .get(access_key_id)
            .is_some_and(|k| k.user_name.eq_ignore_ascii_case(user_name));
        if !owned {
            return Err(IamError::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            )));
        }
        self.inner
            .store
            .delete(Bytes::from(format!("{ACCESS_KEYS}{access_key_id}")))
            .await?;
        self.inner.state.write().access_keys.remove(access_key_id);
        Ok(())
    }

    pub async fn create_role(&self, new: NewRole, now: SystemTime) -> Result<Role, IamError> {
        let _writing = self.inner.writes.lock().await;
        let key = format!("{ROLES}{}", new.name.to_lowercase());
        if self.role(&new.name).is_some() {
            return Err(already_exists("Role", &new.name));
        }
        let role = Role {
            arn: format!(
                "arn:aws:iam::{}:role{}{}",
                self.inner.account.id, new.path, new.name
            ),
            name: new.name,
            path: new.path,
            role_id: model::new_unique_id("AROA"),
            create_date: unix(now),
            assume_role_policy_document: new.assume_role_policy_document,
            description: new.description,
            max_session_duration: new.max_session_duration,
            tags: new.tags,
            attached_policies: Vec::new(),
            inline_policies: Default::default(),
        };
        self.create(&key, &role).await.map_err(|e| match e {
            CreateError::Exists => already_exists("Role", &role.name),
            CreateError::Iam(e) => e,
        })?;
        self.inner
            .state
            .write()
            .roles
            .insert(role.name.to_lowercase(), role.clone());
        Ok(role)
    }

    /// Deletes a role. Sessions already issued for it keep authenticating until they expire,
    /// as in AWS.
    pub async fn delete_role(&self, name: &str) -> Result<(), IamError> {
        let _writing = self.inner.writes.lock().await;
        let Some(role) = self.role(name) else {
            return Err(no_such_role(name));
        };
        if !role.attached_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        if !role.inline_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        self.inner
            .store
            .delete(Bytes::from(format!("{ROLES}{}", name.to_lowercase())))
            .await?;
        self.inner.state.write().roles.remove(&name.to_lowercase());
        Ok(())
    }

    /// Changes a role: `change` edits a copy (it must not rename it), which is written
    /// through the store, then cached. Nothing is written when `change` fails or changes
    /// nothing.
    pub async fn update_role(
        &self,
        name: &str,
        change: impl FnOnce(&mut Role) -> Result<(), IamError>,
    ) -> Result<Role, IamError> {
        let _writing = self.inner.writes.lock().await;
        let Some(mut role) = self.role(name) else {
            return Err(no_such_role(name));
        };
        let before = role.clone();
        change(&mut role)?;
        debug_assert_eq!(role.name, before.name, "update_role must not rename");
        if role != before {
            self.put_role(role.clone()).await?;
        }
        Ok(role)
    }

    /// Attaches a managed policy to a role. AWS-managed policies
    /// (`arn:aws:iam::aws:policy/…`) are accepted by ARN; keks has no customer-managed
    /// policies yet, so any other ARN does not exist. Attaching twice is a no-op.
    pub async fn attach_role_policy(
        &self,
        role_name: &str,
        policy_arn: &str,
    ) -> Result<(), IamError> {
        self.update_role(role_name, |role| {
            if !policy_arn.starts_with("arn:aws:iam::aws:policy/") {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {policy_arn} does not exist or is not attachable."
                )));
            }
            if !role.attached_policies.iter().any(|a| a == policy_arn) {
                role.attached_policies.push(policy_arn.to_string());
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Detaches a managed policy from a role.
    pub async fn detach_role_policy(
        &self,
        role_name: &str,
        policy_arn: &str,
    ) -> Result<(), IamError> {
        self.update_role(role_name, |role| {
            let before = role.attached_policies.len();
            role.attached_policies.retain(|a| a != policy_arn);
            if role.attached_policies.len() == before {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {policy_arn} was not found."
                )));
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Writes a changed role through the store, then the cache (the caller holds `writes`).
    async fn put_role(&self, role: Role) -> Result<(), IamError> {
        let key = format!("{ROLES}{}", role.name.to_lowercase());
        self.inner
            .store
            .put(Bytes::from(key), Bytes::from(serde_json::to_vec(&role)?))
            .await?;
        self.inner
            .state
            .write()
            .roles
            .insert(role.name.to_lowercase(), role);
        Ok(())
    }

    /// Issues temporary credentials for a session of `role` lasting `duration` from `now`.
    /// Validation (duration bounds, session name) is the caller's; expired sessions are
    /// pruned here.
    pub async fn assume_role(
        &self,
        role: &Role,
        session_name: &str,
        duration: Duration,
        now: SystemTime,
    ) -> Result<Session, IamError> {
        let _writing = self.inner.writes.lock().await;
        let expired: Vec<String> = self
            .inner
            .state
            .read()
            .sessions
            .values()
            .filter(|s| s.expiration <= unix(now))
            .map(|s| s.access_key_id.clone())
            .collect();
        if !expired.is_empty() {
            self.inner
                .store
                .txn(
                    Txn::new().and_then(
                        expired
                            .iter()
                            .map(|id| TxnOp::delete(format!("{SESSIONS}{id}"))),
                    ),
                )
                .await?;
            let mut state = self.inner.state.write();
            for id in &expired {
                state.sessions.remove(id);
            }
        }
        let session = Session {
            access_key_id: format!(
                "ASIA{}",
                crate::account::random(crate::account::KEY_ID_CHARS, 16)
            ),
            secret_access_key: crate::account::new_secret(),
            session_token: model::new_session_token(),
            expiration: unix(now) + duration.as_secs(),
            role_name: role.name.clone(),
            role_arn: role.arn.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.to_string(),
        };
        let key = format!("{SESSIONS}{}", session.access_key_id);
        self.create(&key, &session).await.map_err(|e| match e {
            CreateError::Exists => IamError::EntityAlreadyExists("access key id collision".into()),
            CreateError::Iam(e) => e,
        })?;
        self.inner
            .state
            .write()
            .sessions
            .insert(session.access_key_id.clone(), session.clone());
        Ok(session)
    }

    /// Writes a new record, failing if the key exists (another process created it).
    async fn create<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), CreateError> {
        let bytes = Bytes::from(serde_json::to_vec(value).map_err(IamError::from)?);
        let done = self
            .inner
            .store
            .txn(
                Txn::new()
                    .when([Compare::absent(key.to_string())])
                    .and_then([TxnOp::put(key.to_string(), bytes)]),
            )
            .await
            .map_err(IamError::from)?;
        if done.succeeded {
            Ok(())
        } else {
            Err(CreateError::Exists)
        }
    }
}

enum CreateError {
    Exists,
    Iam(IamError),
}

impl From<IamError> for CreateError {
    fn from(e: IamError) -> Self {
        CreateError::Iam(e)
    }
}

fn already_exists(kind: &str, name: &str) -> IamError {
    IamError::EntityAlreadyExists(format!("{kind} with name {name} already exists."))
}

/// An IAM model error as the awsQuery services put it on the wire.
pub fn iam_error_to_query(e: IamError) -> crate::query::QueryError {
    e.into()
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

pub(crate) fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

async fn list(store: &dyn Store, prefix: &str) -> Result<Vec<Bytes>, StoreError> {
    let listed = store
        .range(RangeRequest::new(KeyRange::prefix(prefix.to_string())))
        .await?;
    Ok(listed.kvs.into_iter().map(|kv| kv.value).collect())
}

#[cfg(test)]
mod tests;
