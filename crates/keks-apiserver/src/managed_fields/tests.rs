//! Behaviour of managedFields and apply, with cases after structured-merge-diff's and
//! kube-apiserver's.

use serde_json::{json, Value};

use super::walk::{compare, merge, to_field_set};
use super::*;

fn writer<'a>(manager: &'a str, kind: (&str, &str, &str), crd: Option<&'a Value>) -> Writer<'a> {
    let (g, v, k) = kind;
    Writer {
        manager,
        api_version: if g.is_empty() {
            v.to_string()
        } else {
            format!("{g}/{v}")
        },
        subresource: "",
        now: "2026-01-01T00:00:00Z".into(),
        schema: Schema::of_kind(g, v, k, crd),
        status_split: k == "Deployment",
    }
}

const DEPLOY: (&str, &str, &str) = ("apps", "v1", "Deployment");
const CM: (&str, &str, &str) = ("", "v1", "ConfigMap");

fn deployment(replicas: i64, image: &str, ports: &[i64]) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx", "image": image,
                    "ports": ports.iter().map(|p| json!({"containerPort": p})).collect::<Vec<_>>(),
                }]},
            },
        },
    })
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry of {manager} in {obj}"))["fieldsV1"]
        .clone()
}

#[test]
fn apply_records_the_applied_fields_with_keys_and_atomic_structs() {
    let w = writer("kubectl", DEPLOY, None);
    let obj = apply(&w, None, &deployment(2, "nginx:1", &[80]), false).unwrap();
    let entry = &obj["metadata"]["managedFields"][0];
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(
        entry["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {},
                        }},
                    }}},
                },
            },
        })
    );
}

#[test]
fn reapply_updates_values_and_prunes_what_it_no_longer_applies() {
    let w = writer("kubectl", DEPLOY, None);
    let mut first = deployment(2, "nginx:1", &[80, 443]);
    first["metadata"]["labels"]["tier"] = json!("front");
    let live = apply(&w, None, &first, false).unwrap();
    let live = apply(&w, Some(&live), &deployment(3, "nginx:2", &[80]), false).unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    let c = &live["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:2");
    assert_eq!(c["ports"], json!([{"containerPort": 80}]));
    assert_eq!(live["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn fields_another_manager_owns_are_not_pruned() {
    let w = writer("kubectl", CM, None);
    let live = apply(
        &w,
        None,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}),
        false,
    )
    .unwrap();
    // Another applier applies `b` with the same value: shared ownership.
    let other = writer("other", CM, None);
    let live = apply(
        &other,
        Some(&live),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "2"}}),
        false,
    )
    .unwrap();
    let live = apply(
        &w,
        Some(&live),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}),
        false,
    )
    .unwrap();
    assert_eq!(live["data"], json!({"b": "2"}));
    assert_eq!(fields_of(&live, "other"), json!({"f:data": {"f:b": {}}}));
}

#[test]
fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
    let w = writer("kubectl", DEPLOY, None);
    let mut live = apply(&w, None, &deployment(2, "nginx:1", &[80]), false).unwrap();
    // `kubectl scale`: an Update of spec.replicas through the scale subresource.
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaler = Writer {
        subresource: "scale",
        ..writer("kubectl", DEPLOY, None)
    };
    record_update(&scaler, Some(&live), &mut scaled);
    live = scaled;
    let scale_entry = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "scale")
        .unwrap();
    assert_eq!(
        scale_entry["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    // Re-applying the old replicas conflicts with the scaler.
    let err = apply(&w, Some(&live), &deployment(2, "nginx:1", &[80]), false).unwrap_err();
    let Conflict::Fields { message, causes } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        causes,
        vec![(
            "\"kubectl\" with subresource \"scale\" using apps/v1".to_string(),
            ".spec.replicas".to_string()
        )]
    );
    // Applying the live value does not conflict; forcing takes ownership.
    assert!(apply(&w, Some(&live), &deployment(5, "nginx:1", &[80]), false).is_ok());
    let forced = apply(&w, Some(&live), &deployment(2, "nginx:1", &[80]), true).unwrap();
    assert_eq!(forced["spec"]["replicas"], 2);
    let managers: Vec<&Value> = forced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["subresource"])
        .collect();
    assert_eq!(
        managers,
        vec![&Value::Null],
        "the scaler lost its only field"
    );
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let w = writer("a", CM, None);
    let cm = |d: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": d});
    let live = apply(&w, None, &cm(json!({"x": "1", "y": "1"})), false).unwrap();
    let err = apply(
        &writer("b", CM, None),
        Some(&live),
        &cm(json!({"x": "2", "y": "2"})),
        false,
    )
    .unwrap_err();
    let Conflict::Fields { message, causes } = err else {
        panic!()
    };
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\n- .data.y"
    );
    assert_eq!(causes.len(), 2);
}

