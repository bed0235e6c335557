//! The AWS front door with IAM users, roles and role sessions: requests signed as the
//! clients sign them, answered at chosen clock times (session expiry without waiting).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keks_aws::{sigv4, Account, AwsFront, HttpRequest, Iam, Response};
use keks_store::{MemoryStore, Store};

struct Caller {
    key: String,
    secret: String,
    token: Option<String>,
}

async fn front() -> AwsFront {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let account = Account::load_or_create(store.as_ref()).await.unwrap();
    let iam = Iam::load(store.clone(), account.clone()).await.unwrap();
    let network = keks_cloud::Network::load_or_create(store, "us-east-1", &account.id)
        .await
        .unwrap();
    AwsFront {
        account,
        iam,
        network,
        fleet: None,
        eks: None,
    }
}

fn root(front: &AwsFront) -> Caller {
    Caller {
        key: front.account.root.access_key_id.clone(),
        secret: front.account.root.secret_access_key.clone(),
        token: None,
    }
}

/// A fixed moment (tests pass time explicitly; nothing reads the system clock).
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Sends `body` to `service`, signed by `caller` at `now`, with `token` as the session
/// token header (overriding the caller's).
async fn call(
    front: &AwsFront,
    caller: &Caller,
    service: &str,
    body: &str,
    now: SystemTime,
    token: Option<&str>,
) -> (u16, String) {
    let amz_date = sigv4::amz_date_of(now);
    let mut headers = vec![
        ("host".to_string(), "127.0.0.1:7600".to_string()),
        ("x-amz-date".to_string(), amz_date.clone()),
    ];
    let mut signed = vec!["host", "x-amz-date"];
    if let Some(t) = token.or(caller.token.as_deref()) {
        headers.push(("x-amz-security-token".to_string(), t.to_string()));
        signed.push("x-amz-security-token");
    }
    let unsigned = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let auth = sigv4::sign(
        &unsigned,
        &caller.key,
        &caller.secret,
        "us-east-1",
        service,
        &amz_date,
        &signed,
    );
    headers.push(("authorization".to_string(), auth));
    let Response { status, body, .. } = front
        .handle(
            &HttpRequest {
                method: "POST",
                path: "/",
                query: "",
                headers,
                body: body.as_bytes(),
            },
            now,
        )
        .await;
    (status, String::from_utf8(body).unwrap())
}

fn element(xml: &str, name: &str) -> String {
    xml.split(&format!("<{name}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{name}>")).next())
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        .to_string()
}

const TRUST: &str = "%7B%22Version%22%3A%222012-10-17%22%7D";

#[tokio::test]
async fn assumed_role_sessions_need_their_token_and_expire() {
    let front = front().await;
    let now = t0();
    let root = root(&front);
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        &format!("Action=CreateRole&RoleName=ops&Path=%2Fteam%2F&MaxSessionDuration=7200&AssumeRolePolicyDocument={TRUST}"),
        now,
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let role_arn = element(&xml, "Arn");
    let role_id = element(&xml, "RoleId");
    assert!(role_arn.ends_with(":role/team/ops"), "{role_arn}");

    let (status, xml) = call(
        &front,
        &root,
        "sts",
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=alice&DurationSeconds=900"),
        now,
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let session = Caller {
        key: element(&xml, "AccessKeyId"),
        secret: element(&xml, "SecretAccessKey"),
        token: Some(element(&xml, "SessionToken")),
    };
    assert!(session.key.starts_with("ASIA"));

    let (status, xml) = call(
        &front,
        &session,
        "sts",
        "Action=GetCallerIdentity",
        now,
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(element(&xml, "UserId"), format!("{role_id}:alice"));
    assert!(element(&xml, "Arn").ends_with(":assumed-role/ops/alice"));

    // Without the token, or with another one: the key is not valid.
    let bare = Caller {
        key: session.key.clone(),
        secret: session.secret.clone(),
        token: None,
    };
    let (status, xml) = call(&front, &bare, "sts", "Action=GetCallerIdentity", now, None).await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (403, "InvalidClientTokenId")
    );
    let (status, xml) = call(
        &front,
        &session,
        "sts",
        "Action=GetCallerIdentity",
        now,
        Some("forged"),
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (403, "InvalidClientTokenId")
    );

    // 15 minutes later the session has expired: each protocol words it its own way.
    let later = now + Duration::from_secs(900);
    let (status, xml) = call(
        &front,
        &session,
        "sts",
        "Action=GetCallerIdentity",
        later,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (403, "ExpiredToken")
    );
    let (status, xml) = call(&front, &session, "iam", "Action=ListUsers", later, None).await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (403, "ExpiredToken")
    );
    let (status, xml) = call(&front, &session, "ec2", "Action=DescribeVpcs", later, None).await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "RequestExpired")
    );

    // Durations: the role's maximum, and role chaining's one hour.
    let (status, xml) = call(
        &front,
        &root,
        "sts",
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=bob&DurationSeconds=7201"),
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "ValidationError")
    );
    let (status, xml) = call(
        &front,
        &session,
        "sts",
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=chain&DurationSeconds=3601"),
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "ValidationError")
    );
    assert!(xml.contains("role chaining"), "{xml}");
    let (status, xml) = call(
        &front,
        &root,
        "sts",
        "Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/nope&RoleSessionName=x1",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (403, "AccessDenied")
    );
    assert!(xml.contains("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/nope"), "{xml}");
    let (status, xml) = call(
        &front,
        &root,
        "sts",
        &format!("Action=AssumeRole&RoleArn={role_arn}&RoleSessionName=a"),
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "ValidationError")
    );
    assert!(xml.contains("'roleSessionName'"), "{xml}");
}

#[tokio::test]
async fn iam_users_act_with_their_own_keys() {
    let front = front().await;
    let now = t0();
    let root = root(&front);
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateUser&UserName=carol",
        now,
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let user_id = element(&xml, "UserId");
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateAccessKey&UserName=carol",
        now,
        None,
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let carol = Caller {
        key: element(&xml, "AccessKeyId"),
        secret: element(&xml, "SecretAccessKey"),
        token: None,
    };
    let (status, xml) = call(&front, &carol, "sts", "Action=GetCallerIdentity", now, None).await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(element(&xml, "UserId"), user_id);
    assert!(element(&xml, "Arn").ends_with(":user/carol"));
    // GetUser without a name is the caller.
    let (_, xml) = call(&front, &carol, "iam", "Action=GetUser", now, None).await;
    assert_eq!(element(&xml, "UserName"), "carol");

    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=DeleteUser&UserName=carol",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (409, "DeleteConflict")
    );
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateUser&UserName=bad%20name",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "ValidationError")
    );
    assert!(
        xml.contains("at 'userName' failed to satisfy constraint"),
        "{xml}"
    );
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7Bnot",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "MalformedPolicyDocument")
    );
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateRole&RoleName=r",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (400, "ValidationError")
    );
    assert!(xml.contains("'assumeRolePolicyDocument'"), "{xml}");
    let (_, xml) = call(&front, &root, "iam", "Action=ListRoles", now, None).await;
    assert!(!xml.contains("<member>"), "no role was created: {xml}");
    let (status, xml) = call(
        &front,
        &root,
        "iam",
        "Action=CreateGroup&GroupName=g",
        now,
        None,
    )
    .await;
    assert_eq!(
        (status, element(&xml, "Code").as_str()),
        (501, "NotImplemented")
    );
    assert!(xml.contains("xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\""));
}
