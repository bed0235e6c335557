//! The paths of a resource's subresources (`status`, `scale`, `finalize`, `binding`,
//! `eviction`, `token`, `log`, ...): which kind each reads or writes and with which
//! operations, named as kube-apiserver names them (`readAppsV1NamespacedDeploymentScale`).

use serde_json::{json, Map, Value};

use super::components::{Components, Gvk};
use super::operations::{insert, responses, schema_ref, Builder, Op, PathItem, OBJECT_TYPES};
use super::{names, params};
use crate::registry::ResourceDescriptor;

/// What a subresource is, for its operations.
enum SubKind {
    /// Read, replace and patch of the parent kind (status, ephemeralcontainers, ...), or of
    /// another kind (scale).
    ReadWrite(Gvk),
    /// Replace only (a namespace's finalize).
    ReplaceOnly(Gvk),
    /// Create of another kind (binding, eviction, token).
    Create(Gvk),
    /// A pod's log: plain text.
    Log,
    /// Anything else: read of the parent kind.
    Read(Gvk),
}

fn sub_kind(d: &ResourceDescriptor, sub: &str) -> SubKind {
    let parent = Gvk::new(&d.group, &d.version, &d.kind);
    match sub {
        "status" | "ephemeralcontainers" | "resize" | "approval" => SubKind::ReadWrite(parent),
        "scale" => SubKind::ReadWrite(Gvk::new("autoscaling", "v1", "Scale")),
        "finalize" => SubKind::ReplaceOnly(parent),
        "binding" => SubKind::Create(Gvk::new("", "v1", "Binding")),
        "eviction" => SubKind::Create(Gvk::new("policy", "v1", "Eviction")),
        "token" => SubKind::Create(Gvk::new("authentication.k8s.io", "v1", "TokenRequest")),
        "log" => SubKind::Log,
        _ => SubKind::Read(parent),
    }
}

pub(super) fn add_subresource(
    b: &Builder<'_>,
    c: &mut Components,
    item: &str,
    sub: &str,
    paths: &mut Map<String, Value>,
) {
    let ns = b.d.namespaced();
    let kind = b.d.kind.as_str();
    let mut p = PathItem::new(b.item_params());
    let kind_schema = |c: &mut Components, gvk: &Gvk| {
        schema_ref(&c.kind_ref(&gvk.group, &gvk.version, &gvk.kind))
    };
    let read = |gvk: &Gvk, schema: &Value| {
        b.op(Op {
            id: b.id("read", "", ns, sub, ""),
            action: "get",
            description: format!("read {sub} of the specified {kind}"),
            gvk,
            options: &[],
            body: None,
            responses: responses(&[200], schema, OBJECT_TYPES),
        })
    };
    let replace = |gvk: &Gvk, schema: &Value| {
        b.op(Op {
            id: b.id("replace", "", ns, sub, ""),
            action: "put",
            description: format!("replace {sub} of the specified {kind}"),
            gvk,
            options: params::WRITE,
            body: Some(Builder::body(schema)),
            responses: responses(&[200, 201], schema, OBJECT_TYPES),
        })
    };
    match sub_kind(b.d, sub) {
        SubKind::ReadWrite(gvk) => {
            let schema = kind_schema(c, &gvk);
            let patch_body = Builder::patch_body(c);
            p.add("get", read(&gvk, &schema));
            p.add("put", replace(&gvk, &schema));
            p.add(
                "patch",
                b.op(Op {
                    id: b.id("patch", "", ns, sub, ""),
                    action: "patch",
                    description: format!("partially update {sub} of the specified {kind}"),
                    gvk: &gvk,
                    options: params::PATCH,
                    body: Some(patch_body),
                    responses: responses(&[200, 201], &schema, OBJECT_TYPES),
                }),
            );
        }
        SubKind::ReplaceOnly(gvk) => {
            let schema = kind_schema(c, &gvk);
            p.add("put", replace(&gvk, &schema));
        }
        SubKind::Create(gvk) => {
            let schema = kind_schema(c, &gvk);
            p.add(
                "post",
                b.op(Op {
                    id: b.id("create", "", ns, sub, ""),
                    action: "post",
                    description: format!("create {sub} of{}{kind}", names::article(kind)),
                    gvk: &gvk,
                    options: params::WRITE,
                    body: Some(Builder::body(&schema)),
                    responses: responses(&[200, 201, 202], &schema, OBJECT_TYPES),
                }),
            );
        }
        SubKind::Log => {
            let text = json!({"type": "string"});
            p.add(
                "get",
                b.op(Op {
                    id: b.id("read", "", ns, sub, ""),
                    action: "get",
                    description: format!("read {sub} of the specified {kind}"),
                    gvk: &b.gvk,
                    options: params::LOG,
                    body: None,
                    responses: responses(
                        &[200],
                        &text,
                        &[
                            "application/json",
                            "application/vnd.kubernetes.protobuf",
                            "application/yaml",
                            "text/plain",
                        ],
                    ),
                }),
            );
        }
        SubKind::Read(gvk) => {
            let schema = kind_schema(c, &gvk);
            p.add("get", read(&gvk, &schema));
        }
    }
    insert(paths, format!("{item}/{sub}"), p);
}
