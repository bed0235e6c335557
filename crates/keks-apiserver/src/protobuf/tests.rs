//! Tests of the protobuf codec: kubectl's own bytes, and JSON -> protobuf -> JSON round trips
//! of the built-in kinds keks serves.

use serde_json::{json, Value};

use super::schema::{message_for_kind, message_named, Emit};
use super::*;

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn round_trip(value: Value) {
    let bytes = encode_object(&value).unwrap_or_else(|e| panic!("encoding {}: {e}", value["kind"]));
    let back = decode_object(&bytes).unwrap_or_else(|e| panic!("decoding {}: {e}", value["kind"]));
    assert_eq!(back, value);
}

/// `kubectl create namespace demo` (kubectl 1.33), byte for byte.
const KUBECTL_NAMESPACE: &str = "6b 38 73 00 0a 0f 0a 02 76 31 12 09 4e 61 6d 65 73 70 61 63 65 12 1c 0a 14 0a 04 64 65 6d 6f 12 00 1a 00 22 00 2a 00 32 00 38 00 42 00 12 00 1a 02 0a 00 1a 00 22 00";

#[test]
fn decodes_kubectl_create_namespace() {
    let value = decode_object(&hex(KUBECTL_NAMESPACE)).unwrap();
    // Go writes every non-pointer field, so the empty generateName, uid, generation, zero
    // creationTimestamp ... are on the wire; Go's JSON leaves them out (omitempty, zero Time),
    // and so does the decoder. spec and status are non-pointer structs: Go writes `{}`.
    assert_eq!(
        value,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}, "spec": {}, "status": {}})
    );
}

#[test]
fn encodes_the_envelope_as_go_does() {
    let bytes = encode_object(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}, "spec": {}, "status": {}})).unwrap();
    let expected = hex("6b 38 73 00 0a 0f 0a 02 76 31 12 09 4e 61 6d 65 73 70 61 63 65 12 0c 0a 06 0a 04 64 65 6d 6f 12 00 1a 00 1a 00 22 00");
    assert_eq!(bytes, expected);
}

#[test]
fn rejects_bad_bodies_clearly() {
    assert_eq!(
        decode_object(b"{\"kind\":\"Pod\"}"),
        Err(ProtobufError::MissingMagic)
    );
    let mut truncated = hex(KUBECTL_NAMESPACE);
    truncated.truncate(30);
    assert_eq!(
        decode_object(&truncated).unwrap_err().to_string(),
        "malformed protobuf in runtime.Unknown: truncated field at byte 19"
    );
    let widget = encode_object(&json!({"apiVersion": "v1", "kind": "Namespace"})).unwrap();
    let widget: Vec<u8> = String::from_utf8_lossy(&widget)
        .replace("Namespace", "Widgetxxx")
        .into_bytes();
    assert_eq!(
        decode_object(&widget),
        Err(ProtobufError::UnknownKind {
            api_version: "v1".into(),
            kind: "Widgetxxx".into()
        })
    );
    let err = encode_object(&json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}})).unwrap_err();
    assert_eq!(err.to_string(), "invalid value in spec.containers[0].ports[0].containerPort: expected an integer, found a string");
}

#[test]
fn keeps_zero_pointers_and_drops_zero_values() {
    // replicas is *int32: an explicit 0 is meaningful. minReadySeconds is an int32 with
    // omitempty: Go writes 0 on the wire and leaves it out of JSON.
    let spec = message_named("k8s.io.api.apps.v1.DeploymentSpec").unwrap();
    assert_eq!(
        spec.fields()
            .iter()
            .find(|f| f.json == "replicas")
            .unwrap()
            .emit,
        Emit::Always
    );
    assert_eq!(
        spec.fields()
            .iter()
            .find(|f| f.json == "minReadySeconds")
            .unwrap()
            .emit,
        Emit::NonZero
    );
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 0, "minReadySeconds": 0, "paused": false}});
    let back = decode_object(&encode_object(&deployment).unwrap()).unwrap();
    assert_eq!(back["spec"], json!({"replicas": 0}));
}