#[test]
fn updates_record_added_fields_with_dot_for_new_maps_and_take_over_changed_ones() {
    let w = writer("kubectl-create", CM, None);
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}});
    record_update(&w, None, &mut cm);
    assert_eq!(
        fields_of(&cm, "kubectl-create"),
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
    assert_eq!(cm["metadata"]["managedFields"][0]["operation"], "Update");
    let old = cm.clone();
    cm["data"]["k"] = json!("w");
    cm["data"]["n"] = json!("1");
    record_update(&writer("kubectl-edit", CM, None), Some(&old), &mut cm);
    assert_eq!(
        fields_of(&cm, "kubectl-create"),
        json!({"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
    assert_eq!(
        fields_of(&cm, "kubectl-edit"),
        json!({"f:data": {"f:k": {}, "f:n": {}}})
    );
}

#[test]
fn created_built_ins_own_no_dot_for_their_non_pointer_structs() {
    let w = writer("kubectl-create", DEPLOY, None);
    let mut d = deployment(1, "nginx", &[]);
    record_update(&w, None, &mut d);
    let f = fields_of(&d, "kubectl-create");
    assert!(f["f:spec"].get(".").is_none(), "{f}");
    assert!(f["f:spec"]["f:template"].get(".").is_none(), "{f}");
    assert!(
        f["f:spec"]["f:template"]["f:spec"].get(".").is_none(),
        "{f}"
    );
    // The Go object's null `containers` is there already; an empty list is a leaf.
    let containers = &f["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(containers.get(".").is_none(), "{f}");
    assert!(
        containers["k:{\"name\":\"nginx\"}"]["f:ports"]
            .get(".")
            .is_none(),
        "{f}"
    );
}

#[test]
fn client_sent_entries_replace_and_a_single_empty_entry_resets() {
    let w = writer("m", CM, None);
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    record_update(&w, None, &mut cm);
    let old = cm.clone();
    // No managedFields in the update: the stored ones stay.
    let mut next = cm.clone();
    next["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    record_update(&w, Some(&old), &mut next);
    assert_eq!(
        next["metadata"]["managedFields"],
        old["metadata"]["managedFields"]
    );
    // An empty list does not clear them either.
    next["metadata"]["managedFields"] = json!([]);
    record_update(&w, Some(&old), &mut next);
    assert_eq!(
        next["metadata"]["managedFields"],
        old["metadata"]["managedFields"]
    );
    next["metadata"]["managedFields"] = json!([{}]);
    record_update(&w, Some(&old), &mut next);
    assert!(next["metadata"].get("managedFields").is_none());
}

#[test]
fn status_writes_record_the_status_subresource_and_main_writes_own_no_status() {
    let w = Writer {
        subresource: "status",
        ..writer("kube-controller-manager", DEPLOY, None)
    };
    let old = deployment(1, "nginx", &[80]);
    let mut new = old.clone();
    new["status"] = json!({"replicas": 1});
    record_update(&w, Some(&old), &mut new);
    let e = &new["metadata"]["managedFields"][0];
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {".": {}, "f:replicas": {}}})
    );
    let mut main = old.clone();
    main["status"] = json!({"replicas": 1});
    main["spec"]["replicas"] = json!(2);
    record_update(&writer("x", DEPLOY, None), Some(&old), &mut main);
    assert_eq!(fields_of(&main, "x"), json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn kubectl_takes_over_from_client_side_apply_through_last_applied() {
    let mut cfg = deployment(2, "nginx:1", &[80]);
    let last = cfg.to_string();
    cfg["metadata"]["annotations"] = json!({LAST_APPLIED: last});
    let mut live = cfg.clone();
    record_update(
        &writer("kubectl-client-side-apply", DEPLOY, None),
        None,
        &mut live,
    );
    let applied = deployment(3, "nginx:1", &[80]);
    // Another manager name conflicts...
    assert!(apply(&writer("other", DEPLOY, None), Some(&live), &applied, false).is_err());
    // ...kubectl does not: the annotation says those fields were its own.
    let out = apply(
        &writer("kubectl", DEPLOY, None),
        Some(&live),
        &applied,
        false,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    let ann: Value = serde_json::from_str(
        out["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ann["spec"]["replicas"], 3);
}

#[test]
fn custom_resources_merge_by_their_schema() {
    let schema = json!({"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                  "items": {"type": "object", "properties": {"id": {"type": "string"}, "v": {"type": "integer"}}}},
        "plain": {"type": "array", "items": {"type": "string"}},
    }}}});
    let kind = ("example.com", "v1", "Widget");
    let w = writer("a", kind, Some(&schema));
    let cr = |items: Value, plain: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"items": items, "plain": plain}})
    };
    let live = apply(
        &w,
        None,
        &cr(json!([{"id": "x", "v": 1}]), json!(["p"])),
        false,
    )
    .unwrap();
    assert_eq!(
        fields_of(&live, "a"),
        json!({"f:spec": {".": {}, "f:items": {"k:{\"id\":\"x\"}": {".": {}, "f:id": {}, "f:v": {}}}, "f:plain": {}}})
            ["f:spec"].as_object().map(|m| {
                let mut m = m.clone();
                m.remove(".");
                json!({"f:spec": m})
            }).unwrap()
    );
    let b = writer("b", kind, Some(&schema));
    let live = apply(
        &b,
        Some(&live),
        &cr(json!([{"id": "y", "v": 2}]), json!(["p"])),
        false,
    )
    .unwrap();
    assert_eq!(
        live["spec"]["items"],
        json!([{"id": "x", "v": 1}, {"id": "y", "v": 2}])
    );
}

