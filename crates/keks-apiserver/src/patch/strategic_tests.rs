//! Strategic merge patch cases: those of the API conventions and of apimachinery's
//! `strategicpatch` tests, on real kinds (Pod, Deployment, Service, Node, ConfigMap).

use serde_json::{json, Value};

use super::strategic::apply;

fn pod(p: Value, patch: Value) -> Result<Value, String> {
    apply(&p, &patch, "", "v1", "Pod").map_err(|e| e.0)
}

fn ok(p: Value, patch: Value) -> Value {
    pod(p, patch).unwrap()
}

fn containers(v: &Value) -> Vec<&str> {
    v["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

fn two_containers() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
        "spec": {"containers": [
            {"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80, "name": "http"}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "envoy:1"}]}})
}

#[test]
fn maps_merge_and_null_deletes_a_key() {
    let out = ok(
        two_containers(),
        json!({"metadata": {"labels": {"a": null, "c": "3"}, "annotations": {"x": "y", "gone": null}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
    // A null for a key the object lacks is dropped, also inside a new value.
    assert_eq!(out["metadata"]["annotations"], json!({"x": "y"}));
}

#[test]
fn containers_merge_by_name() {
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}),
    );
    assert_eq!(containers(&out), ["c", "sidecar"]);
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx:2");
    assert_eq!(
        out["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert_eq!(out["spec"]["containers"][1]["image"], "envoy:1");

    // A new name is added. Without `$setElementOrder` apimachinery puts elements the current
    // list lacks before the others.
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "log", "image": "busybox"}]}}),
    );
    assert_eq!(containers(&out), ["log", "c", "sidecar"]);
}

#[test]
fn patch_delete_removes_an_element_by_key() {
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}),
    );
    assert_eq!(containers(&out), ["c"]);
    let err = pod(
        two_containers(),
        json!({"spec": {"containers": [{"$patch": "delete"}]}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "map: map[$patch:delete] does not contain declared merge key: name"
    );
}

#[test]
fn patch_replace_replaces_a_list_or_an_object() {
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}),
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );
    let out = ok(
        two_containers(),
        json!({"metadata": {"labels": {"z": "9", "$patch": "replace"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"z": "9"}));
    let out = ok(
        two_containers(),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
}

#[test]
fn lists_without_merge_strategy_are_replaced() {
    let mut p = two_containers();
    p["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    p["spec"]["containers"][0]["args"] = json!(["x", "y"]);
    let out = ok(
        p,
        json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}], "containers": [{"name": "c", "args": ["z"]}]}}),
    );
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    assert_eq!(out["spec"]["containers"][0]["args"], json!(["z"]));
}

#[test]
fn nested_lists_merge_by_their_own_keys() {
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "c",
            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}],
            "env": [{"name": "A", "value": null}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}]}}),
    );
    let c = &out["spec"]["containers"][0];
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}])
    );
    // `value: null` deletes the key inside the matching element.
    assert_eq!(
        c["env"],
        json!([{"name": "A"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
    );
    let out = ok(
        two_containers(),
        json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "$patch": "delete"}]}]}}),
    );
    assert_eq!(
        out["spec"]["containers"][0]["env"],
        json!([{"name": "B", "value": "2"}])
    );
}

#[test]
fn primitive_merge_lists_are_sets() {
    let mut p = two_containers();
    p["metadata"]["finalizers"] = json!(["a", "b"]);
    let out = ok(p.clone(), json!({"metadata": {"finalizers": ["c", "a"]}}));
    // Patch items in the patch's order, server-only ones where they were.
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let out = ok(
        p.clone(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    // Deleting from a list the object lacks adds nothing.
    let out = ok(
        p,
        json!({"metadata": {"$deleteFromPrimitiveList/nothing": ["a"]}}),
    );
    assert!(out["metadata"].get("nothing").is_none());
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let out = ok(
        two_containers(),
        json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "c"}], "containers": [{"name": "c", "image": "nginx:3"}]}}),
    );
    assert_eq!(containers(&out), ["sidecar", "c"]);
    assert_eq!(out["spec"]["containers"][1]["image"], "nginx:3");

    let mut p = two_containers();
    p["metadata"]["finalizers"] = json!(["a", "b", "c"]);
    let out = ok(
        p,
        json!({"metadata": {"$setElementOrder/finalizers": ["c", "a", "d"], "finalizers": ["d"], "$deleteFromPrimitiveList/finalizers": ["b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "d"]));

    let err = pod(two_containers(), json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}], "containers": [{"name": "c", "image": "x"}]}}))
        .unwrap_err();
    assert!(err.starts_with("The order in patch list:\n[map[image:x name:c]]\n doesn't match $setElementOrder list:"), "{err}");
}

/// What `kubectl apply` sends when a container is removed and another added while the live
/// pod also has a container the user never applied: apimachinery keeps the server-only one
/// where the live list had it, judged by the original list as Go's in-place edits leave it.
#[test]
fn apply_style_patch_keeps_server_only_elements_in_place() {
    let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "s"}, {"name": "b"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "d"}],
        "containers": [{"name": "d", "image": "new"}, {"name": "b", "$patch": "delete"}]}});
    let out = ok(live, patch);
    assert_eq!(containers(&out), ["a", "s", "d"]);
}

