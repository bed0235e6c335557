//! Get and list: single objects, and lists filtered by label and field selectors, paginated
//! with `limit`/`continue` at one consistent revision, as kube-apiserver serves them.

use base64::Engine as _;
use bytes::Bytes;
use keks_store::{KeyRange, RangeRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::object::{self, decode};
use super::{store_error, ClusterApi};
use crate::registry::{keys, ResourceDescriptor};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;

/// How `resourceVersion` is matched by a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RvMatch {
    /// Unset: "" is the latest, "0" is any, N is "not older than N".
    #[default]
    Unset,
    NotOlderThan,
    Exact,
}

/// The options of a list request.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// 0 = no limit.
    pub limit: usize,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub rv_match: RvMatch,
}

/// The decoded `continue` token: the revision of the first page and where to resume.
#[derive(Serialize, Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

impl ClusterApi {
    /// Reads one object.
    pub async fn get(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = keys::object_key(&self.cluster, d, namespace, name);
        let kv = self.store.get(&key).await.map_err(store_error)?;
        match kv {
            Some(kv) => decode(&kv.value, kv.mod_revision),
            None => Err(ApiError::not_found(d.group_resource(), name)),
        }
    }

    /// Reads one object as JSON bytes, without parsing it.
    pub async fn get_json(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let key = keys::object_key(&self.cluster, d, namespace, name);
        match self.store.get(&key).await.map_err(store_error)? {
            Some(kv) => object_json(&kv.value, kv.mod_revision),
            None => Err(ApiError::not_found(d.group_resource(), name)),
        }
    }

