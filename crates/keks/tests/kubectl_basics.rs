//! The Kubernetes API of a keks cluster driven by kubectl: discovery, namespaces, create,
//! get in every output form, label, annotate, merge and JSON patches, watch, delete,
//! authentication failures, and objects surviving a restart.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::Keks;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels:
    app: shop
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: shop
stringData:
  password: hunter2
"#;

#[test]
fn kubectl_drives_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");

    // Discovery and the bootstrap namespaces.
    let version = c.ok(&["version", "-o", "json"]);
    assert!(version.contains("\"serverVersion\""), "{version}");
    let resources = c.ok(&["api-resources"]);
    for line in [
        "pods",
        "deployments",
        "configmaps",
        "customresourcedefinitions",
    ] {
        assert!(
            resources.lines().any(|l| l.starts_with(line)),
            "api-resources lists {line}:\n{resources}"
        );
    }
    let namespaces = c.ok(&["get", "namespaces"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns), "{namespaces}");
    }
    assert!(namespaces.starts_with("NAME"), "table output: {namespaces}");

    // A multi-document manifest.
    let created = c.ok_stdin(&["create", "-f", "-"], MANIFEST);
    assert!(
        created.contains("namespace/shop created")
            && created.contains("configmap/settings created"),
        "{created}"
    );
    let cm = c.get_json(&["-n", "shop", "configmap", "settings"]);
    assert_eq!(cm["data"]["color"], "blue");
    assert!(cm["metadata"]["uid"]
        .as_str()
        .is_some_and(|u| u.len() == 36));
    assert!(
        cm["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    let secret = c.get_json(&["-n", "shop", "secret", "creds"]);
    assert_eq!(secret["type"], "Opaque");
    let yaml = c.ok(&["-n", "shop", "get", "cm", "settings", "-o", "yaml"]);
    assert!(yaml.contains("color: blue"), "{yaml}");
    let table = c.ok(&["get", "cm", "-A"]);
    assert!(
        table.lines().next().unwrap().contains("NAMESPACE") && table.contains("settings"),
        "{table}"
    );
    let wide = c.ok(&["-n", "shop", "get", "secret", "-o", "wide"]);
    assert!(wide.contains("creds") && wide.contains("Opaque"), "{wide}");

    // Creating it again conflicts; a missing object is NotFound.
    let again = c.kubectl_with_stdin(&["create", "-f", "-"], Some(MANIFEST));
    assert!(
        !again.ok && again.stderr.contains("AlreadyExists"),
        "{again:?}"
    );
    let missing = c.kubectl(&["-n", "shop", "get", "cm", "nope"]);
    assert!(
        !missing.ok && missing.stderr.contains("configmaps \"nope\" not found"),
        "{missing:?}"
    );

    // Label, annotate, merge and JSON patches.
    c.ok(&["-n", "shop", "label", "cm", "settings", "tier=front"]);
    c.ok(&["-n", "shop", "annotate", "cm", "settings", "owner=team-a"]);
    c.ok(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"size":"L"}}"#,
    ]);
    c.ok(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/data/color","value":"green"}]"#,
    ]);
    let cm = c.get_json(&["-n", "shop", "cm", "settings"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "front");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "team-a");
    assert_eq!(
        cm["data"],
        serde_json::json!({"color": "green", "size": "L"})
    );
    let selected = c.ok(&["-n", "shop", "get", "cm", "-l", "tier=front", "-o", "name"]);
    assert_eq!(selected.trim(), "configmap/settings");
    let none = c.ok(&["-n", "shop", "get", "cm", "-l", "tier=back", "-o", "name"]);
    assert_eq!(none.trim(), "");

    // A watch sees a later change.
    let mut watch = Command::new("kubectl")
        .args([
            "-n",
            "shop",
            "get",
            "cm",
            "settings",
            "--watch",
            "-o",
            "jsonpath={.data.color}{\"\\n\"}",
        ])
        .env("KUBECONFIG", &c.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "green",
        "the watch starts with the current state"
    );
    c.ok(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"color":"red"}}"#,
    ]);
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "red",
        "the watch sees the change"
    );
    let _ = watch.kill();
    let _ = watch.wait();

    // Delete.
    let deleted = c.ok(&["-n", "shop", "delete", "secret", "creds"]);
    assert!(deleted.contains("secret \"creds\" deleted"), "{deleted}");
    assert!(!c.kubectl(&["-n", "shop", "get", "secret", "creds"]).ok);

    // Everything survives a restart.
    let _keks = keks.restart();
    let cm = c.get_json(&["-n", "shop", "cm", "settings"]);
    assert_eq!(cm["data"]["color"], "red");
    assert!(!c.kubectl(&["-n", "shop", "get", "secret", "creds"]).ok);

    // A namespace terminates, empties itself and goes; the built-in ones cannot be deleted.
    c.ok(&["delete", "namespace", "shop", "--wait=false"]);
    c.ok(&["wait", "--for=delete", "namespace/shop", "--timeout=30s"]);
    assert_eq!(c.ok(&["get", "configmaps", "-A", "-o", "name"]).trim(), "");
    let refused = c.kubectl(&["delete", "namespace", "default"]);
    assert!(
        refused
            .stderr
            .contains(r#"namespaces "default" is forbidden: this namespace may not be deleted"#),
        "{refused:?}"
    );
}

