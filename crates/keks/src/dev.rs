//! `keks dev cluster NAME --kubeconfig FILE`: asks the running keks for a bare development
//! cluster and writes a kubeconfig entry for it (cluster, admin user, context), merged into
//! FILE and made the current context.

use std::path::Path;

use anyhow::{bail, Context};
use serde_yaml::{Mapping, Value};

use crate::admin::DevCluster;
use crate::cli::DevClusterArgs;
use crate::datadir::DataDir;
use crate::env_file;

pub fn create_cluster(args: DevClusterArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(args.data_dir.resolve()?);
    let env = env_file::read(&dir)?;
    let endpoint = env
        .get("KEKS_ENDPOINT_URL")
        .context("env.sh has no KEKS_ENDPOINT_URL")?;
    let token = env
        .get("KEKS_ADMIN_TOKEN")
        .context("env.sh has no KEKS_ADMIN_TOKEN")?;
    let body = serde_json::json!({"name": args.name, "version": args.kubernetes_version});
    let response = http_post_json(endpoint, "/_keks/dev/clusters", token, &body)?;
    let cluster: DevCluster = serde_json::from_str(&response).context("reading keks' answer")?;
    write_kubeconfig(&args.kubeconfig, &cluster)?;
    println!(
        "cluster {} created; kubeconfig {} (context {})",
        cluster.name,
        args.kubeconfig.display(),
        cluster.name
    );
    Ok(())
}

/// Merges the cluster's entries into the kubeconfig at `path` (created if missing).
pub fn write_kubeconfig(path: &Path, c: &DevCluster) -> anyhow::Result<()> {
    use base64::Engine as _;
    let mut config: Value = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => serde_yaml::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        _ => serde_yaml::from_str("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\npreferences: {}\n")?,
    };
    let user = format!("{}-admin", c.name);
    let ca = base64::engine::general_purpose::STANDARD.encode(&c.certificate_authority_pem);
    let entry = |name: &str, key: &str, body: Value| {
        let mut m = Mapping::new();
        m.insert("name".into(), name.into());
        m.insert(key.into(), body);
        Value::Mapping(m)
    };
    let cluster: Value = serde_yaml::from_str(&format!(
        "server: {}\ncertificate-authority-data: {ca}\n",
        c.server
    ))?;
    let context: Value = serde_yaml::from_str(&format!("cluster: {}\nuser: {user}\n", c.name))?;
    let user_body: Value = serde_yaml::from_str(&format!("token: {}\n", c.token))?;
    upsert(&mut config, "clusters", entry(&c.name, "cluster", cluster));
    upsert(&mut config, "contexts", entry(&c.name, "context", context));
    upsert(&mut config, "users", entry(&user, "user", user_body));
    config["current-context"] = c.name.clone().into();
    let text = serde_yaml::to_string(&config)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    env_file::restrict_to_owner(path)
}

fn upsert(config: &mut Value, list: &str, item: Value) {
    if !config[list].is_sequence() {
        config[list] = Value::Sequence(Vec::new());
    }
    let seq = config[list].as_sequence_mut().expect("a sequence");
    seq.retain(|e| e["name"] != item["name"]);
    seq.push(item);
}

/// A minimal HTTP/1.1 POST of JSON to keks' own listener on loopback.
pub fn http_post_json(
    endpoint: &str,
    path: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let authority = endpoint
        .strip_prefix("http://")
        .context("KEKS_ENDPOINT_URL is not an http URL")?;
    let mut stream = std::net::TcpStream::connect(authority)
        .with_context(|| format!("connecting to keks at {endpoint}; is `keks up` running?"))?;
    let payload = serde_json::to_vec(body)?;
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", payload.len())?;
    stream.write_all(&payload)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("keks sent no HTTP status")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    if status != 200 {
        bail!("keks refused: {} {}", status, body.trim());
    }
    Ok(body)
}
