//! What Fargate refuses to run, checked as fargate-scheduler checks it, with its message:
//! `Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext
//! fields: Privileged, port contains HostIP or HostPort`. Host namespaces and ports,
//! privileged containers, privilege escalation, added capabilities (beyond SYS_PTRACE),
//! volumes that need the node (hostPath, EBS and the like), and GPUs or other extended
//! resources are refused; such a pod stays Pending with a FailedScheduling event.

use serde_json::Value;

/// Volume types a Fargate pod may use.
const SUPPORTED_VOLUMES: &[&str] = &[
    "emptyDir",
    "configMap",
    "secret",
    "projected",
    "downwardAPI",
    "persistentVolumeClaim",
    "nfs",
    "ephemeral",
];

/// Resources a Fargate pod may request.
const SUPPORTED_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

/// The one capability Fargate lets a container add.
const ALLOWED_CAPABILITY: &str = "SYS_PTRACE";

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |k| spec.get(k).and_then(Value::as_array).into_iter().flatten())
}

/// The reasons a pod cannot run on Fargate, as fargate-scheduler words them; `None` when it
/// can.
pub fn unsupported(pod: &Value) -> Option<String> {
    unsupported_with_claims(pod, &[])
}

/// The claims of a pod's `persistentVolumeClaim` volumes: (volume name, claim name).
pub fn claim_volumes(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let claim = v.pointer("/persistentVolumeClaim/claimName")?.as_str()?;
            Some((v["name"].as_str()?.to_string(), claim.to_string()))
        })
        .collect()
}

/// What fargate-scheduler says about a claim a pod mounts: it must be bound, and not to an
/// EBS volume (in-tree `awsElasticBlockStore` volumes count as the EBS CSI driver's, as
/// CSI migration makes them on EKS). `claim` and `volume` are the stored objects, when they
/// exist.
pub fn claim_problem(
    volume_name: &str,
    claim_name: &str,
    claim: Option<&Value>,
    volume: Option<&Value>,
) -> Option<String> {
    let bound = claim.is_some_and(|c| c["status"]["phase"] == "Bound");
    let Some(pv) = volume.filter(|_| bound) else {
        return Some(format!(
            "{volume_name} not supported because: PVC {claim_name} not bound"
        ));
    };
    let driver = pv["spec"]["csi"]["driver"].as_str().or_else(|| {
        pv["spec"]
            .get("awsElasticBlockStore")
            .map(|_| EBS_CSI_DRIVER)
    });
    (driver == Some(EBS_CSI_DRIVER)).then(|| {
        format!(
            "{volume_name} not supported because: PVC {claim_name} bound to invalid PV {} with CSI Driver: {EBS_CSI_DRIVER}",
            pv["metadata"]["name"].as_str().unwrap_or_default()
        )
    })
}

const EBS_CSI_DRIVER: &str = "ebs.csi.aws.com";