#[test]
fn requests_without_valid_credentials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    // A wrong token.
    let out = c.kubectl(&["get", "namespaces", "--token", "not-a-valid-token"]);
    assert!(!out.ok, "{out:?}");
    assert!(
        out.stderr.contains("You must be logged in to the server"),
        "{out:?}"
    );
    // No credentials at all (kubectl would prompt for a password; curl just asks).
    let server = format!(
        "{}/clusters/dev/api/v1/namespaces",
        keks.var("KEKS_KUBE_URL")
    );
    let out = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", &server])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    let out = Command::new("curl")
        .args(["-sk", &server])
        .output()
        .expect("curl");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            status["kind"].as_str(),
            status["reason"].as_str(),
            status["code"].as_i64()
        ),
        (Some("Status"), Some("Unauthorized"), Some(401))
    );
    let text = std::fs::read_to_string(&c.kubeconfig).unwrap();
    // The token of one cluster does not open another.
    let other = keks.dev_cluster("other");
    let token_of_dev = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let out = other.kubectl(&["get", "namespaces", "--token", &token_of_dev]);
    assert!(
        !out.ok && out.stderr.contains("You must be logged in to the server"),
        "{out:?}"
    );
}

#[test]
fn rbac_decides_for_everyone_but_system_masters() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");

    assert_eq!(
        c.ok(&["auth", "can-i", "create", "clusterroles"]).trim(),
        "yes",
        "the admin is in system:masters"
    );
    let roles = c.ok(&["get", "clusterroles", "-o", "name"]);
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:basic-user",
        "system:discovery",
    ] {
        assert!(
            roles
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{role}")),
            "{role} in {roles}"
        );
    }

    // An identity with no bindings may do nothing but discovery and self-reviews.
    let no = c.kubectl(&["auth", "can-i", "list", "pods", "--as", "bob"]);
    assert_eq!(no.stdout.trim(), "no", "{no:?}");
    let denied = c.kubectl(&["get", "pods", "--as", "bob"]);
    assert!(denied.stderr.contains(r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default""#), "{denied:?}");

    // Bound to `view` in one namespace: read there, not write, not secrets, not elsewhere.
    c.ok_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "bob-view", "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}"#,
    );
    let can = |args: &[&str]| c.kubectl(args).stdout.trim().to_string();
    assert_eq!(
        can(&["auth", "can-i", "list", "pods", "--as", "bob"]),
        "yes"
    );
    assert_eq!(
        can(&["auth", "can-i", "get", "deployments.apps", "--as", "bob"]),
        "yes"
    );
    assert_eq!(
        can(&["auth", "can-i", "create", "pods", "--as", "bob"]),
        "no"
    );
    assert_eq!(
        can(&["auth", "can-i", "get", "secrets", "--as", "bob"]),
        "no"
    );
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "list",
            "pods",
            "--as",
            "bob",
            "-n",
            "kube-system"
        ]),
        "no"
    );
    assert!(c.kubectl(&["get", "pods", "--as", "bob"]).ok);
    let write = c.kubectl_with_stdin(&["create", "-f", "-", "--as", "bob"], Some(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}"#));
    assert!(
        write
            .stderr
            .contains("is forbidden: User \"bob\" cannot create resource \"configmaps\""),
        "{write:?}"
    );

    // A group binding through a ClusterRoleBinding reaches every namespace.
    c.ok_stdin(
        &["create", "-f", "-"],
        r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "auditors-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "auditors"}]}"#,
    );
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "list",
            "pods",
            "-A",
            "--as",
            "carol",
            "--as-group",
            "auditors"
        ]),
        "yes"
    );
    assert_eq!(
        can(&[
            "auth",
            "can-i",
            "delete",
            "pods",
            "--as",
            "carol",
            "--as-group",
            "auditors"
        ]),
        "no"
    );
}

