//! A minimal etcd v3 client for the write comparison: `KV/Put` over gRPC, hand-rolled on
//! HTTP/2 (h2) with the few protobuf messages written out by hand, so no protoc and no gRPC
//! framework are needed. Messages follow etcd's `api/etcdserverpb/rpc.proto`.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{anyhow, bail, Context};
use bytes::{BufMut, Bytes, BytesMut};
use h2::client::SendRequest;
use prost::Message;
use tokio::net::TcpStream;

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct PutRequest {
    #[prost(bytes = "bytes", tag = "1")]
    pub key: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
    #[prost(int64, tag = "3")]
    pub lease: i64,
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
    #[prost(bool, tag = "5")]
    pub ignore_value: bool,
    #[prost(bool, tag = "6")]
    pub ignore_lease: bool,
}

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, Message)]
pub struct ResponseHeader {
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int64, tag = "3")]
    pub revision: i64,
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

/// `etcdserverpb.PutResponse` (its `prev_kv`, field 2, is never asked for).
#[derive(Clone, PartialEq, Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

const PUT_PATH: &str = "/etcdserverpb.KV/Put";

/// A few HTTP/2 connections to one etcd member; requests go round-robin over them.
pub struct EtcdClient {
    connections: Vec<SendRequest<Bytes>>,
    authority: String,
    next: AtomicUsize,
}

impl EtcdClient {
    /// Connects `connections` times to `url` (`http://host:port`; plaintext gRPC).
    pub async fn connect(url: &str, connections: usize) -> anyhow::Result<Self> {
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("etcd URL {url:?} must start with http:// (plaintext)"))?
            .trim_end_matches('/')
            .to_string();
        let mut senders = Vec::new();
        for _ in 0..connections.max(1) {
            let tcp = TcpStream::connect(&authority)
                .await
                .with_context(|| format!("connecting to etcd at {authority}"))?;
            tcp.set_nodelay(true)?;
            let (sender, connection) = h2::client::Builder::new()
                .initial_window_size(1 << 20)
                .initial_connection_window_size(8 << 20)
                .handshake::<_, Bytes>(tcp)
                .await
                .context("HTTP/2 handshake with etcd")?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            senders.push(sender);
        }
        Ok(Self {
            connections: senders,
            authority,
            next: AtomicUsize::new(0),
        })
    }

    /// Puts one key; returns the revision etcd assigned.
    pub async fn put(&self, key: Bytes, value: Bytes) -> anyhow::Result<i64> {
        let request = PutRequest {
            key,
            value,
            ..Default::default()
        };
        let response: PutResponse = self.unary(PUT_PATH, &request).await?;
        Ok(response.header.map(|h| h.revision).unwrap_or(0))
    }

    /// One unary gRPC call: a length-prefixed message out, one back, status in the trailers.
    async fn unary<Req: Message, Resp: Message + Default>(
        &self,
        path: &str,
        request: &Req,
    ) -> anyhow::Result<Resp> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        let mut sender = self.connections[i].clone().ready().await?;
        let http_request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.authority))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())?;
        let (response, mut send) = sender.send_request(http_request, false)?;
        let len = request.encoded_len();
        let mut frame = BytesMut::with_capacity(5 + len);
        frame.put_u8(0); // not compressed
        frame.put_u32(u32::try_from(len)?);
        request.encode(&mut frame)?;
        send.send_data(frame.freeze(), true)?;

        let response = response.await?;
        if response.status() != http::StatusCode::OK {
            bail!("etcd answered HTTP {}", response.status());
        }
        // A "trailers-only" answer carries the gRPC status in the headers.
        check_grpc_status(response.headers())?;
        let mut body = response.into_body();
        let mut message = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            message.extend_from_slice(&chunk);
        }
        if let Some(trailers) = body.trailers().await? {
            check_grpc_status(&trailers)?;
        }
        if message.len() < 5 {
            bail!("etcd sent no response message");
        }
        Ok(Resp::decode(&message[5..])?)
    }
}

fn check_grpc_status(headers: &http::HeaderMap) -> anyhow::Result<()> {
    match headers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("0") => Ok(()),
        Some(code) => {
            let message = headers
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            bail!("etcd gRPC status {code}: {message}")
        }
    }
}