#[test]
fn merge_keeps_live_only_items_in_place_and_replaces_atomic_lists() {
    let s = Schema::of_kind("apps", "v1", "Deployment", None);
    let live = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "1"}, {"name": "sidecar", "image": "s"}, {"name": "b", "image": "1"}],
        "tolerations": [{"key": "x"}]}}}});
    let cfg = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "b", "image": "2"}, {"name": "a", "image": "2"}, {"name": "c", "image": "2"}],
        "tolerations": [{"key": "y"}]}}}});
    let out = merge(s, &live, &cfg).unwrap();
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sidecar", "b", "a", "c"]);
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "y"}])
    );
}

#[test]
fn compare_reports_added_modified_removed() {
    let s = Schema::of_kind("", "v1", "ConfigMap", None);
    let c = compare(
        s,
        Some(&json!({"data": {"a": "1", "b": "1"}})),
        Some(&json!({"data": {"a": "2", "c": "1"}})),
    );
    assert_eq!(c.modified.to_fields_v1(), json!({"f:data": {"f:a": {}}}));
    assert_eq!(c.added.to_fields_v1(), json!({"f:data": {"f:c": {}}}));
    assert_eq!(c.removed.to_fields_v1(), json!({"f:data": {"f:b": {}}}));
    let set = to_field_set(s, &json!({"metadata": {"finalizers": ["a/b"]}})).unwrap();
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}})
    );
}

