//! Black-box harness: starts the real `keks` binary on a temporary data directory with
//! free ports, reads its env.sh, and stops it with a signal.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

pub fn keks_bin() -> &'static str {
    env!("CARGO_BIN_EXE_keks")
}

/// Runs `keks ARGS` to completion.
pub fn keks(args: &[&str]) -> Output {
    Command::new(keks_bin()).args(args).env_remove("KEKS_DATA_DIR").output().expect("run keks")
}

/// Every port flag of `keks up`.
const PORT_FLAGS: &[&str] = &["--aws-port"];

/// A running `keks up`.
pub struct Keks {
    pub child: Child,
    pub data_dir: PathBuf,
    pub env: HashMap<String, String>,
}

impl Keks {
    /// Starts `keks up` on `data_dir` with every port 0 (free ports) and waits for env.sh.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Same, with extra `keks up` flags; a port flag among them replaces its default 0.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Self {
        let env_file = data_dir.join("env.sh");
        let mut ports = Vec::new();
        for flag in PORT_FLAGS {
            if !extra.contains(flag) {
                ports.extend([*flag, "0"]);
            }
        }
        let _ = std::fs::remove_file(&env_file);
        let child = Command::new(keks_bin())
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(&ports)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keks up");
        let mut keks = Keks {
            child,
            data_dir: data_dir.to_path_buf(),
            env: HashMap::new(),
        };
        for _ in 0..600 {
            if let Ok(text) = std::fs::read_to_string(&env_file) {
                keks.env = parse_env(&text);
                return keks;
            }
            if let Some(status) = keks.child.try_wait().unwrap() {
                panic!("keks up exited early with {status}: {}", keks.stderr_now());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("keks up wrote no env.sh within 15 s");
    }

    pub fn var(&self, name: &str) -> &str {
        self.env.get(name).unwrap_or_else(|| panic!("env.sh has no {name}: {:?}", self.env))
    }

    /// Sends `signal` (e.g. "TERM", "INT", "KILL") and waits for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid} failed");
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("keks did not exit within 10 s of SIG{signal}");
    }

    fn stderr_now(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }

    /// Everything keks wrote to stderr (call after it exited).
    pub fn stderr(&mut self) -> String {
        self.stderr_now()
    }
}

impl Drop for Keks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `export NAME='value'` lines.
pub fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').replace(r"'\''", "'")))
        .collect()
}

/// A plain HTTP/1.1 GET; returns the status code and body.
pub fn http_get(base_url: &str, path: &str) -> (u16, String) {
    let authority = base_url.strip_prefix("http://").expect("http URL");
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
