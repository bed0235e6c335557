//! The `paths` of one resource: its collection, object, all-namespaces, legacy watch and
//! subresource paths, each operation named, parameterised and typed as kube-apiserver's
//! (`operationId`, `x-kubernetes-action`, `x-kubernetes-group-version-kind`, options,
//! request body, responses).

use serde_json::{json, Map, Value};

use super::components::{Components, Gvk};
use super::{names, params, subresources};
use crate::registry::ResourceDescriptor;

/// Response media types of an object.
pub(super) const OBJECT_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
];

/// Response media types of a list or watch.
const STREAM_TYPES: &[&str] = &[
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
];

/// The patch types a PATCH accepts. Strategic merge patch is left out on purpose: kube
/// lists it, but our schemas do not carry `x-kubernetes-patch-strategy` /
/// `x-kubernetes-patch-merge-key`, so kubectl would compute strategic patches that replace
/// whole lists; without it kubectl computes them from its built-in types, which are right.
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
];

/// `{"200": {"description": "OK", "content": {...}}, ..., "401": ...}`.
pub(super) fn responses(codes: &[u16], schema: &Value, media_types: &[&str]) -> Value {
    let content: Map<String, Value> = media_types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": schema})))
        .collect();
    let mut out = Map::new();
    for code in codes {
        let description = match code {
            201 => "Created",
            202 => "Accepted",
            _ => "OK",
        };
        out.insert(
            code.to_string(),
            json!({"description": description, "content": content}),
        );
    }
    out.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

pub(super) fn schema_ref(r: &str) -> Value {
    json!({"$ref": r})
}

/// A path's operations and its path parameters; options every operation shares move to the
/// path, as kube-apiserver's spec builder does.
pub(super) struct PathItem {
    path_params: Vec<Value>,
    ops: Vec<(&'static str, Value)>,
}

impl PathItem {
    pub(super) fn new(path_params: Vec<Value>) -> Self {
        Self {
            path_params,
            ops: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, method: &'static str, op: Value) {
        self.ops.push((method, op));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub(super) fn into_json(mut self) -> Value {
        let names_of = |op: &Value| -> Vec<String> {
            op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut common: Vec<String> = self
            .ops
            .first()
            .map(|(_, op)| names_of(op))
            .unwrap_or_default();
        for (_, op) in &self.ops[1.min(self.ops.len())..] {
            let mine = names_of(op);
            common.retain(|n| mine.contains(n));
        }
        let mut shared = std::mem::take(&mut self.path_params);
        shared.extend(common.iter().map(|n| params::query(n)));
        shared.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let mut item = Map::new();
        for (method, mut op) in self.ops {
            if let Some(Value::Array(ps)) = op.get_mut("parameters") {
                ps.retain(|p| {
                    !p["name"]
                        .as_str()
                        .is_some_and(|n| common.iter().any(|c| c == n))
                });
                if ps.is_empty() {
                    op.as_object_mut().map(|o| o.remove("parameters"));
                }
            }
            item.insert(method.into(), op);
        }
        if !shared.is_empty() {
            item.insert("parameters".into(), Value::Array(shared));
        }
        Value::Object(item)
    }
}

/// Builds one resource's paths.
pub(super) struct Builder<'a> {
    pub(super) d: &'a ResourceDescriptor,
    pub(super) tag: String,
    /// `CoreV1`, `AppsV1`.
    pub(super) gv_camel: String,
    pub(super) gvk: Gvk,
    /// `$ref` of the kind.
    pub(super) object: Value,
}

/// One operation's facts.
pub(super) struct Op<'a> {
    pub(super) id: String,
    pub(super) action: &'a str,
    pub(super) description: String,
    pub(super) gvk: &'a Gvk,
    pub(super) options: &'a [&'a str],
    pub(super) body: Option<Value>,
    pub(super) responses: Value,
}

impl Builder<'_> {
    /// `listCoreV1NamespacedPod`, `deleteAppsV1CollectionNamespacedDeployment`,
    /// `readAppsV1NamespacedDeploymentScale`.
    pub(super) fn id(
        &self,
        verb: &str,
        infix: &str,
        namespaced: bool,
        sub: &str,
        suffix: &str,
    ) -> String {
        let ns = if namespaced { "Namespaced" } else { "" };
        format!(
            "{verb}{}{infix}{ns}{}{}{suffix}",
            self.gv_camel,
            self.d.kind,
            names::upper_first(sub)
        )
    }

    pub(super) fn op(&self, op: Op<'_>) -> Value {
        let mut parameters: Vec<Value> = op.options.iter().map(|p| params::query(p)).collect();
        parameters.push(params::query("pretty"));
        parameters.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let mut out = json!({
            "tags": [self.tag],
            "description": op.description,
            "operationId": op.id,
            "parameters": parameters,
            "responses": op.responses,
            "x-kubernetes-action": op.action,
            "x-kubernetes-group-version-kind": op.gvk.to_json(),
        });
        if let Some(body) = op.body {
            out["requestBody"] = body;
        }
        out
    }

    pub(super) fn body(schema: &Value) -> Value {
        json!({"content": {"*/*": {"schema": schema}}})
    }

    pub(super) fn patch_body(c: &mut Components) -> Value {
        let patch =
            schema_ref(&c.meta_ref::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Patch>(&[]));
        let content: Map<String, Value> = PATCH_TYPES
            .iter()
            .map(|t| (t.to_string(), json!({"schema": patch})))
            .collect();
        json!({"content": content})
    }

    pub(super) fn namespace_params(&self) -> Vec<Value> {
        if self.d.namespaced() {
            vec![params::namespace()]
        } else {
            Vec::new()
        }
    }

    pub(super) fn item_params(&self) -> Vec<Value> {
        let mut p = vec![params::name(&self.d.kind)];
        p.extend(self.namespace_params());
        p
    }

    pub(super) fn has(&self, verb: &str) -> bool {
        self.d.verbs.contains(&verb)
    }
}

/// Adds every path of a resource to `paths`.
pub(super) fn add_resource(
    d: &ResourceDescriptor,
    c: &mut Components,
    paths: &mut Map<String, Value>,
) {
    let b = Builder {
        d,
        tag: names::tag(&d.group, &d.version),
        gv_camel: format!(
            "{}{}",
            names::group_camel(&d.group),
            names::upper_first(&d.version)
        ),
        gvk: Gvk::new(&d.group, &d.version, &d.kind),
        object: schema_ref(&c.kind_ref(&d.group, &d.version, &d.kind)),
    };
    let prefix = names::api_prefix(&d.group, &d.version);
    let ns = d.namespaced();
    let scope = if ns {
        format!("{prefix}/namespaces/{{namespace}}")
    } else {
        prefix.clone()
    };
    let collection = format!("{scope}/{}", d.plural);
    let item = format!("{collection}/{{name}}");
    let kind = d.kind.as_str();
    let status = schema_ref(
        &c.meta_ref::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>(&[Gvk::new(
            "", "v1", "Status",
        )]),
    );
    let delete_options = schema_ref(
        &c.meta_ref::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>(&meta_kinds(
            d,
            "DeleteOptions",
        )),
    );
    let list = if b.has("list") || b.has("watch") {
        Some(schema_ref(&c.list_ref(&d.group, &d.version, kind)))
    } else {
        None
    };
    let watch_event = if b.has("watch") {
        Some(schema_ref(
            &c.meta_ref::<k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent<()>>(
                &meta_kinds(d, "WatchEvent"),
            ),
        ))
    } else {
        None
    };

    let mut coll = PathItem::new(b.namespace_params());
    if let (true, Some(list)) = (b.has("list"), &list) {
        coll.add(
            "get",
            b.op(Op {
                id: b.id("list", "", ns, "", ""),
                action: "list",
                description: format!("list or watch objects of kind {kind}"),
                gvk: &b.gvk,
                options: params::LIST,
                body: None,
                responses: responses(&[200], list, STREAM_TYPES),
            }),
        );
    }
    if b.has("create") {
        coll.add(
            "post",
            b.op(Op {
                id: b.id("create", "", ns, "", ""),
                action: "post",
                description: format!("create{}{kind}", names::article(kind)),
                gvk: &b.gvk,
                options: params::WRITE,
                body: Some(Builder::body(&b.object)),
                responses: responses(&[200, 201, 202], &b.object, OBJECT_TYPES),
            }),
        );
    }
    if b.has("deletecollection") {
        coll.add(
            "delete",
            b.op(Op {
                id: b.id("delete", "Collection", ns, "", ""),
                action: "deletecollection",
                description: format!("delete collection of {kind}"),
                gvk: &b.gvk,
                options: params::DELETE_COLLECTION,
                body: Some(Builder::body(&delete_options)),
                responses: responses(&[200], &status, OBJECT_TYPES),
            }),
        );
    }
    insert(paths, collection, coll);

    let mut one = PathItem::new(b.item_params());
    if b.has("get") {
        one.add(
            "get",
            b.op(Op {
                id: b.id("read", "", ns, "", ""),
                action: "get",
                description: format!("read the specified {kind}"),
                gvk: &b.gvk,
                options: &[],
                body: None,
                responses: responses(&[200], &b.object, OBJECT_TYPES),
            }),
        );
    }
    if b.has("update") {
        one.add(
            "put",
            b.op(Op {
                id: b.id("replace", "", ns, "", ""),
                action: "put",
                description: format!("replace the specified {kind}"),
                gvk: &b.gvk,
                options: params::WRITE,
                body: Some(Builder::body(&b.object)),
                responses: responses(&[200, 201], &b.object, OBJECT_TYPES),
            }),
        );
    }
    if b.has("patch") {
        one.add(
            "patch",
            b.op(Op {
                id: b.id("patch", "", ns, "", ""),
                action: "patch",
                description: format!("partially update the specified {kind}"),
                gvk: &b.gvk,
                options: params::PATCH,
                body: Some(Builder::patch_body(c)),
                responses: responses(&[200, 201], &b.object, OBJECT_TYPES),
            }),
        );
    }
    if b.has("delete") {
        let deleted = if d.strategy.returns_deleted_object() {
            &b.object
        } else {
            &status
        };
        one.add(
            "delete",
            b.op(Op {
                id: b.id("delete", "", ns, "", ""),
                action: "delete",
                description: format!("delete{}{kind}", names::article(kind)),
                gvk: &b.gvk,
                options: params::DELETE,
                body: Some(Builder::body(&delete_options)),
                responses: responses(&[200, 202], deleted, OBJECT_TYPES),
            }),
        );
    }
    insert(paths, item.clone(), one);

    if let (true, true, Some(list)) = (ns, b.has("list"), &list) {
        let mut all = PathItem::new(Vec::new());
        all.add(
            "get",
            b.op(Op {
                id: b.id("list", "", false, "", "ForAllNamespaces"),
                action: "list",
                description: format!("list or watch objects of kind {kind}"),
                gvk: &b.gvk,
                options: params::LIST,
                body: None,
                responses: responses(&[200], list, STREAM_TYPES),
            }),
        );
        insert(paths, format!("{prefix}/{}", d.plural), all);
    }

    if let Some(event) = &watch_event {
        add_watch_paths(&b, &prefix, event, paths);
    }
    for sub in &d.subresources {
        subresources::add_subresource(&b, c, &item, sub, paths);
    }
}

/// `DeleteOptions` and `WatchEvent` are published as kinds of the core group and of the
/// resource's group.
fn meta_kinds(d: &ResourceDescriptor, kind: &str) -> Vec<Gvk> {
    let mut gvks = vec![Gvk::new("", "v1", kind)];
    if !d.group.is_empty() {
        gvks.push(Gvk::new(&d.group, &d.version, kind));
    }
    gvks
}

/// The deprecated `/watch/` paths.
fn add_watch_paths(b: &Builder<'_>, prefix: &str, event: &Value, paths: &mut Map<String, Value>) {
    let d = b.d;
    let ns = d.namespaced();
    let kind = d.kind.as_str();
    let scope = if ns {
        format!("{prefix}/watch/namespaces/{{namespace}}")
    } else {
        format!("{prefix}/watch")
    };
    let watch_list = |id: String| {
        b.op(Op {
            id,
            action: "watchlist",
            description: format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
            gvk: &b.gvk,
            options: params::LIST,
            body: None,
            responses: responses(&[200], event, STREAM_TYPES),
        })
    };
    let mut list = PathItem::new(b.namespace_params());
    list.add("get", watch_list(b.id("watch", "", ns, "", "List")));
    insert(paths, format!("{scope}/{}", d.plural), list);

    let mut one = PathItem::new(b.item_params());
    one.add("get", b.op(Op {
        id: b.id("watch", "", ns, "", ""),
        action: "watch",
        description: format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
        gvk: &b.gvk,
        options: params::LIST,
        body: None,
        responses: responses(&[200], event, STREAM_TYPES),
    }));
    insert(paths, format!("{scope}/{}/{{name}}", d.plural), one);

    if ns {
        let mut all = PathItem::new(Vec::new());
        all.add(
            "get",
            watch_list(b.id("watch", "", false, "", "ListForAllNamespaces")),
        );
        insert(paths, format!("{prefix}/watch/{}", d.plural), all);
    }
}

pub(super) fn insert(paths: &mut Map<String, Value>, path: String, item: PathItem) {
    if !item.is_empty() {
        paths.insert(path, item.into_json());
    }
}
