//! CustomResourceDefinitions driven by kubectl: a CRD applied becomes a served resource of
//! its cluster only (discovery, printer columns, schema validation, pruning and defaults,
//! status and scale subresources, patch, watch), and deleting it takes its objects along.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::Keks;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
      additionalPrinterColumns:
        - name: Spec
          type: string
          jsonPath: .spec.cronSpec
        - name: Replicas
          type: integer
          jsonPath: .spec.replicas
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec:
                  type: string
                image:
                  type: string
                replicas:
                  type: integer
                  minimum: 1
                  default: 1
            status:
              type: object
              properties:
                replicas:
                  type: integer
"#;

const CRONTAB: &str = r#"
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
  namespace: default
spec:
  cronSpec: "0 3 * * *"
  image: backup:1
  replicas: 2
  unknownField: dropped
"#;

/// `kubectl wait --for=condition=Established` on the CRD; shows the CRD if it times out.
fn wait_established(c: &support::DevCluster) {
    let out = c.kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
        "--timeout=30s",
    ]);
    let crd = c.kubectl(&["get", "crd", "-o", "yaml"]).stdout;
    assert!(out.ok, "{}\n{crd}", out.stderr);
}

#[test]
fn crds_serve_custom_resources() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("dev");
    let other = keks.dev_cluster("other");

    // A CRD whose name does not match plural.group is refused as kube does.
    let bad = CRD.replace(
        "name: crontabs.stable.example.com",
        "name: x.stable.example.com",
    );
    let out = c.kubectl_with_stdin(&["apply", "-f", "-"], Some(&bad));
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains(r#"metadata.name: Invalid value: "x.stable.example.com": must be spec.names.plural+"."+spec.group"#),
        "{}",
        out.stderr
    );

    c.ok_stdin(&["apply", "-f", "-"], CRD);
    wait_established(&c);
    let crd = c.get_json(&["crd", "crontabs.stable.example.com"]);
    assert_eq!(crd["status"]["storedVersions"][0], "v1");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "CronTab");

    // Discovery lists the resource with its short name.
    let resources = c.ok(&["api-resources", "--api-group=stable.example.com"]);
    assert!(
        resources.contains("crontabs") && resources.contains("ct"),
        "{resources}"
    );

    // Create: unknown fields pruned, defaults applied, generation 1.
    c.ok_stdin(&["apply", "-f", "-"], CRONTAB);
    let ct = c.get_json(&["ct", "nightly"]);
    assert_eq!(ct["spec"]["replicas"], 2);
    assert!(ct["spec"].get("unknownField").is_none(), "{ct}");
    assert_eq!(ct["metadata"]["generation"], 1);
    let defaulted = CRONTAB
        .replace("name: nightly", "name: hourly")
        .replace("  replicas: 2\n", "");
    c.ok_stdin(&["apply", "-f", "-"], &defaulted);
    assert_eq!(c.get_json(&["ct", "hourly"])["spec"]["replicas"], 1);

    // Printer columns.
    let table = c.ok(&["get", "ct"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    assert!(table.contains("0 3 * * *"), "{table}");

    // Schema validation with kube's wording.
    let invalid = CRONTAB
        .replace("name: nightly", "name: broken")
        .replace("replicas: 2", "replicas: \"two\"");
    let out = c.kubectl_with_stdin(&["create", "-f", "-"], Some(&invalid));
    assert!(!out.ok);
    assert!(
        out.stderr.contains(r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#),
        "{}",
        out.stderr
    );
    let zero = CRONTAB
        .replace("name: nightly", "name: broken")
        .replace("replicas: 2", "replicas: 0");
    let out = c.kubectl_with_stdin(&["create", "-f", "-"], Some(&zero));
    assert!(
        out.stderr
            .contains("spec.replicas in body should be greater than or equal to 1"),
        "{}",
        out.stderr
    );

    // A watch sees later changes; scale and merge patch bump the generation.
    let mut watch = Command::new("kubectl")
        .args([
            "get",
            "ct",
            "nightly",
            "--watch",
            "-o",
            "jsonpath={.spec.replicas}{\"\\n\"}",
        ])
        .env("KUBECONFIG", &c.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "2");
    c.ok(&["scale", "ct", "nightly", "--replicas=3"]);
    assert_eq!(lines.next().unwrap().unwrap(), "3");
    watch.kill().unwrap();
    watch.wait().unwrap();
    c.ok(&[
        "patch",
        "ct",
        "nightly",
        "--type=merge",
        "-p",
        r#"{"spec":{"image":"backup:2"}}"#,
    ]);
    let ct = c.get_json(&["ct", "nightly"]);
    assert_eq!(ct["spec"]["image"], "backup:2");
    assert_eq!(ct["metadata"]["generation"], 3);
    let out = c.kubectl(&["patch", "ct", "nightly", "-p", r#"{"spec":{"image":"x"}}"#]);
    assert!(!out.ok, "strategic merge is refused for custom resources");

    // The status subresource: main writes keep status, status writes keep spec.
    c.ok(&[
        "patch",
        "ct",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":3},"spec":{"image":"ignored"}}"#,
    ]);
    let ct = c.get_json(&["ct", "nightly"]);
    assert_eq!(ct["status"]["replicas"], 3);
    assert_eq!(ct["spec"]["image"], "backup:2");
    assert_eq!(ct["metadata"]["generation"], 3);

    // The other cluster does not serve the first one's resource.
    let out = other.kubectl(&["get", "crontabs"]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(other.ok(&["get", "crd", "-o", "name"]).trim().is_empty());

    c.ok(&["delete", "ct", "hourly"]);
    assert_eq!(
        c.ok(&["get", "ct", "-o", "name"]).trim(),
        "crontab.stable.example.com/nightly"
    );

    // Deleting the CRD deletes its objects and the resource leaves discovery.
    c.ok(&[
        "delete",
        "crd",
        "crontabs.stable.example.com",
        "--timeout=30s",
    ]);
    let out = c.kubectl(&["get", "crontabs"]);
    assert!(!out.ok, "{}", out.stdout);
    let groups = c.ok(&["api-versions"]);
    assert!(!groups.contains("stable.example.com"), "{groups}");

    // Recreated, it starts empty.
    c.ok_stdin(&["apply", "-f", "-"], CRD);
    wait_established(&c);
    let list = c.get_json(&["crontabs"]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
}