/// kubectl's typed commands send protobuf bodies (`application/vnd.kubernetes.protobuf`).
#[test]
fn typed_kubectl_commands_send_protobuf() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    c.ok(&["create", "namespace", "typed"]);
    c.ok(&[
        "-n",
        "typed",
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=b",
    ]);
    c.ok(&[
        "-n",
        "typed",
        "create",
        "secret",
        "generic",
        "sec",
        "--from-literal=x=y",
    ]);
    c.ok(&[
        "-n",
        "typed",
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=0",
    ]);
    c.ok(&[
        "-n",
        "typed",
        "create",
        "rolebinding",
        "rb",
        "--clusterrole=view",
        "--user=dana",
    ]);
    let ns = c.get_json(&["namespace", "typed"]);
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "typed"
    );
    assert_eq!(
        c.get_json(&["-n", "typed", "configmap", "cfg"])["data"]["a"],
        "b"
    );
    assert_eq!(
        c.get_json(&["-n", "typed", "secret", "sec"])["data"]["x"],
        "eQ=="
    );
    let deployment = c.get_json(&["-n", "typed", "deployment", "web"]);
    assert_eq!(
        deployment["spec"]["replicas"], 0,
        "a meaningful zero survives protobuf"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(deployment["metadata"]["generation"], 1);
    assert_eq!(
        c.kubectl(&["-n", "typed", "auth", "can-i", "list", "pods", "--as", "dana"])
            .stdout
            .trim(),
        "yes"
    );
    // The scale subresource.
    c.ok(&["-n", "typed", "scale", "deployment", "web", "--replicas=3"]);
    let scaled = c.get_json(&["-n", "typed", "deployment", "web"]);
    assert_eq!(
        (
            scaled["spec"]["replicas"].as_i64(),
            scaled["metadata"]["generation"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let wrong = c.kubectl(&[
        "-n",
        "typed",
        "scale",
        "deployment",
        "web",
        "--current-replicas=7",
        "--replicas=1",
    ]);
    assert!(
        !wrong.ok,
        "a precondition that does not hold refuses the change"
    );
    c.ok(&[
        "-n",
        "typed",
        "patch",
        "deployment",
        "web",
        "--subresource=scale",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    assert_eq!(
        c.get_json(&["-n", "typed", "deployment", "web"])["spec"]["replicas"],
        4
    );
    let table = c.ok(&["-n", "typed", "get", "deployments", "-o", "wide"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
}

/// OpenAPI-backed client features: server-side field validation and `kubectl explain`.
#[test]
fn field_validation_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    let typo = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo"}, "dataa": {"x": "y"}}"#;
    let strict = c.kubectl_with_stdin(&["create", "-f", "-"], Some(typo));
    assert!(!strict.ok);
    assert!(
        strict.stderr.contains(r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dataa""#),
        "{strict:?}"
    );
    assert!(
        !c.kubectl(&["get", "configmap", "typo"]).ok,
        "a refused object is not stored"
    );
    let warned = c.kubectl_with_stdin(&["create", "-f", "-", "--validate=warn"], Some(typo));
    assert!(
        warned.ok && warned.stderr.contains(r#"unknown field "dataa""#),
        "{warned:?}"
    );
    assert!(
        c.get_json(&["configmap", "typo"]).get("dataa").is_none(),
        "the unknown field is dropped"
    );

    let explain = c.ok(&["explain", "pod.spec.containers"]);
    assert!(
        explain.contains("KIND:       Pod") && explain.contains("FIELD: containers <[]Container>"),
        "{explain}"
    );
    assert!(
        explain.contains("image\t<string>") || explain.contains("image <string>"),
        "{explain}"
    );
    let recursive = c.ok(&["explain", "deployment.spec", "--recursive"]);
    assert!(
        recursive.contains("replicas") && recursive.contains("strategy"),
        "{recursive}"
    );
}

/// `kubectl delete` in every cascade mode, carried out by the garbage collector.
#[test]
fn cascading_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    let family = |owner: &str, dependents: &[&str]| {
        c.ok(&["create", "configmap", owner]);
        let uid = c.get_json(&["configmap", owner])["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        for d in dependents {
            let manifest = serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": d, "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid, "blockOwnerDeletion": true}]}
            });
            c.ok_stdin(&["create", "-f", "-"], &manifest.to_string());
        }
    };
    let names = || c.ok(&["get", "configmaps", "-o", "name"]);
    let gone = |name: &str| {
        for _ in 0..100 {
            if !names().lines().any(|l| l == format!("configmap/{name}")) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    };

    family("bg", &["bg-a", "bg-b"]);
    c.ok(&["delete", "configmap", "bg"]);
    assert!(
        gone("bg-a") && gone("bg-b"),
        "background: dependents follow their owner"
    );

    family("fg", &["fg-a"]);
    c.ok(&["delete", "configmap", "fg", "--cascade=foreground"]);
    assert!(
        gone("fg") && gone("fg-a"),
        "foreground: dependents first, then the owner"
    );

    family("or", &["or-a"]);
    c.ok(&["delete", "configmap", "or", "--cascade=orphan"]);
    assert!(gone("or"), "orphan: the owner goes");
    let orphan = c.get_json(&["configmap", "or-a"]);
    assert!(
        orphan["metadata"].get("ownerReferences").is_none(),
        "orphan: the dependent stays, without its owner reference: {orphan}"
    );
}

/// Client-side `kubectl apply` of a multi-document manifest, then a changed copy: the
/// three-way strategic merge (last-applied annotation) adds, changes and removes fields,
/// keeps a field set by hand, and merges containers by name.
#[test]
fn kubectl_apply_and_reapply() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    let first = r#"
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: front
  namespace: web
  labels: {app: front, stage: beta}
spec:
  replicas: 2
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec:
      containers:
      - name: app
        image: nginx:1.26
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: one}, {name: OLD, value: gone-soon}]
      - name: sidecar
        image: busybox:1.36
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: web}
data: {a: "1", b: "2"}
"#;
    let out = c.ok_stdin(&["apply", "-f", "-"], first);
    assert!(
        out.contains("deployment.apps/front created") && out.contains("configmap/settings created"),
        "{out}"
    );
    // Someone changes a field by hand; a re-apply must keep it.
    c.ok(&[
        "-n",
        "web",
        "annotate",
        "deployment",
        "front",
        "owner=team-a",
    ]);
    let unchanged = c.ok_stdin(&["apply", "-f", "-"], first);
    assert!(
        unchanged.contains("deployment.apps/front unchanged"),
        "{unchanged}"
    );

    let second = first
        .replace("replicas: 2", "replicas: 3")
        .replace("image: nginx:1.26", "image: nginx:1.27")
        .replace(", {name: OLD, value: gone-soon}", "")
        .replace("labels: {app: front, stage: beta}", "labels: {app: front}")
        .replace("data: {a: \"1\", b: \"2\"}", "data: {a: \"1\", c: \"3\"}");
    let out = c.ok_stdin(&["apply", "-f", "-"], &second);
    assert!(
        out.contains("deployment.apps/front configured")
            && out.contains("configmap/settings configured"),
        "{out}"
    );

    let d = c.get_json(&["-n", "web", "deployment", "front"]);
    assert_eq!(d["spec"]["replicas"], 3);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        2,
        "containers merged by name, none lost: {containers:?}"
    );
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(
        containers[0]["env"],
        serde_json::json!([{"name": "MODE", "value": "one"}]),
        "a removed env entry is gone"
    );
    assert_eq!(containers[1]["name"], "sidecar");
    assert!(
        d["metadata"]["labels"].get("stage").is_none(),
        "a label dropped from the manifest is removed"
    );
    assert_eq!(
        d["metadata"]["annotations"]["owner"], "team-a",
        "a field set by hand survives"
    );
    assert_eq!(
        d["metadata"]["generation"], 2,
        "one spec change, one generation"
    );
    let cm = c.get_json(&["-n", "web", "configmap", "settings"]);
    assert_eq!(cm["data"], serde_json::json!({"a": "1", "c": "3"}));
    let diff = c.kubectl_with_stdin(&["diff", "-f", "-"], Some(&second));
    assert!(
        diff.ok,
        "kubectl diff sees no difference after apply: {diff:?}"
    );
}

