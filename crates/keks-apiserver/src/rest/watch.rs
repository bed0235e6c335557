//! Watch: the store's events for one resource as Kubernetes watch events, with every
//! `resourceVersion` mode, selectors (an object leaving the selection is DELETED, one
//! entering it is ADDED), bookmarks, initial events, and a timeout on the clock.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use keks_core::ClockExt;
use keks_store::{EventKind, KeyRange, WatchRequest};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::object::{decode, set_resource_version};
use super::read::{check_field_selector, matches, ListOptions};
use super::ClusterApi;
use crate::registry::{keys, ResourceDescriptor};
use crate::status::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
            Self::Bookmark => "BOOKMARK",
            Self::Error => "ERROR",
        }
    }
}

/// One event of a watch.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    pub type_: WatchEventType,
    pub object: Value,
}

impl WatchEvent {
    /// The `{"type": ..., "object": ...}` form sent on the wire.
    pub fn to_json(&self) -> Value {
        json!({"type": self.type_.as_str(), "object": self.object})
    }
}

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub list: ListOptions,
    pub allow_bookmarks: bool,
    /// `sendInitialEvents=true`: current objects first, then a bookmark marking their end.
    pub send_initial_events: bool,
    /// Ends the watch after this long; kube-apiserver's default is 30 to 60 minutes.
    pub timeout: Option<Duration>,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = WatchEvent> + Send>>;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl ClusterApi {
    /// Starts a watch. Errors known up front (bad selectors) fail the request; a
    /// resourceVersion that is too old yields a 410 `ERROR` event, as kube-apiserver does.
    pub async fn watch(
        &self,
        d: &ResourceDescriptor,
        namespace: Option<&str>,
        opts: WatchOptions,
    ) -> Result<WatchStream, ApiError> {
        check_field_selector(d, &opts.list.field_selector)?;
        let rv = opts.list.resource_version.clone().unwrap_or_default();
        let from_now = rv.is_empty() || rv == "0";
        let mut initial = Vec::new();
        let start = if from_now || opts.send_initial_events {
            let list = self
                .list(
                    d,
                    namespace,
                    &ListOptions {
                        resource_version: if from_now { None } else { Some(rv.clone()) },
                        ..opts.list.clone()
                    },
                )
                .await?;
            let revision: i64 = list["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            if let Some(items) = list["items"].as_array() {
                initial = items
                    .iter()
                    .map(|o| WatchEvent {
                        type_: WatchEventType::Added,
                        object: o.clone(),
                    })
                    .collect();
            }
            if opts.send_initial_events && opts.allow_bookmarks {
                let mut marker = bookmark(d, revision);
                marker["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                initial.push(WatchEvent {
                    type_: WatchEventType::Bookmark,
                    object: marker,
                });
            }
            revision
        } else {
            rv.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?
        };
        let prefix = keys::resource_prefix(&self.cluster, d, namespace);
        let request = WatchRequest::new(KeyRange::prefix(prefix)).from_revision(start + 1);
        let (tx, rx) = mpsc::channel::<WatchEvent>(256);
        let events = match self.store.watch(request).await {
            Ok(events) => events,
            Err(keks_store::StoreError::Compacted { compacted, .. }) => {
                let gone = gone_event(start, compacted);
                return Ok(Box::pin(futures::stream::iter([gone])));
            }
            Err(e) => return Err(super::store_error(e)),
        };
        let pump = Pump {
            d: d.clone(),
            opts,
            last_revision: start,
        };
        let clock = self.clock.clone();
        tokio::spawn(async move { pump.run(initial, events, tx, clock).await });
        Ok(Box::pin(tokio_stream_from(rx)))
    }
}

fn tokio_stream_from(mut rx: mpsc::Receiver<WatchEvent>) -> impl Stream<Item = WatchEvent> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn bookmark(d: &ResourceDescriptor, revision: i64) -> Value {
    json!({"kind": d.kind, "apiVersion": d.api_version(), "metadata": {"resourceVersion": revision.to_string()}})
}

fn gone_event(requested: i64, compacted: i64) -> WatchEvent {
    let status = ApiError::Gone(format!(
        "too old resource version: {requested} ({compacted})"
    ))
    .to_status();
    WatchEvent {
        type_: WatchEventType::Error,
        object: status,
    }
}

/// Moves events from the store to one watcher.
struct Pump {
    d: ResourceDescriptor,
    opts: WatchOptions,
    last_revision: i64,
}

impl Pump {
    async fn run(
        mut self,
        initial: Vec<WatchEvent>,
        mut events: keks_store::WatchStream,
        tx: mpsc::Sender<WatchEvent>,
        clock: keks_core::SharedClock,
    ) {
        for event in initial {
            if tx.send(event).await.is_err() {
                return;
            }
        }
        let timeout = clock.sleep(self.opts.timeout.unwrap_or(DEFAULT_TIMEOUT));
        tokio::pin!(timeout);
        let mut bookmarks = clock.interval(BOOKMARK_INTERVAL);
        bookmarks.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                _ = &mut timeout => return,
                _ = tx.closed() => return,
                _ = bookmarks.tick(), if self.opts.allow_bookmarks => {
                    let event = WatchEvent { type_: WatchEventType::Bookmark, object: bookmark(&self.d, self.last_revision) };
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
                next = events.next() => {
                    let event = match next {
                        None => return,
                        Some(Err(keks_store::StoreError::WatchLagged { .. })) => {
                            // The watcher fell behind; clients relist on a 410.
                            gone_event(self.last_revision, self.last_revision)
                        }
                        Some(Err(e)) => WatchEvent { type_: WatchEventType::Error, object: super::store_error(e).to_status() },
                        Some(Ok(event)) => match self.translate(event) {
                            Some(e) => e,
                            None => continue,
                        },
                    };
                    let is_error = event.type_ == WatchEventType::Error;
                    if tx.send(event).await.is_err() || is_error {
                        return;
                    }
                }
            }
        }
    }

    /// A store event as the watch event this watcher sees, if any.
    fn translate(&mut self, event: keks_store::Event) -> Option<WatchEvent> {
        let revision = event.kv.mod_revision;
        self.last_revision = revision;
        let old = event
            .prev_kv
            .as_ref()
            .and_then(|kv| decode(&kv.value, kv.mod_revision).ok());
        let old_matches = old
            .as_ref()
            .is_some_and(|o| matches(&self.d, o, &self.opts.list));
        match event.kind {
            EventKind::Delete => {
                let mut object = old?;
                set_resource_version(&mut object, revision);
                old_matches.then_some(WatchEvent {
                    type_: WatchEventType::Deleted,
                    object,
                })
            }
            EventKind::Put => {
                let object = decode(&event.kv.value, revision).ok()?;
                let new_matches = matches(&self.d, &object, &self.opts.list);
                let type_ = match (old.is_some() && old_matches, new_matches) {
                    (false, true) => WatchEventType::Added,
                    (true, true) => WatchEventType::Modified,
                    (true, false) => WatchEventType::Deleted,
                    (false, false) => return None,
                };
                Some(WatchEvent { type_, object })
            }
        }
    }
}
