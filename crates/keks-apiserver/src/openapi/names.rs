//! Names kube-apiserver gives things in its OpenAPI documents: operation ids
//! (`listAppsV1NamespacedDeployment`), tags (`apps_v1`), document keys (`apis/apps/v1`) and
//! the schema names of kinds without a typed schema (`com.example.v1.Widget`).

/// `Core`, `Apps`, `RbacAuthorization`, `FlowcontrolApiserver`: the group part of an
/// operation id.
pub(super) fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-']).map(upper_first).collect()
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the tag of a group-version's operations.
pub(super) fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lower: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("{lower}_{version}")
}

/// `Pod` → `Pod`, `ephemeralcontainers` → `Ephemeralcontainers`.
pub(super) fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The article of a kind in operation descriptions, with its padding: `create a Pod`,
/// `create an Ingress`, `create Endpoints` (a plural noun has none; `StorageClass` is not
/// plural), as kube-apiserver's installer words them.
pub(super) fn article(kind: &str) -> &'static str {
    if kind.ends_with('s') && !kind.ends_with("ss") {
        return " ";
    }
    match kind.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U' | 'a' | 'e' | 'i' | 'o' | 'u') => " an ",
        _ => " a ",
    }
}

/// The key of a group-version in the `/openapi/v3` index: `api/v1`, `apis/apps/v1`.
pub fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The URL prefix of a group-version's resources: `/api/v1`, `/apis/apps/v1`.
pub(super) fn api_prefix(group: &str, version: &str) -> String {
    format!("/{}", group_version_key(group, version))
}

/// The schema name kube-apiserver gives a custom resource: the group reversed, then the
/// version and kind (`com.example.stable.v1.CronTab`).
pub(super) fn custom_schema_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Quotes a string as Go's `strconv.Quote` does for the strings field paths are made of.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_id_parts_match_kube() {
        assert_eq!(group_camel(""), "Core");
        assert_eq!(group_camel("apps"), "Apps");
        assert_eq!(
            group_camel("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
        assert_eq!(
            group_camel("flowcontrol.apiserver.k8s.io"),
            "FlowcontrolApiserver"
        );
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
        assert_eq!(
            custom_schema_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
        assert_eq!(article("Ingress"), " an ");
        assert_eq!(article("Endpoints"), " ");
        assert_eq!(article("StorageClass"), " a ");
        assert_eq!(go_quote("spec.a\"b"), "\"spec.a\\\"b\"");
    }
}
