//! The Fargate admission step, as EKS's mutating webhook: a pod created in an EKS cluster
//! whose namespace and labels match a selector of an ACTIVE Fargate profile gets
//! `schedulerName: fargate-scheduler` and the label `eks.amazonaws.com/fargate-profile`.
//!
//! Which profile: a pod that names one in that label uses it if it matches it (and is left
//! alone otherwise); else the first matching profile by name, in alphanumeric order (EKS's
//! documented tie-break). Left alone: pods with another explicit scheduler, DaemonSet pods,
//! mirror pods, pods already bound to a node, and pods annotated
//! `eks.amazonaws.com/compute-type: ec2` (how EKS keeps CoreDNS off Fargate). Pods that
//! existed before a profile are never changed: admission runs at creation only.

use std::collections::BTreeMap;

use keks_apiserver::admission::Admission;
use keks_apiserver::registry::ResourceDescriptor;
use keks_apiserver::status::ApiError;
use serde_json::Value;

pub const SCHEDULER: &str = "fargate-scheduler";
pub const PROFILE_LABEL: &str = "eks.amazonaws.com/fargate-profile";
const COMPUTE_TYPE_ANNOTATION: &str = "eks.amazonaws.com/compute-type";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The admission plug-in EKS's add-on hands to every cluster.
pub(crate) struct FargateAdmission(pub(crate) crate::addon::EksAddon);

/// The profile a new pod goes to, if any.
pub fn choose_profile(
    profiles: &BTreeMap<String, super::profiles::ProfileDoc>,
    namespace: &str,
    pod: &Value,
) -> Option<String> {
    let spec = pod.get("spec");
    let scheduler = spec
        .and_then(|s| s.get("schedulerName"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !scheduler.is_empty() && scheduler != "default-scheduler" {
        return None;
    }
    if spec
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
    {
        return None;
    }
    let meta = pod.get("metadata");
    let annotations = meta.and_then(|m| m.get("annotations"));
    let annotation = |k: &str| annotations.and_then(|a| a.get(k)).and_then(Value::as_str);
    if annotation(MIRROR_ANNOTATION).is_some() || annotation(COMPUTE_TYPE_ANNOTATION) == Some("ec2")
    {
        return None;
    }
    let owned_by_daemonset = meta
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["kind"] == "DaemonSet"));
    if owned_by_daemonset {
        return None;
    }
    let labels: BTreeMap<String, String> = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let matches = |p: &super::profiles::ProfileDoc| {
        p.profile.status == "ACTIVE"
            && p.profile
                .selectors
                .iter()
                .any(|s| s.matches(namespace, &labels))
    };
    if let Some(wanted) = labels.get(PROFILE_LABEL) {
        return profiles
            .get(wanted)
            .filter(|p| matches(p))
            .map(|_| wanted.clone());
    }
    profiles
        .iter()
        .find(|(_, p)| matches(p))
        .map(|(name, _)| name.clone())
}

#[async_trait::async_trait]
impl Admission for FargateAdmission {
    async fn admit_create(
        &self,
        cluster: &str,
        d: &ResourceDescriptor,
        namespace: &str,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        if !(d.group.is_empty() && d.plural == "pods") {
            return Ok(());
        }
        let Some(control) = self.0.control() else {
            return Ok(());
        };
        let Some(Some(profile)) = control.with(cluster, |doc| {
            choose_profile(&doc.fargate_profiles, namespace, obj)
        }) else {
            return Ok(());
        };
        let Some(map) = obj.as_object_mut() else {
            return Ok(());
        };
        let spec = map
            .entry("spec")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("schedulerName".into(), Value::String(SCHEDULER.into()));
        }
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(PROFILE_LABEL.into(), Value::String(profile));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::profiles::{FargateProfile, ProfileDoc};
    use super::super::selector::Selector;
    use super::*;
    use serde_json::json;

    fn profile(
        name: &str,
        namespace: &str,
        labels: &[(&str, &str)],
        status: &str,
    ) -> (String, ProfileDoc) {
        let p = FargateProfile {
            fargate_profile_name: name.into(),
            fargate_profile_arn: String::new(),
            cluster_name: "c".into(),
            created_at: 0.0,
            pod_execution_role_arn: String::new(),
            subnets: Vec::new(),
            selectors: vec![Selector {
                namespace: namespace.into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }],
            status: status.into(),
            tags: BTreeMap::new(),
            health: json!({}),
        };
        (
            name.into(),
            ProfileDoc {
                profile: p,
                due: None,
                client_request_token: None,
            },
        )
    }

    #[test]
    fn picks_the_first_matching_active_profile_by_name() {
        let profiles: BTreeMap<String, ProfileDoc> = [
            profile("b-web", "prod", &[("app", "web")], "ACTIVE"),
            profile("a-any", "prod*", &[], "ACTIVE"),
            profile("c-new", "prod", &[], "CREATING"),
        ]
        .into();
        let pod = json!({"metadata": {"labels": {"app": "web"}}, "spec": {}});
        assert_eq!(
            choose_profile(&profiles, "prod", &pod).as_deref(),
            Some("a-any")
        );
        let named =
            json!({"metadata": {"labels": {"app": "web", PROFILE_LABEL: "b-web"}}, "spec": {}});
        assert_eq!(
            choose_profile(&profiles, "prod", &named).as_deref(),
            Some("b-web")
        );
        let wrong = json!({"metadata": {"labels": {PROFILE_LABEL: "b-web"}}, "spec": {}});
        assert_eq!(choose_profile(&profiles, "prod", &wrong), None);
        assert_eq!(choose_profile(&profiles, "staging", &pod), None);
    }

    #[test]
    fn leaves_alone_what_eks_leaves_alone() {
        let profiles: BTreeMap<String, ProfileDoc> = [profile("all", "*", &[], "ACTIVE")].into();
        let plain = json!({"metadata": {}, "spec": {"schedulerName": "default-scheduler"}});
        assert_eq!(
            choose_profile(&profiles, "x", &plain).as_deref(),
            Some("all")
        );
        for pod in [
            json!({"metadata": {}, "spec": {"schedulerName": "my-scheduler"}}),
            json!({"metadata": {"ownerReferences": [{"kind": "DaemonSet", "name": "d"}]}, "spec": {}}),
            json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}, "spec": {}}),
            json!({"metadata": {"annotations": {COMPUTE_TYPE_ANNOTATION: "ec2"}}, "spec": {}}),
            json!({"metadata": {}, "spec": {"nodeName": "n1"}}),
        ] {
            assert_eq!(choose_profile(&profiles, "x", &pod), None, "{pod}");
        }
    }
}
