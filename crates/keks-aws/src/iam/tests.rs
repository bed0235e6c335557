use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keks_store::{MemoryStore, Store};

use super::*;
use crate::account::Account;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

async fn fresh() -> (Arc<dyn Store>, Iam) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let account = Account::load_or_create(store.as_ref()).await.unwrap();
    let iam = Iam::load(store.clone(), account).await.unwrap();
    (store, iam)
}

fn role(name: &str, path: &str) -> NewRole {
    NewRole {
        name: name.into(),
        path: path.into(),
        assume_role_policy_document: "{}".into(),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
    }
}

#[tokio::test]
async fn users_and_keys_survive_a_reload_and_authenticate() {
    let (store, iam) = fresh().await;
    let now = at(1_800_000_000);
    let user = iam
        .create_user("Alice", "/team/", vec![], now)
        .await
        .unwrap();
    let account = iam.account().id.clone();
    assert_eq!(user.arn, format!("arn:aws:iam::{account}:user/team/Alice"));
    assert!(user.user_id.starts_with("AIDA") && user.user_id.len() == 21);
    assert!(matches!(
        iam.create_user("alice", "/", vec![], now).await,
        Err(IamError::EntityAlreadyExists(m)) if m == "User with name alice already exists."
    ));
    let key = iam.create_access_key("alice", now).await.unwrap();
    assert_eq!(key.user_name, "Alice");
    iam.create_access_key("Alice", now).await.unwrap();
    assert!(matches!(
        iam.create_access_key("Alice", now).await,
        Err(IamError::LimitExceeded(_))
    ));
    assert!(matches!(
        iam.delete_user("Alice").await,
        Err(IamError::DeleteConflict(_))
    ));

    let reloaded = Iam::load(store.clone(), iam.account().clone())
        .await
        .unwrap();
    let credential = reloaded.lookup(&key.access_key_id, now).unwrap();
    assert_eq!(credential.secret_access_key, key.secret_access_key);
    assert_eq!(credential.session_token, None);
    assert_eq!(credential.principal.arn, user.arn);
    assert_eq!(credential.principal.user_id, user.user_id);
    assert_eq!(
        credential.principal.kind,
        PrincipalKind::User {
            name: "Alice".into()
        }
    );
    assert_eq!(reloaded.user_by_arn(&user.arn), Some(user.clone()));

    for k in reloaded.access_keys("Alice") {
        reloaded
            .delete_access_key("Alice", &k.access_key_id)
            .await
            .unwrap();
    }
    assert_eq!(
        reloaded.lookup(&key.access_key_id, now),
        Err(LookupError::Unknown)
    );
    reloaded.delete_user("alice").await.unwrap();
    assert!(matches!(
        reloaded.delete_user("alice").await,
        Err(IamError::NoSuchEntity(m)) if m == "The user with name alice cannot be found."
    ));
    let again = Iam::load(store, reloaded.account().clone()).await.unwrap();
    assert!(again.users().is_empty());
}

#[tokio::test]
async fn root_key_is_the_account_root() {
    let (_, iam) = fresh().await;
    let root = iam.account().root.clone();
    let credential = iam.lookup(&root.access_key_id, at(0)).unwrap();
    assert_eq!(credential.principal.kind, PrincipalKind::Root);
    assert_eq!(credential.principal.arn, root.arn);
    assert_eq!(
        iam.lookup("AKIAIOSFODNN7EXAMPLE", at(0)),
        Err(LookupError::Unknown)
    );
}

#[tokio::test]
async fn role_sessions_expire_on_the_clock_and_survive_a_reload() {
    let (store, iam) = fresh().await;
    let now = at(1_800_000_000);
    let created = iam
        .create_role(role("Deployer", "/ci/"), now)
        .await
        .unwrap();
    let account = iam.account().id.clone();
    assert_eq!(
        created.arn,
        format!("arn:aws:iam::{account}:role/ci/Deployer")
    );
    assert!(created.role_id.starts_with("AROA") && created.role_id.len() == 21);
    assert_eq!(iam.role_by_arn(&created.arn), Some(created.clone()));
    assert!(matches!(
        iam.create_role(role("deployer", "/"), now).await,
        Err(IamError::EntityAlreadyExists(_))
    ));

    let session = iam
        .assume_role(&created, "build-7", Duration::from_secs(900), now)
        .await
        .unwrap();
    assert!(session.access_key_id.starts_with("ASIA") && session.access_key_id.len() == 20);
    let reloaded = Iam::load(store.clone(), iam.account().clone())
        .await
        .unwrap();
    let credential = reloaded
        .lookup(&session.access_key_id, now + Duration::from_secs(899))
        .unwrap();
    assert_eq!(
        credential.session_token.as_deref(),
        Some(session.session_token.as_str())
    );
    assert_eq!(
        credential.principal.arn,
        format!("arn:aws:sts::{account}:assumed-role/Deployer/build-7")
    );
    assert_eq!(
        credential.principal.user_id,
        format!("{}:build-7", created.role_id)
    );
    assert_eq!(
        credential.principal.kind,
        PrincipalKind::AssumedRole {
            role_name: "Deployer".into(),
            role_arn: created.arn.clone(),
            session_name: "build-7".into(),
        }
    );
    assert_eq!(
        reloaded.lookup(&session.access_key_id, now + Duration::from_secs(900)),
        Err(LookupError::Expired)
    );

    // A later AssumeRole prunes the expired session from the store.
    reloaded
        .assume_role(
            &created,
            "build-8",
            Duration::from_secs(900),
            now + Duration::from_secs(901),
        )
        .await
        .unwrap();
    let pruned = Iam::load(store, iam.account().clone()).await.unwrap();
    assert_eq!(
        pruned.lookup(&session.access_key_id, now),
        Err(LookupError::Unknown)
    );

    pruned.delete_role("DEPLOYER").await.unwrap();
    assert!(pruned.roles().is_empty());
    assert!(matches!(
        pruned.delete_role("Deployer").await,
        Err(IamError::NoSuchEntity(m)) if m == "The role with name Deployer cannot be found."
    ));
}
