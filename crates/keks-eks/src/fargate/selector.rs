//! Fargate profile selectors: a namespace and labels, with `*` (any run of characters) and
//! `?` (any one character) wildcards in the namespace, label keys and label values. A pod
//! matches a selector when its namespace matches and it has every label of the selector.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Selector {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    pub fn matches(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        glob_match(&self.namespace, namespace)
            && self.labels.iter().all(|(key, value)| {
                labels
                    .iter()
                    .any(|(k, v)| glob_match(key, k) && glob_match(value, v))
            })
    }
}

/// Whether `text` matches `pattern` with `*` and `?` wildcards.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was and how much of the text it has taken, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_eks_documents() {
        assert!(glob_match("prod*", "prod"));
        assert!(glob_match("prod*", "production"));
        assert!(glob_match("*-dev", "team-a-dev"));
        assert!(glob_match("team-?", "team-a"));
        assert!(!glob_match("team-?", "team-ab"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("kube-system", "kube-system"));
        assert!(!glob_match("default", "default2"));
    }

    #[test]
    fn a_pod_needs_every_selector_label() {
        let selector = Selector {
            namespace: "prod*".into(),
            labels: [("app".to_string(), "web-?".to_string())].into(),
        };
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selector.matches("prod-eu", &labels(&[("app", "web-1"), ("tier", "x")])));
        assert!(!selector.matches("prod-eu", &labels(&[("tier", "x")])));
        assert!(!selector.matches("staging", &labels(&[("app", "web-1")])));
        let any = Selector {
            namespace: "default".into(),
            labels: BTreeMap::new(),
        };
        assert!(any.matches("default", &BTreeMap::new()));
    }
}