#[test]
fn retain_keys_clears_other_keys() {
    let d =
        json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let out = apply(
        &d,
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        "apps",
        "v1",
        "Deployment",
    )
    .unwrap();
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    let err = apply(
        &d,
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        "apps",
        "v1",
        "Deployment",
    )
    .unwrap_err();
    assert_eq!(err.0, "invalid patch format of retainKeys");
}

#[test]
fn other_kinds_use_their_own_keys() {
    let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
    let out = apply(
        &svc,
        &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        "",
        "v1",
        "Service",
    )
    .unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );

    let node = json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n"}]}});
    let out = apply(
        &node,
        &json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}}),
        "",
        "v1",
        "Node",
    )
    .unwrap();
    assert_eq!(
        out["status"]["addresses"][1],
        json!({"type": "Hostname", "address": "n"})
    );
    assert_eq!(out["status"]["addresses"][0]["address"], "10.0.0.2");

    let cm =
        json!({"data": {"a": "1"}, "metadata": {"ownerReferences": [{"uid": "u1", "name": "x"}]}});
    let out = apply(
        &cm,
        &json!({"data": {"b": "2"}, "metadata": {"ownerReferences": [{"uid": "u2", "name": "y"}]}}),
        "",
        "v1",
        "ConfigMap",
    )
    .unwrap();
    assert_eq!(out["data"], json!({"a": "1", "b": "2"}));
    assert_eq!(
        out["metadata"]["ownerReferences"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn rollout_restart_and_set_image_patches() {
    let d = json!({"spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "app", "image": "a:1"}]}}}});
    let out = apply(
        &d,
        &json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}}}}}),
        "apps",
        "v1",
        "Deployment",
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2024-01-01T00:00:00Z"
    );
    let out = apply(
        &d,
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:2"}]}}}}),
        "apps",
        "v1",
        "Deployment",
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "app", "image": "a:2"}])
    );
}

#[test]
fn malformed_patches_fail_with_apimachinery_messages() {
    let p = two_containers();
    let cases = [
        (json!({"spec": {"containers": [{"image": "x"}]}}), "map: map[image:x] does not contain declared merge key: name"),
        (json!({"spec": {"containers": [{"name": "c", "$patch": "bogus"}]}}), "unknown patch type: bogus in map: map[$patch:bogus name:c]"),
        (json!({"spec": {"containers": [{"name": "c", "$patch": "merge"}]}}), "merging lists cannot yet be specified in the patch"),
        (json!({"metadata": {"$patch": "merge"}}), "unknown patch type: merge in map: map[$patch:merge]"),
        (json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}), "invalid patch format of primitive list"),
        (json!({"spec": {"$setElementOrder/containers": "x"}}), "expected a []interface {}, but received a string"),
        (json!({"metadata": {"$retainKeys": "name"}}), "invalid patch format of retainKeys"),
        (json!({"spec": {"containers": ["c"]}}), "list element types are not identical: [[map[env:[map[name:A value:1] map[name:B value:2]] image:nginx:1 name:c ports:[map[containerPort:80 name:http]]] map[image:envoy:1 name:sidecar]] [c]]"),
    ];
    for (patch, want) in cases {
        assert_eq!(pod(p.clone(), patch.clone()).unwrap_err(), want, "{patch}");
    }
    let mut with_finalizers = p.clone();
    with_finalizers["metadata"]["finalizers"] = json!([]);
    assert_eq!(
        pod(
            with_finalizers,
            json!({"metadata": {"finalizers": [["a"]]}})
        )
        .unwrap_err(),
        "lists of lists are not supported"
    );
    let rev = json!({"data": {"a": {"x": 1}}});
    let err = apply(
        &rev,
        &json!({"data": {"a": {"y": 2}}}),
        "apps",
        "v1",
        "ControllerRevision",
    )
    .unwrap_err();
    assert_eq!(
        err.0,
        "unable to find api field in struct RawExtension for the json field \"a\""
    );
    assert_eq!(
        pod(p.clone(), json!([1])).unwrap_err(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    assert_eq!(pod(p.clone(), Value::Null).unwrap(), p);
}

#[test]
fn custom_resources_are_refused() {
    let err = apply(&json!({}), &json!({}), "example.com", "v1", "Widget").unwrap_err();
    assert_eq!(err.0, "strategic merge patch format is not supported");
}

#[test]
fn values_inserted_whole_lose_directives_and_nulls() {
    let out = ok(
        json!({"spec": {}}),
        json!({"spec": {"dnsConfig": {"options": [{"name": "x", "value": null}], "searches": ["a"]}, "affinity": {"$patch": "delete"}}}),
    );
    assert_eq!(
        out["spec"],
        json!({"dnsConfig": {"options": [{"name": "x"}], "searches": ["a"]}})
    );
}
