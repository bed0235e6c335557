//! Server-side apply driven by kubectl: `apply --server-side` of a multi-document manifest
//! (built-in kinds, a CRD and a custom resource), re-applies that change and remove fields
//! and keyed list items, conflicts with another manager and `--force-conflicts`,
//! `--show-managed-fields`, `--dry-run=server`, and taking over from client-side apply.

mod support;

use serde_json::Value;
use support::{DevCluster, Keks};

fn manifest(replicas: u32, image: &str, extra_port: bool, extra_key: bool) -> String {
    let port = if extra_port {
        "\n        - containerPort: 443"
    } else {
        ""
    };
    let svc_port = if extra_port {
        "\n  - name: https\n    port: 443"
    } else {
        ""
    };
    let key = if extra_key { "\n  size: large" } else { "" };
    let tier = if extra_port { "\n    tier: front" } else { "" };
    let gadget = if extra_port {
        "\n  - id: b\n    weight: 2"
    } else {
        ""
    };
    format!(
        r#"
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
data:
  color: blue{key}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web{tier}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80{port}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80{svc_port}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: string}}
              gadgets:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [id]
                items:
                  type: object
                  required: [id]
                  properties:
                    id: {{type: string}}
                    weight: {{type: integer}}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: shop
spec:
  size: {image}
  gadgets:
  - id: a
    weight: 1{gadget}
"#
    )
}

/// `kubectl apply --server-side -f -`; the custom resource's kind is unknown to kubectl until
/// the CRD is served, so the first apply may have to be repeated, as with kube-apiserver.
fn apply(c: &DevCluster, text: &str, extra: &[&str]) -> support::KubectlOutput {
    let mut args = vec!["apply", "--server-side", "-f", "-"];
    args.extend_from_slice(extra);
    let mut out = c.kubectl_with_stdin(&args, Some(text));
    for _ in 0..20 {
        if out.ok || !out.stderr.contains("ensure CRDs are installed first") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        out = c.kubectl_with_stdin(&args, Some(text));
    }
    out
}

fn entries(obj: &Value) -> Vec<(String, String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("manager"), s("operation"), s("subresource"))
        })
        .collect()
}

#[test]
fn kubectl_server_side_apply() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");

    let out = apply(&c, &manifest(2, "nginx:1", true, true), &[]);
    assert!(out.ok, "{}{}", out.stderr, out.stdout);
    for line in [
        "namespace/shop serverside-applied",
        "deployment.apps/web serverside-applied",
        "widget.example.com/w1 serverside-applied",
    ] {
        assert!(out.stdout.contains(line), "{}", out.stdout);
    }
    let deploy = c.get_json(&["deployment", "web", "-n", "shop", "--show-managed-fields"]);
    assert_eq!(
        entries(&deploy)[0],
        ("kubectl".into(), "Apply".into(), String::new())
    );
    let fields = &deploy["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
            ["f:ports"]["k:{\"containerPort\":443,\"protocol\":\"TCP\"}"]
            .is_object(),
        "{fields}"
    );
    assert_eq!(fields["f:spec"]["f:selector"], serde_json::json!({}));

    // A changed copy: values change, a removed label, data key, port and list items go.
    let out = apply(&c, &manifest(3, "nginx:2", false, false), &[]);
    assert!(out.ok, "{}{}", out.stderr, out.stdout);
    let deploy = c.get_json(&["deployment", "web", "-n", "shop"]);
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert!(
        deploy["metadata"].get("managedFields").is_none(),
        "hidden without the flag"
    );
    assert_eq!(
        deploy["metadata"]["labels"],
        serde_json::json!({"app": "web"})
    );
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:2");
    assert_eq!(
        container["ports"].as_array().unwrap().len(),
        1,
        "{container}"
    );
    let cm = c.get_json(&["configmap", "settings", "-n", "shop"]);
    assert_eq!(cm["data"], serde_json::json!({"color": "blue"}));
    let svc = c.get_json(&["service", "web", "-n", "shop"]);
    assert_eq!(svc["spec"]["ports"].as_array().unwrap().len(), 1, "{svc}");
    let widget = c.get_json(&["widget", "w1", "-n", "shop"]);
    assert_eq!(
        widget["spec"]["gadgets"],
        serde_json::json!([{"id": "a", "weight": 1}])
    );

    // Another manager scales; re-applying another replicas conflicts.
    c.ok(&["scale", "deployment", "web", "-n", "shop", "--replicas=5"]);
    let out = apply(&c, &manifest(4, "nginx:2", false, false), &[]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        c.get_json(&["deployment", "web", "-n", "shop"])["spec"]["replicas"],
        5
    );
    let out = apply(
        &c,
        &manifest(4, "nginx:2", false, false),
        &["--force-conflicts"],
    );
    assert!(out.ok, "{}{}", out.stderr, out.stdout);
    let deploy = c.get_json(&["deployment", "web", "-n", "shop", "--show-managed-fields"]);
    assert_eq!(deploy["spec"]["replicas"], 4);
    let yaml = c.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "shop",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"),
        "{yaml}"
    );
    let plain = c.ok(&["get", "deployment", "web", "-n", "shop", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"), "{plain}");

    // A server-side dry run changes nothing.
    let before = c.get_json(&["deployment", "web", "-n", "shop"]);
    let out = apply(
        &c,
        &manifest(7, "nginx:3", false, false),
        &["--dry-run=server"],
    );
    assert!(out.ok, "{}{}", out.stderr, out.stdout);
    let after = c.get_json(&["deployment", "web", "-n", "shop"]);
    assert_eq!(before, after);

    // Taking over from client-side apply.
    let legacy = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\n  namespace: shop\ndata:\n  k: one\n";
    c.ok_stdin(&["apply", "-f", "-"], legacy);
    let cm = c.get_json(&["configmap", "legacy", "-n", "shop", "--show-managed-fields"]);
    assert_eq!(
        entries(&cm),
        vec![(
            "kubectl-client-side-apply".to_string(),
            "Update".to_string(),
            String::new()
        )]
    );
    let out = apply(&c, &legacy.replace("one", "two"), &[]);
    assert!(out.ok, "{}{}", out.stderr, out.stdout);
    let cm = c.get_json(&["configmap", "legacy", "-n", "shop", "--show-managed-fields"]);
    assert_eq!(cm["data"]["k"], "two");
    let managers: Vec<String> = entries(&cm).into_iter().map(|e| e.0).collect();
    assert!(managers.contains(&"kubectl".to_string()), "{managers:?}");
    let last = cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap();
    assert!(last.contains("\"two\""), "{last}");
}
