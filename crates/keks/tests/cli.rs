//! The `keks` command line, driven as a user would: help, version, `up` with env.sh and the
//! health endpoint, `env`, a second `up` on a locked data dir, clean shutdown on SIGTERM and
//! SIGINT, and a restart after `kill -9`.

mod support;

use support::{http_get, keks, Keks};

#[test]
fn help_and_version() {
    let help = keks(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for command in ["up", "env", "version"] {
        assert!(text.contains(command), "--help lists {command}: {text}");
    }
    let version = keks(&["version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("keks {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn up_writes_env_serves_health_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut keks_up = Keks::start(dir.path());
    let endpoint = keks_up.var("KEKS_ENDPOINT_URL").to_string();
    assert_eq!(
        keks_up.var("KEKS_DATA_DIR"),
        dir.path().display().to_string()
    );
    assert!(
        !endpoint.ends_with(":0"),
        "env.sh reports the real port: {endpoint}"
    );

    let (status, body) = http_get(&endpoint, "/_keks/health");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    // A fresh keks has written only its own records (the AWS account) so far.
    assert!(
        health["store"]["revision"]
            .as_i64()
            .is_some_and(|r| (1..10).contains(&r)),
        "{health}"
    );
    assert_eq!(health["store"]["compacted"], 0);

    // `keks env` prints the same lines env.sh holds.
    let env = keks(&["env", "--data-dir", &dir.path().display().to_string()]);
    assert!(env.status.success());
    assert_eq!(
        String::from_utf8_lossy(&env.stdout),
        std::fs::read_to_string(dir.path().join("env.sh")).unwrap()
    );

    let status = keks_up.signal_and_wait("TERM");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(
        !dir.path().join("env.sh").exists(),
        "env.sh is removed on a clean stop"
    );
    let env = keks(&["env", "--data-dir", &dir.path().display().to_string()]);
    assert!(!env.status.success());
    assert!(String::from_utf8_lossy(&env.stderr).contains("no keks is running"));
}

#[test]
fn a_second_keks_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Keks::start(dir.path());
    let second = keks(&[
        "up",
        "--data-dir",
        &dir.path().display().to_string(),
        "--aws-port",
        "0",
    ]);
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("is in use by another keks process"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    assert!(
        !stderr.contains("backtrace"),
        "one clear line, no backtrace: {stderr}"
    );
    // The first one is unharmed.
    let (status, _) = http_get(first.var("KEKS_ENDPOINT_URL"), "/_keks/health");
    assert_eq!(status, 200);
    assert!(
        first.signal_and_wait("INT").success(),
        "clean exit on SIGINT"
    );
}

#[test]
fn restarts_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Keks::start(dir.path());
    let status = first.signal_and_wait("KILL");
    assert!(!status.success());
    // The lock died with the process; the stale env.sh is replaced.
    let mut second = Keks::start(dir.path());
    let (status, _) = http_get(second.var("KEKS_ENDPOINT_URL"), "/_keks/health");
    assert_eq!(status, 200);
    assert!(second.signal_and_wait("TERM").success());
}

#[test]
fn port_flags_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut keks_up = Keks::start_with(dir.path(), &["--aws-port", &port.to_string()]);
    assert_eq!(
        keks_up.var("KEKS_ENDPOINT_URL"),
        format!("http://127.0.0.1:{port}")
    );
    assert!(keks_up.signal_and_wait("TERM").success());
}