#[test]
fn managers_come_from_the_field_manager_or_the_user_agent() {
    assert_eq!(manager_or_user_agent(Some("mine"), "kubectl/v1.32"), "mine");
    assert_eq!(
        manager_or_user_agent(None, "kubectl/v1.32.4 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(
        manager_or_user_agent(Some(""), "OpenAPI-Generator/31.0.0/python"),
        "OpenAPI-Generator"
    );
}

#[test]
fn applying_status_through_the_main_resource_takes_nothing_from_the_status_writer() {
    let mut live = deployment(1, "nginx", &[80]);
    let old = live.clone();
    live["status"] = json!({"replicas": 1});
    let status_writer = Writer {
        subresource: "status",
        ..writer("kube-controller-manager", DEPLOY, None)
    };
    record_update(&status_writer, Some(&old), &mut live);
    let mut cfg = deployment(1, "nginx", &[80]);
    cfg["status"] = json!({"replicas": 7});
    let out = apply(&writer("kubectl", DEPLOY, None), Some(&live), &cfg, false).unwrap();
    assert_eq!(out["status"], json!({"replicas": 1}));
    assert_eq!(
        fields_of(&out, "kube-controller-manager"),
        json!({"f:status": {".": {}, "f:replicas": {}}})
    );
    assert!(fields_of(&out, "kubectl").get("f:status").is_none());
}

#[test]
fn set_lists_merge_per_value_and_prune_only_the_appliers_values() {
    let cm = |f: &[&str]| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": f}});
    let a = writer("a", CM, None);
    let b = writer("b", CM, None);
    let live = apply(&a, None, &cm(&["x/a"]), false).unwrap();
    let live = apply(&b, Some(&live), &cm(&["x/b"]), false).unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["x/a", "x/b"]));
    assert_eq!(
        fields_of(&live, "b"),
        json!({"f:metadata": {"f:finalizers": {"v:\"x/b\"": {}}}})
    );
    let live = apply(&a, Some(&live), &cm(&[]), false).unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["x/b"]));
}

#[test]
fn a_struct_the_applier_stops_applying_goes_unless_an_updater_owns_part_of_it() {
    let w = writer("kubectl", DEPLOY, None);
    let mut cfg = deployment(1, "nginx", &[80]);
    cfg["spec"]["strategy"] = json!({"type": "Recreate"});
    let live = apply(&w, None, &cfg, false).unwrap();
    let gone = apply(&w, Some(&live), &deployment(1, "nginx", &[80]), false).unwrap();
    assert!(gone["spec"].get("strategy").is_none(), "{}", gone["spec"]);

    // An updater changed the strategy's type meanwhile: the field is theirs and stays.
    let mut edited = live.clone();
    edited["spec"]["strategy"]["type"] = json!("RollingUpdate");
    record_update(
        &writer("kubectl-edit", DEPLOY, None),
        Some(&live),
        &mut edited,
    );
    let kept = apply(&w, Some(&edited), &deployment(1, "nginx", &[80]), false).unwrap();
    assert_eq!(kept["spec"]["strategy"], json!({"type": "RollingUpdate"}));
}

#[test]
fn conflicts_with_updaters_name_their_api_version() {
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "1"}});
    record_update(&writer("kubectl-create", CM, None), None, &mut live);
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "2"}});
    let Err(Conflict::Fields { message, .. }) =
        apply(&writer("me", CM, None), Some(&live), &cfg, false)
    else {
        panic!("expected a conflict")
    };
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.k"
    );
}

#[test]
fn the_create_fast_path_records_what_the_general_path_does() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "uid": "u", "labels": {"a": "b"}, "annotations": {"x": "y"}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": "i",
            "command": ["/x"], "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9090, "protocol": "UDP"}],
            "env": [{"name": "A", "value": "1"}, {"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "1"}, "limits": {}},
            "readinessProbe": {"httpGet": {"path": "/h", "port": 8080}},
            "volumeMounts": [{"name": "c", "mountPath": "/etc"}]}],
            "volumes": [{"name": "c", "configMap": {"name": "cm"}}], "tolerations": []},
        "status": {"phase": "Pending"}});
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                  "items": {"type": "object"}}}}}});
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"items": [{"id": "a", "v": {"deep": 1}}], "free": {"x": [1, 2]}}});
    let cases = [
        (writer("m", ("", "v1", "Pod"), None), pod),
        (
            writer("m", DEPLOY, None),
            deployment(2, "nginx", &[80, 443]),
        ),
        (
            writer("m", CM, None),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}),
        ),
        (
            writer("m", ("example.com", "v1", "Widget"), Some(&schema)),
            cr,
        ),
    ];
    for (w, obj) in cases {
        let w = Writer {
            status_split: true,
            ..w
        };
        let mut fast = obj.clone();
        record_update(&w, None, &mut fast);
        let mut slow = obj.clone();
        super::update::record_create_slowly(&w, &mut slow);
        assert_eq!(fast, slow, "{obj}");
    }
}
