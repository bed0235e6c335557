//! A minimal HTTPS client for the keks API server, as kubectl talks to it: TLS (rustls with
//! ring, trusting the kubeconfig's CA), ALPN `h2`, one HTTP/2 connection per benchmark client
//! (concurrent requests of one client would be streams on it), bearer token from the
//! kubeconfig.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Server address, TLS configuration and token from a kubeconfig.
pub struct Endpoint {
    /// `host:port` to connect to.
    addr: String,
    host: String,
    /// Path prefix of the cluster, e.g. `/clusters/bench` (no trailing slash).
    pub prefix: String,
    authorization: http::HeaderValue,
    tls: tokio_rustls::TlsConnector,
}

impl Endpoint {
    /// Reads the current context (or the first cluster and user) of a kubeconfig.
    pub fn from_kubeconfig(path: &std::path::Path) -> anyhow::Result<Arc<Endpoint>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        let doc: serde_yaml::Value = serde_yaml::from_str(&text)?;
        let current = doc["current-context"].as_str().unwrap_or_default();
        let context = doc["contexts"]
            .as_sequence()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["name"].as_str() == Some(current))
                    .or(cs.first())
            })
            .map(|c| c["context"].clone())
            .ok_or_else(|| anyhow!("kubeconfig has no context"))?;
        let named = |list: &str, name: Option<&str>, field: &str| {
            doc[list].as_sequence().and_then(|items| {
                items
                    .iter()
                    .find(|i| name.is_some() && i["name"].as_str() == name)
                    .or(items.first())
                    .map(|i| i[field].clone())
            })
        };
        let cluster = named("clusters", context["cluster"].as_str(), "cluster")
            .ok_or_else(|| anyhow!("kubeconfig has no cluster"))?;
        let user = named("users", context["user"].as_str(), "user")
            .ok_or_else(|| anyhow!("kubeconfig has no user"))?;
        let server = cluster["server"]
            .as_str()
            .ok_or_else(|| anyhow!("cluster has no server"))?;
        let ca_b64 = cluster["certificate-authority-data"]
            .as_str()
            .ok_or_else(|| anyhow!("cluster has no certificate-authority-data"))?;
        let token = user["token"]
            .as_str()
            .ok_or_else(|| anyhow!("user has no token"))?;
        Self::new(server, ca_b64, token)
    }

    /// A cluster's API at `server` (`https://host:port/prefix`), trusting the CA in
    /// `ca_b64` (base64 of PEM, as kubeconfigs and EKS's `certificateAuthority.data` carry
    /// it), with a bearer token.
    pub fn new(server: &str, ca_b64: &str, token: &str) -> anyhow::Result<Arc<Endpoint>> {
        let rest = server
            .strip_prefix("https://")
            .ok_or_else(|| anyhow!("server {server} is not https"))?;
        let (addr, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let host = addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(addr)
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let ca_pem = base64::engine::general_purpose::STANDARD.decode(ca_b64.trim())?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(Endpoint {
            addr: addr.to_string(),
            host,
            prefix: prefix.to_string(),
            authorization: http::HeaderValue::from_str(&format!("Bearer {token}"))?,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }))
    }

    /// Opens one HTTP/2 connection.
    pub async fn connect(self: &Arc<Self>) -> anyhow::Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.host.clone())?;
        let tls = self.tls.connect(name, tcp).await?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            bail!("server did not negotiate HTTP/2");
        }
        let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .handshake(TokioIo::new(tls))
            .await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            endpoint: self.clone(),
            send,
        })
    }
}

/// One HTTP/2 connection; clones share it (each request is a stream).
#[derive(Clone)]
pub struct Conn {
    endpoint: Arc<Endpoint>,
    send: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Sends a request to `path` (under the cluster prefix); returns the response head and
    /// its body as a stream.
    pub async fn send(
        &mut self,
        method: http::Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<http::Response<Incoming>> {
        let uri = format!(
            "https://{}{}{}",
            self.endpoint.addr, self.endpoint.prefix, path
        );
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(
                http::header::AUTHORIZATION,
                self.endpoint.authorization.clone(),
            )
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        self.send.ready().await?;
        Ok(self.send.send_request(req).await?)
    }

    /// A request whose whole response body is read; errors unless the status is `expect`.
    pub async fn call(
        &mut self,
        method: http::Method,
        path: &str,
        body: Option<Bytes>,
        expect: http::StatusCode,
    ) -> anyhow::Result<Bytes> {
        let resp = self.send(method.clone(), path, body).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if status != expect {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        Ok(bytes)
    }
}