/// [`unsupported`], with the problems of the pod's claims ([`claim_problem`]) among the
/// unsupported volumes.
pub fn unsupported_with_claims(pod: &Value, claim_problems: &[String]) -> Option<String> {
    let spec = pod.get("spec")?;
    let flag = |k: &str| spec.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut fields = Vec::new();
    for (key, name) in [
        ("hostNetwork", "HostNetwork"),
        ("hostPID", "HostPID"),
        ("hostIPC", "HostIPC"),
    ] {
        if flag(key) {
            fields.push(name.to_string());
        }
    }
    let mut security = Vec::new();
    let mut host_port = false;
    let mut resources = Vec::new();
    for c in containers(spec) {
        let sc = c.get("securityContext");
        let sc_flag = |k: &str| sc.and_then(|s| s.get(k)).and_then(Value::as_bool);
        if sc_flag("privileged") == Some(true) && !security.contains(&"Privileged".to_string()) {
            security.push("Privileged".to_string());
        }
        if sc_flag("allowPrivilegeEscalation") == Some(true)
            && !security.contains(&"AllowPrivilegeEscalation".to_string())
        {
            security.push("AllowPrivilegeEscalation".to_string());
        }
        let added: Vec<String> = sc
            .and_then(|s| s.pointer("/capabilities/add"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|cap| cap.trim_start_matches("CAP_").to_string())
            .filter(|cap| cap != ALLOWED_CAPABILITY)
            .map(|cap| format!("CAP_{cap}"))
            .collect();
        if !added.is_empty() {
            security.push(format!("Capabilities added: {}", added.join(", ")));
        }
        let ports = c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for p in ports {
            if p.get("hostPort")
                .and_then(Value::as_i64)
                .is_some_and(|h| h != 0)
                || p.get("hostIP")
                    .and_then(Value::as_str)
                    .is_some_and(|h| !h.is_empty())
            {
                host_port = true;
            }
        }
        for section in ["requests", "limits"] {
            let Some(map) = c
                .pointer(&format!("/resources/{section}"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for name in map.keys() {
                if !SUPPORTED_RESOURCES.contains(&name.as_str()) && !resources.contains(name) {
                    resources.push(name.clone());
                }
            }
        }
    }
    let mut volumes = Vec::new();
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        let supported = v.as_object().is_some_and(|o| {
            o.keys()
                .filter(|k| *k != "name")
                .all(|k| SUPPORTED_VOLUMES.contains(&k.as_str()))
        });
        if !supported {
            volumes.push(format!("{name} is of an unsupported volume Type"));
        }
    }
    volumes.extend(claim_problems.iter().cloned());
    let mut parts = Vec::new();
    if !fields.is_empty() {
        parts.push(format!("fields not supported: {}", fields.join(", ")));
    }
    if !security.is_empty() {
        parts.push(format!(
            "invalid SecurityContext fields: {}",
            security.join(", ")
        ));
    }
    if !volumes.is_empty() {
        parts.push(format!("volumes not supported: {}", volumes.join(", ")));
    }
    if host_port {
        parts.push("port contains HostIP or HostPort".into());
    }
    if !resources.is_empty() {
        parts.push(format!("resources not supported: {}", resources.join(", ")));
    }
    (!parts.is_empty()).then(|| format!("Pod not supported on Fargate: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_pods_are_supported() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "nginx",
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}],
            "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "x"}}]}});
        assert_eq!(unsupported(&pod), None);
    }

    #[test]
    fn messages_read_as_fargate_scheduler_writes_them() {
        let pod = json!({"spec": {"hostNetwork": true, "containers": [{"name": "c",
            "securityContext": {"privileged": true}, "ports": [{"containerPort": 80, "hostPort": 80}]}]}});
        assert_eq!(
            unsupported(&pod).unwrap(),
            "Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext fields: Privileged, port contains HostIP or HostPort"
        );
        let pod = json!({"spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}],
            "volumes": [{"name": "mntdatas3fs", "hostPath": {"path": "/mnt"}}]}});
        assert_eq!(
            unsupported(&pod).unwrap(),
            "Pod not supported on Fargate: invalid SecurityContext fields: Privileged, volumes not supported: mntdatas3fs is of an unsupported volume Type"
        );
        let pod = json!({"spec": {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["CHOWN", "SYS_PTRACE"]}}}]}});
        assert_eq!(
            unsupported(&pod).unwrap(),
            "Pod not supported on Fargate: invalid SecurityContext fields: Capabilities added: CAP_CHOWN"
        );
        let pod = json!({"spec": {"containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": true}}]}});
        assert_eq!(
            unsupported(&pod).unwrap(),
            "Pod not supported on Fargate: invalid SecurityContext fields: AllowPrivilegeEscalation"
        );
        let pod = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
            "volumes": [{"name": "data", "awsElasticBlockStore": {"volumeID": "vol-1"}}]}});
        assert_eq!(
            unsupported(&pod).unwrap(),
            "Pod not supported on Fargate: volumes not supported: data is of an unsupported volume Type, resources not supported: nvidia.com/gpu"
        );
    }

    #[test]
    fn claims_must_be_bound_and_not_to_ebs() {
        let pending = json!({"status": {"phase": "Pending"}});
        assert_eq!(
            claim_problem("data", "db", Some(&pending), None).unwrap(),
            "data not supported because: PVC db not bound"
        );
        assert_eq!(
            claim_problem("data", "db", None, None).unwrap(),
            "data not supported because: PVC db not bound"
        );
        let bound = json!({"status": {"phase": "Bound"}});
        let ebs =
            json!({"metadata": {"name": "pv-1"}, "spec": {"csi": {"driver": "ebs.csi.aws.com"}}});
        assert_eq!(
            claim_problem("data", "db", Some(&bound), Some(&ebs)).unwrap(),
            "data not supported because: PVC db bound to invalid PV pv-1 with CSI Driver: ebs.csi.aws.com"
        );
        let in_tree = json!({"metadata": {"name": "pv-2"}, "spec": {"awsElasticBlockStore": {"volumeID": "vol-1"}}});
        assert!(claim_problem("data", "db", Some(&bound), Some(&in_tree)).is_some());
        let efs =
            json!({"metadata": {"name": "pv-3"}, "spec": {"csi": {"driver": "efs.csi.aws.com"}}});
        assert_eq!(claim_problem("data", "db", Some(&bound), Some(&efs)), None);
        let pod = json!({"spec": {"containers": [{"name": "c"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}]}});
        assert_eq!(
            claim_volumes(&pod),
            vec![("data".to_string(), "db".to_string())]
        );
        assert_eq!(
            unsupported_with_claims(&pod, &["data not supported because: PVC db not bound".into()]).unwrap(),
            "Pod not supported on Fargate: volumes not supported: data not supported because: PVC db not bound"
        );
    }
}
