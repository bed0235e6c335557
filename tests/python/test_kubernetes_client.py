"""The Python `kubernetes` client against a keks cluster: CRUD, list pagination, a watch
that sees every change in order, and 409 Conflict on a stale update."""

import json
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def configmap(name, data, labels=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels or {}), data=data)


def test_crud(api_client):
    core = client.CoreV1Api(api_client)
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= set(names)

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    created = core.create_namespaced_config_map("py", configmap("one", {"a": "1"}, {"app": "x"}))
    assert created.metadata.uid and created.metadata.resource_version
    got = core.read_namespaced_config_map("one", "py")
    assert got.data == {"a": "1"}

    got.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("one", "py", got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = core.patch_namespaced_config_map("one", "py", {"metadata": {"labels": {"tier": "t"}}})
    assert patched.metadata.labels == {"app": "x", "tier": "t"}

    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("py", configmap("one", {}))
    assert e.value.status == 409 and "AlreadyExists" in e.value.body

    core.delete_namespaced_config_map("one", "py")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("one", "py")
    assert e.value.status == 404
    assert 'configmaps \\"one\\" not found' in e.value.body

    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("no-such-namespace", configmap("x", {}))
    assert e.value.status == 404


def test_list_pagination(api_client):
    core = client.CoreV1Api(api_client)
    for i in range(25):
        core.create_namespaced_config_map("default", configmap(f"page-{i:02d}", {"i": str(i)}, {"set": "paged"}))
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map("default", label_selector="set=paged", limit=10, _continue=token)
        pages += 1
        seen += [cm.metadata.name for cm in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3
    assert seen == [f"page-{i:02d}" for i in range(25)]
    first = core.list_namespaced_config_map("default", limit=10)
    assert first.metadata.remaining_item_count == 15


def test_watch_sees_every_change_in_order(api_client):
    core = client.CoreV1Api(api_client)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    events = []
    done = threading.Event()

    def run():
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=20):
            events.append((event["type"], event["object"].metadata.name, event["object"].metadata.resource_version))
            if len(events) == 5:
                w.stop()
        done.set()

    watcher = threading.Thread(target=run, daemon=True)
    watcher.start()
    core.create_namespaced_config_map("default", configmap("w1", {"v": "1"}))
    core.create_namespaced_config_map("default", configmap("w2", {"v": "1"}))
    core.patch_namespaced_config_map("w1", "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w2", "default")
    core.patch_namespaced_config_map("w1", "default", {"data": {"v": "3"}})
    assert done.wait(20), f"watch saw only {events}"
    assert [(t, n) for t, n, _ in events] == [
        ("ADDED", "w1"),
        ("ADDED", "w2"),
        ("MODIFIED", "w1"),
        ("DELETED", "w2"),
        ("MODIFIED", "w1"),
    ]
    revisions = [int(rv) for _, _, rv in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == 5


def test_stale_update_is_a_conflict(api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map("default", configmap("c", {"v": "1"}))
    first = core.read_namespaced_config_map("c", "default")
    second = core.read_namespaced_config_map("c", "default")
    first.data["v"] = "from-first"
    core.replace_namespaced_config_map("c", "default", first)
    second.data["v"] = "from-second"
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("c", "default", second)
    assert e.value.status == 409
    assert "the object has been modified" in e.value.body
    assert core.read_namespaced_config_map("c", "default").data["v"] == "from-first"


def test_server_side_apply(api_client):
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError

    dyn = DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": "default"},
            "data": {"a": "1", "b": "2"}}
    created = cms.server_side_apply(body=body, name="ssa", namespace="default", field_manager="py")
    assert created.data.a == "1"
    entry = created.metadata.managedFields[0]
    assert (entry.manager, entry.operation, entry.apiVersion) == ("py", "Apply", "v1")
    assert entry.fieldsV1.to_dict() == {"f:data": {"f:a": {}, "f:b": {}}}

    # Re-applying without `b` removes it; another manager changing `a` conflicts.
    body["data"] = {"a": "1"}
    applied = cms.server_side_apply(body=body, name="ssa", namespace="default", field_manager="py")
    assert applied.data.to_dict() == {"a": "1"}
    body["data"] = {"a": "9"}
    with pytest.raises(DynamicApiError) as e:
        cms.server_side_apply(body=body, name="ssa", namespace="default", field_manager="other")
    assert e.value.status == 409
    status = json.loads(e.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "py": .data.a'
    assert status["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "py"', "field": ".data.a"}]
    forced = cms.server_side_apply(body=body, name="ssa", namespace="default", field_manager="other",
                                   force_conflicts=True)
    assert forced.data.a == "9"
    assert [m.manager for m in forced.metadata.managedFields] == ["other"]

    # The field manager is required.
    with pytest.raises(DynamicApiError) as e:
        cms.server_side_apply(body=body, name="ssa", namespace="default")
    assert e.value.status == 422
    assert json.loads(e.value.body)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