#[test]
fn every_kind_keks_serves_has_a_message() {
    let kinds = [
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "Node"),
        ("v1", "Service"),
        ("v1", "Endpoints"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("v1", "Event"),
        ("v1", "PersistentVolumeClaim"),
        ("v1", "PersistentVolume"),
        ("v1", "ResourceQuota"),
        ("v1", "LimitRange"),
        ("v1", "Binding"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ControllerRevision"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("policy/v1", "PodDisruptionBudget"),
        ("policy/v1", "Eviction"),
        ("coordination.k8s.io/v1", "Lease"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("autoscaling/v1", "Scale"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("events.k8s.io/v1", "Event"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("v1", "DeleteOptions"),
        ("apps/v1", "DeleteOptions"),
        ("meta.k8s.io/v1", "DeleteOptions"),
        ("v1", "Status"),
    ];
    for (api_version, kind) in kinds {
        assert!(
            message_for_kind(api_version, kind).is_some(),
            "{api_version} {kind}"
        );
        let subresource = matches!(
            kind,
            "Binding" | "Eviction" | "Scale" | "TokenRequest" | "DeleteOptions" | "Status"
        ) || kind.ends_with("Review");
        if !subresource {
            assert!(
                message_for_kind(api_version, &format!("{kind}List")).is_some(),
                "{api_version} {kind}List"
            );
        }
    }
    assert_eq!(
        message_for_kind("v1", "Pod").unwrap().name,
        "k8s.io.api.core.v1.Pod"
    );
    assert_eq!(
        message_for_kind("events.k8s.io/v1", "Event").unwrap().name,
        "k8s.io.api.events.v1.Event"
    );
    assert!(message_for_kind("example.com/v1", "Widget").is_none());
}

#[test]
fn round_trips_a_rich_pod() {
    round_trip(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "demo",
            "uid": "4b1f5c1e-0000-4000-8000-000000000001",
            "resourceVersion": "42",
            "generation": 1,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"app": "web", "tier": "frontend"},
            "annotations": {"note": ""},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1", "controller": true, "blockOwnerDeletion": true}],
            "finalizers": ["example.com/keep"],
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420, "items": [{"key": "a", "path": "a.conf"}]}},
                {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}
            ],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "args": ["--port", "8080"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090, "hostPort": 9090}],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": false}}},
                    {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}
                ],
                "envFrom": [{"configMapRef": {"name": "web-env"}, "prefix": "CFG_"}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi", "nvidia.com/gpu": "1"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "initialDelaySeconds": 5, "periodSeconds": 10},
                "readinessProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 3},
                "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "terminationGracePeriodSeconds": 0},
                "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                "securityContext": {"runAsUser": 0, "runAsNonRoot": false, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "serviceAccountName": "web",
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "schedulerName": "default-scheduler",
            "priority": 0,
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
            ],
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a", "us-east-1b"]}]}
                ]}},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}
                ]}
            },
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}],
            "hostIP": "10.0.0.1",
            "hostIPs": [{"ip": "10.0.0.1"}],
            "podIP": "10.1.0.5",
            "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
            "startTime": "2024-01-01T00:00:01Z",
            "qosClass": "Burstable",
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "image": "nginx:1.27", "imageID": "", "started": true,
                "state": {"running": {"startedAt": "2024-01-01T00:00:02Z"}}, "lastState": {}}]
        }
    }));
}

#[test]
fn nulls_are_left_out() {
    // Go writes `null` for a zero Time and a nil slice without omitempty; both mean unset.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "creationTimestamp": null},
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null}]}});
    let back = decode_object(&encode_object(&pod).unwrap()).unwrap();
    assert_eq!(
        back,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    );
}

#[test]
fn round_trips_a_deployment_with_int_or_string() {
    round_trip(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "revisionHistoryLimit": 0,
            "progressDeadlineSeconds": 600
        },
        "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "MinimumReplicasAvailable"}]}
    }));
}

#[test]
fn round_trips_a_secret_and_a_configmap() {
    round_trip(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "demo"},
        "type": "Opaque", "immutable": false,
        "data": {"x": "eQ==", "bin": "AAECAwT/", "empty": ""}
    }));
    round_trip(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"},
        "data": {"a": "b", "multi": "line 1\nline 2\n", "blank": ""}, "binaryData": {"blob": "3q2+7w=="}
    }));
}

