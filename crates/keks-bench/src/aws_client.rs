//! A minimal AWS client for the EKS benchmark: plain HTTP/1.1 to an AWS-side endpoint (keks'
//! AWS listener, moto's server) over keep-alive connections, one request in flight per
//! connection, each request signed with SigV4 in the Authorization header form by
//! keks-aws's `sigv4::sign` (as botocore signs: `host;x-amz-date`, the body's SHA-256).
//!
//! A signed request is valid for 15 minutes, so a phase can sign its requests once and send
//! them many times: the server still checks every signature, but the generator does not
//! spend its share of the two cores re-signing.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use keks_aws::sigv4;

use crate::timing;

/// An AWS endpoint and the credentials to sign for it.
pub struct AwsEndpoint {
    /// `host:port`, as connected to and as the Host header names it.
    addr: String,
    access_key: String,
    secret: String,
    region: String,
}

/// A request signed for an endpoint; send it as often as needed within 15 minutes.
#[derive(Clone)]
pub struct SignedRequest {
    method: Method,
    /// Path and query, as sent.
    target: String,
    host: HeaderValue,
    amz_date: HeaderValue,
    authorization: HeaderValue,
    content_type: Option<&'static str>,
    body: Bytes,
}

impl AwsEndpoint {
    /// `url` is `http://host:port` (no path); https is not supported (keks and moto serve
    /// their AWS APIs over plain HTTP locally).
    pub fn new(url: &str, access_key: &str, secret: &str, region: &str) -> anyhow::Result<Self> {
        let addr = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("the AWS endpoint {url} is not http://host:port"))?
            .trim_end_matches('/');
        if addr.contains('/') {
            bail!("the AWS endpoint {url} has a path");
        }
        Ok(Self {
            addr: addr.to_string(),
            access_key: access_key.to_string(),
            secret: secret.to_string(),
            region: region.to_string(),
        })
    }

    /// `host:port` of the endpoint.
    pub fn host(&self) -> &str {
        &self.addr
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Signs `method path?query` with `body` for `service`, at the current wall time.
    pub fn sign(
        &self,
        service: &str,
        method: Method,
        path: &str,
        query: &str,
        body: Bytes,
        content_type: Option<&'static str>,
    ) -> SignedRequest {
        let amz_date = sigv4::amz_date_of(timing::wall());
        let headers = vec![
            ("host".to_string(), self.addr.clone()),
            ("x-amz-date".to_string(), amz_date.clone()),
        ];
        let unsigned = sigv4::Request {
            method: method.as_str(),
            path,
            query,
            headers: &headers,
            body: &body,
        };
        let authorization = sigv4::sign(
            &unsigned,
            &self.access_key,
            &self.secret,
            &self.region,
            service,
            &amz_date,
            &["host", "x-amz-date"],
        );
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        SignedRequest {
            method,
            target,
            host: HeaderValue::from_str(&self.addr).expect("host:port is a header value"),
            amz_date: HeaderValue::from_str(&amz_date).expect("a date is a header value"),
            authorization: HeaderValue::from_str(&authorization)
                .expect("a signature is a header value"),
            content_type,
            body,
        }
    }

    /// A JSON request to a restJson1 service (EKS).
    pub fn sign_json(
        &self,
        service: &str,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&serde_json::Value>,
    ) -> SignedRequest {
        let body = body
            .map(|b| Bytes::from(serde_json::to_vec(b).expect("JSON values serialize")))
            .unwrap_or_default();
        let content_type = (!body.is_empty()).then_some("application/json");
        self.sign(service, method, path, query, body, content_type)
    }

    /// An awsQuery request (STS, EC2): the parameters form-encoded in a POST body.
    pub fn sign_query(&self, service: &str, params: &[(&str, &str)]) -> SignedRequest {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.sign(
            service,
            Method::POST,
            "/",
            "",
            Bytes::from(body),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
        )
    }

    /// Opens one keep-alive connection.
    pub async fn connect(self: &Arc<Self>) -> anyhow::Result<AwsConn> {
        let mut conn = AwsConn {
            endpoint: self.clone(),
            send: None,
            reconnects: 0,
        };
        conn.open().await?;
        Ok(conn)
    }
}

/// One HTTP/1.1 connection, reopened when the server closes it.
pub struct AwsConn {
    endpoint: Arc<AwsEndpoint>,
    send: Option<SendRequest<Full<Bytes>>>,
    /// Times the connection was reopened after the server closed it.
    pub reconnects: u64,
}

impl AwsConn {
    async fn open(&mut self) -> anyhow::Result<()> {
        let tcp = tokio::net::TcpStream::connect(&self.endpoint.addr)
            .await
            .with_context(|| format!("connecting to {}", self.endpoint.addr))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.send = Some(send);
        Ok(())
    }

    /// Sends a request and reads the whole response. A request that could not be sent
    /// because the server had closed the connection is sent once more on a new one.
    pub async fn call(&mut self, req: &SignedRequest) -> anyhow::Result<(StatusCode, Bytes)> {
        for attempt in 0..2 {
            if self.send.as_ref().is_none_or(|s| s.is_closed()) {
                if self.send.is_some() {
                    self.reconnects += 1;
                }
                self.open().await?;
            }
            let send = self.send.as_mut().expect("opened");
            let sent = match send.ready().await {
                Ok(()) => send.send_request(to_http(req)?).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.into_body().collect().await?.to_bytes();
                    return Ok((status, body));
                }
                Err(e) if attempt == 0 && (e.is_canceled() || e.is_closed()) => {
                    self.send = None;
                    self.reconnects += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        bail!(
            "{} {}: the server closed the connection twice",
            req.method,
            req.target
        )
    }

    /// Like [`call`](Self::call), but any status other than `expect` is an error.
    pub async fn expect(
        &mut self,
        req: &SignedRequest,
        expect: StatusCode,
    ) -> anyhow::Result<Bytes> {
        let (status, body) = self.call(req).await?;
        if status != expect {
            bail!(
                "{} {}: {status}: {}",
                req.method,
                req.target,
                String::from_utf8_lossy(&body[..body.len().min(500)])
            );
        }
        Ok(body)
    }
}

fn to_http(req: &SignedRequest) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(req.target.as_str())
        .header(http::header::HOST, req.host.clone())
        .header("x-amz-date", req.amz_date.clone())
        .header(http::header::AUTHORIZATION, req.authorization.clone())
        .header(http::header::ACCEPT, "application/json");
    if let Some(ct) = req.content_type {
        builder = builder.header(http::header::CONTENT_TYPE, ct);
    }
    Ok(builder.body(Full::new(req.body.clone()))?)
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in an XML document (awsQuery responses).
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    xml_texts(xml, tag).next()
}

/// The texts of every `<tag>…</tag>` in an XML document, in order.
pub fn xml_texts<'a>(xml: &'a str, tag: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_encoding() {
        let xml = "<a><item><subnetId>s-1</subnetId><vpcId>v</vpcId></item><item><subnetId>s-2</subnetId></item></a>";
        assert_eq!(
            xml_texts(xml, "subnetId").collect::<Vec<_>>(),
            ["s-1", "s-2"]
        );
        assert_eq!(xml_text(xml, "vpcId"), Some("v"));
        assert_eq!(xml_text(xml, "nope"), None);
        assert_eq!(encode("a b/c=="), "a%20b%2Fc%3D%3D");
    }
}
