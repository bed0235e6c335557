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
    Command::new(keks_bin())
        .args(args)
        .env_remove("KEKS_DATA_DIR")
        .output()
        .expect("run keks")
}

/// Every port flag of `keks up`.
const PORT_FLAGS: &[&str] = &["--aws-port", "--kube-port"];

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

    /// Stops keks (SIGTERM) and starts it again on the same data dir and ports, so clients
    /// configured for the first run reach the second.
    pub fn restart(mut self) -> Keks {
        let port = |var: &str| self.var(var).rsplit(':').next().unwrap().to_string();
        let (aws, kube) = (port("KEKS_ENDPOINT_URL"), port("KEKS_KUBE_URL"));
        assert!(
            self.signal_and_wait("TERM").success(),
            "clean stop before restart"
        );
        let data_dir = self.data_dir.clone();
        drop(self);
        Keks::start_with(&data_dir, &["--aws-port", &aws, "--kube-port", &kube])
    }

    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("env.sh has no {name}: {:?}", self.env))
    }

    /// Sends `signal` (e.g. "TERM", "INT", "KILL") and waits for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
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
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A development cluster on a running keks, with its kubeconfig.
pub struct DevCluster {
    pub name: String,
    pub kubeconfig: PathBuf,
}

impl Keks {
    /// Creates a cluster with `keks dev cluster` and returns its kubeconfig.
    pub fn dev_cluster(&self, name: &str) -> DevCluster {
        let kubeconfig = self.data_dir.join(format!("{name}.kubeconfig"));
        let out = Command::new(keks_bin())
            .args(["dev", "cluster", name, "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run keks dev cluster");
        assert!(
            out.status.success(),
            "keks dev cluster failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        DevCluster {
            name: name.to_string(),
            kubeconfig,
        }
    }
}

/// What a kubectl run printed.
#[derive(Debug)]
pub struct KubectlOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl DevCluster {
    /// Runs kubectl against this cluster.
    pub fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.kubectl_with_stdin(args, None)
    }

    pub fn kubectl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
        let mut child = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl must be installed to run the Kubernetes black-box tests");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        KubectlOutput {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and fails the test if it fails; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.ok,
            "kubectl {args:?} failed: {}{}",
            out.stderr, out.stdout
        );
        out.stdout
    }

    /// Runs kubectl with a manifest on stdin (`-f -`).
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> String {
        let out = self.kubectl_with_stdin(args, Some(manifest));
        assert!(
            out.ok,
            "kubectl {args:?} failed: {}{}",
            out.stderr, out.stdout
        );
        out.stdout
    }

    /// `kubectl get ... -o json`, parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&full)).expect("kubectl -o json prints JSON")
    }
}