#[test]
fn round_trips_micro_times() {
    round_trip(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.17a", "namespace": "demo"},
        "involvedObject": {"kind": "Pod", "namespace": "demo", "name": "web", "uid": "u1", "apiVersion": "v1", "resourceVersion": "5"},
        "reason": "Scheduled", "message": "Successfully assigned demo/web to node-1", "source": {"component": "default-scheduler"},
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z", "count": 1, "type": "Normal",
        "eventTime": "2024-01-01T00:00:00.123456Z", "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:01.000001Z"},
        "action": "Binding", "reportingComponent": "default-scheduler", "reportingInstance": "sched-1"
    }));
    round_trip(json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "demo"},
        "eventTime": "2024-01-01T00:00:00.500000Z", "reportingController": "keks", "reportingInstance": "keks-1",
        "action": "Started", "reason": "Started", "regarding": {"kind": "Pod", "name": "web"}, "type": "Normal"
    }));
    round_trip(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "acquireTime": "2024-01-01T00:00:00.000000Z",
            "renewTime": "2024-01-01T00:00:10.250000Z", "leaseTransitions": 0}
    }));
}

#[test]
fn round_trips_delete_options_under_any_group_version() {
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        round_trip(json!({
            "apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground",
            "preconditions": {"uid": "u1", "resourceVersion": "7"}, "dryRun": ["All"]
        }));
    }
}

#[test]
fn round_trips_a_list() {
    round_trip(json!({
        "apiVersion": "v1", "kind": "PodList",
        "metadata": {"resourceVersion": "100", "continue": "abc", "remainingItemCount": 3},
        "items": [
            {"metadata": {"name": "a", "namespace": "demo"}, "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}, "status": {"phase": "Pending"}},
            {"metadata": {"name": "b", "namespace": "demo"}, "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}, "status": {}}
        ]
    }));
}

#[test]
fn round_trips_other_served_kinds() {
    round_trip(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}], "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster"}, "status": {"loadBalancer": {}}}),
    );
    round_trip(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
        "spec": {"capacity": {"storage": "10Gi"}, "awsElasticBlockStore": {"volumeID": "vol-1", "fsType": "ext4"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Filesystem"}, "status": {"phase": "Available"}}),
    );
    // A PVC's storageClassName is a *string: "" (no dynamic provisioning) is kept.
    round_trip(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "demo"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": ""}}),
    );
    round_trip(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": "demo"},
        "spec": {"schedule": "*/5 * * * *", "suspend": false, "successfulJobsHistoryLimit": 0, "jobTemplate": {"spec": {"backoffLimit": 0,
            "ttlSecondsAfterFinished": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "resources": {}}]}}}}}}),
    );
    round_trip(
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "web-1", "namespace": "demo"},
        "data": {"spec": {"template": {"$patch": "replace"}}}, "revision": 1}),
    );
    round_trip(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "demo"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}),
    );
    round_trip(
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "demo"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}}),
    );
    round_trip(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"]}, "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "demo"}},
        "status": {"allowed": true, "reason": "rbac"}}),
    );
    round_trip(
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": "default", "namespace": "demo"},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600, "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}},
        "status": {"token": "abc", "expirationTimestamp": "2024-01-01T01:00:00Z"}}),
    );
    round_trip(
        json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web"}}),
    );
    round_trip(
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web", "namespace": "demo"}, "target": {"kind": "Node", "name": "node-1"}}),
    );
    round_trip(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-x", "namespace": "demo"},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": false, "serving": true}, "nodeName": "node-1"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
    );
}

#[test]
fn round_trips_a_crd_schema() {
    round_trip(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10.5, "default": 3},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "open": {"type": "object", "additionalProperties": false},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
                    }}}}}}]}
    }));
}

#[test]
fn watch_events_are_length_prefixed_frames() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let frame = encode_watch_event("ADDED", &pod).unwrap();
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4);
    let event = message_for_kind("v1", "WatchEvent").unwrap();
    let decoded = decode::object(event, &frame[4..]).unwrap();
    assert_eq!(
        Value::Object(decoded),
        json!({"type": "ADDED", "object": pod})
    );
}

#[test]
fn recognises_the_media_type() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf;stream=watch"
    ));
    assert!(!is_protobuf("application/json"));
    assert!(knows_kind("v1", "Pod") && !knows_kind("example.com/v1", "Widget"));
}