/// Services get a ClusterIP from the service CIDR (10.100.0.0/16, as EKS) and node ports,
/// reserved with the Service and released with it.
#[test]
fn services_get_cluster_ips() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    c.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    c.ok(&["create", "service", "nodeport", "edge", "--tcp=443:8443"]);
    let web = c.get_json(&["service", "web"]);
    let ip = web["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.100."), "{ip}");
    assert_eq!(web["spec"]["clusterIPs"], serde_json::json!([ip]));
    assert_eq!(web["spec"]["ports"][0]["targetPort"], 8080);
    let node_port = c.get_json(&["service", "edge"])["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .unwrap();
    assert!((30000..=32767).contains(&node_port), "{node_port}");

    let fixed = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "NAME"}, "spec": {"clusterIP": "10.100.9.9", "ports": [{"port": 53, "protocol": "UDP"}]}}"#;
    c.ok_stdin(&["create", "-f", "-"], &fixed.replace("NAME", "dns"));
    let taken = c.kubectl_with_stdin(&["create", "-f", "-"], Some(&fixed.replace("NAME", "dns2")));
    assert!(taken.stderr.contains(r#"The Service "dns2" is invalid: spec.clusterIPs: Invalid value: []string{"10.100.9.9"}: failed to allocate IP 10.100.9.9: provided IP is already allocated"#), "{taken:?}");
    let outside = c.kubectl_with_stdin(
        &["create", "-f", "-"],
        Some(
            &fixed
                .replace("NAME", "far")
                .replace("10.100.9.9", "192.168.0.10"),
        ),
    );
    assert!(
        outside
            .stderr
            .contains("The range of valid IPs is 10.100.0.0/16"),
        "{outside:?}"
    );
    c.ok(&["delete", "service", "dns"]);
    c.ok_stdin(&["create", "-f", "-"], &fixed.replace("NAME", "dns2"));

    // Updates keep the address; changing it is refused.
    c.ok(&["label", "service", "web", "tier=front"]);
    assert_eq!(c.get_json(&["service", "web"])["spec"]["clusterIP"], ip);
    let change = c.kubectl(&[
        "patch",
        "service",
        "web",
        "-p",
        r#"{"spec":{"clusterIP":"10.100.1.1","clusterIPs":["10.100.1.1"]}}"#,
    ]);
    assert!(
        change.stderr.contains("may not change once set"),
        "{change:?}"
    );
}