    /// Reads one object, or `None` when it does not exist.
    pub async fn try_get(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        match self.get(d, namespace, name).await {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects of a resource in one namespace (or all, with `None`).
    pub async fn list(
        &self,
        d: &ResourceDescriptor,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value, ApiError> {
        let mut items = Vec::new();
        let metadata = self
            .scan(d, namespace, opts, |kv| {
                let obj = decode(&kv.value, kv.mod_revision)?;
                let kept = matches(d, &obj, opts);
                if kept {
                    items.push(obj);
                }
                Ok(kept)
            })
            .await?;
        Ok(json!({
            "kind": format!("{}List", d.kind),
            "apiVersion": d.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    /// The same list as JSON bytes, built from the stored bytes: objects are parsed only
    /// when a selector has to look into them, and never serialized again.
    pub async fn list_json(
        &self,
        d: &ResourceDescriptor,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<u8>, ApiError> {
        let filtered = !opts.label_selector.is_empty() || !opts.field_selector.is_empty();
        let mut items: Vec<u8> = Vec::new();
        let mut count = 0usize;
        let metadata = self
            .scan(d, namespace, opts, |kv| {
                if filtered {
                    let obj = decode(&kv.value, kv.mod_revision)?;
                    if !matches(d, &obj, opts) {
                        return Ok(false);
                    }
                }
                if count > 0 {
                    items.push(b',');
                }
                count += 1;
                items.extend_from_slice(&object_json(&kv.value, kv.mod_revision)?);
                Ok(true)
            })
            .await?;
        let mut out = Vec::with_capacity(items.len() + 160);
        out.extend_from_slice(b"{\"apiVersion\":");
        out.extend_from_slice(&serde_json::to_vec(&d.api_version()).expect("strings serialize"));
        out.extend_from_slice(b",\"items\":[");
        out.extend_from_slice(&items);
        out.extend_from_slice(b"],\"kind\":");
        out.extend_from_slice(
            &serde_json::to_vec(&format!("{}List", d.kind)).expect("strings serialize"),
        );
        out.extend_from_slice(b",\"metadata\":");
        out.extend_from_slice(&serde_json::to_vec(&metadata).expect("JSON values serialize"));
        out.push(b'}');
        Ok(out)
    }

    /// Walks the objects of a list request in key order, handing each to `take` (which
    /// says whether it joins the page), and returns the list's metadata: its
    /// resourceVersion and, when the page filled before the range ended, `continue` and
    /// `remainingItemCount`.
    async fn scan(
        &self,
        d: &ResourceDescriptor,
        namespace: Option<&str>,
        opts: &ListOptions,
        mut take: impl FnMut(&keks_store::KeyValue) -> Result<bool, ApiError>,
    ) -> Result<Value, ApiError> {
        check_field_selector(d, &opts.field_selector)?;
        let prefix = keys::resource_prefix(&self.cluster, d, namespace);
        let range = KeyRange::prefix(prefix.clone());
        let (mut revision, mut start) = (0, range.start.clone());
        if let Some(token) = opts.continue_token.as_deref().filter(|t| !t.is_empty()) {
            let token = decode_continue(token)?;
            revision = token.rv;
            let mut key = prefix.to_vec();
            key.extend_from_slice(token.start.as_bytes());
            start = Bytes::from(key);
        } else if let Some(rv) = opts
            .resource_version
            .as_deref()
            .filter(|rv| !rv.is_empty() && *rv != "0")
        {
            let rv: i64 = rv
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?;
            if opts.rv_match == RvMatch::Exact {
                revision = rv;
            } else {
                let current = self.store.revisions().await.map_err(store_error)?.current;
                if rv > current {
                    return Err(ApiError::ServiceUnavailable(format!(
                        "Too large resource version: {rv}, current: {current}"
                    )));
                }
            }
        }
        let filtered = !opts.label_selector.is_empty() || !opts.field_selector.is_empty();
        // Fetch in chunks until the page is full or the range ends; selectors may skip many.
        let chunk = if opts.limit == 0 {
            0
        } else {
            opts.limit.max(500)
        };
        let mut taken = 0usize;
        // Set when the page filled before the range ended: the last key examined, and how
        // many keys follow it (reported only for unfiltered lists, as Kubernetes does).
        let mut cut: Option<(Bytes, Option<usize>)> = None;
        'pages: loop {
            let req = RangeRequest::new(range.starting_at(start.clone()))
                .at_revision(revision)
                .with_limit(chunk);
            let page = self.store.range(req).await.map_err(|e| match e {
                keks_store::StoreError::Compacted { .. } if opts.continue_token.is_some() => {
                    ApiError::Expired(EXPIRED_CONTINUE.into())
                }
                other => store_error(other),
            })?;
            revision = page.revision;
            let fetched = page.kvs.len();
            for (i, kv) in page.kvs.iter().enumerate() {
                if take(kv)? {
                    taken += 1;
                }
                if opts.limit > 0 && taken == opts.limit {
                    let more = i + 1 < fetched || page.more;
                    if more {
                        let remaining = (!filtered).then(|| page.count - (i + 1));
                        cut = Some((kv.key.clone(), remaining));
                    }
                    break 'pages;
                }
            }
            if !page.more || fetched == 0 {
                break;
            }
            let mut after = page.kvs[fetched - 1].key.to_vec();
            after.push(0);
            start = Bytes::from(after);
        }
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if let Some((last, remaining)) = cut {
            let relative = String::from_utf8_lossy(&last[prefix.len()..]).into_owned();
            metadata["continue"] = json!(encode_continue(revision, relative));
            if let Some(n) = remaining.filter(|n| *n > 0) {
                metadata["remainingItemCount"] = json!(n);
            }
        }
        Ok(metadata)
    }
}

/// A stored object as JSON bytes with its resourceVersion.
fn object_json(stored: &[u8], revision: i64) -> Result<Vec<u8>, ApiError> {
    match super::splice::with_resource_version(stored, revision) {
        Some(bytes) => Ok(bytes),
        None => Ok(serde_json::to_vec(&decode(stored, revision)?).expect("JSON values serialize")),
    }
}

/// Whether an object passes a request's selectors.
pub(crate) fn matches(d: &ResourceDescriptor, obj: &Value, opts: &ListOptions) -> bool {
    opts.label_selector.matches(object::labels(obj))
        && opts.field_selector.matches(|f| field_value(d, obj, f))
}

/// A selectable field's value.
pub(crate) fn field_value(d: &ResourceDescriptor, obj: &Value, field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some(object::name(obj).to_string()),
        "metadata.namespace" => Some(object::namespace(obj).to_string()),
        other => d.strategy.selectable_field(obj, other),
    }
}

/// Refuses field selectors on fields the resource does not index, as kube-apiserver does.
pub(crate) fn check_field_selector(
    d: &ResourceDescriptor,
    selector: &FieldSelector,
) -> Result<(), ApiError> {
    for r in &selector.requirements {
        let supported = matches!(r.field.as_str(), "metadata.name" | "metadata.namespace")
            || d.strategy.selectable_fields().contains(&r.field.as_str());
        if !supported {
            return Err(ApiError::BadRequest(format!(
                "field label not supported: {}",
                r.field
            )));
        }
    }
    Ok(())
}

fn encode_continue(rv: i64, start: String) -> String {
    let token = ContinueToken {
        v: TOKEN_VERSION.into(),
        rv,
        start: format!("{start}\u{0}"),
    };
    let json = serde_json::to_vec(&token).expect("token serializes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let bad = || {
        ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into())
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    // `start` is the last key returned plus a zero byte: the list resumes right after it.
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.v != TOKEN_VERSION || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}
