//! Finding the operation a restJson1 request is for, from its method and path, by the URI
//! templates of the model (`/clusters/{name}/node-groups/{nodegroupName}`): literal
//! segments must match, `{label}` takes one segment, `{label+}` the rest of the path. When
//! several templates match, the one with more literal segments wins (as in Smithy's router).

use super::model::Model;

enum Segment {
    Literal(String),
    Label(String),
    Greedy(String),
}

struct Route {
    operation: String,
    method: String,
    segments: Vec<Segment>,
    /// Literal query parameters the template requires (`?action=x`).
    query: Vec<(String, Option<String>)>,
}

/// The operations of a model, indexed for matching.
pub struct Router {
    routes: Vec<Route>,
}

/// A matched request: the operation and its path labels (percent-decoded).
#[derive(Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub operation: &'a str,
    pub labels: Vec<(String, String)>,
}

impl Router {
    pub fn new(model: &Model) -> Self {
        let routes = model
            .operations
            .values()
            .map(|op| {
                let (path, query) = op
                    .http
                    .request_uri
                    .split_once('?')
                    .unwrap_or((&op.http.request_uri, ""));
                Route {
                    operation: op.name.clone(),
                    method: op.http.method.clone(),
                    segments: split_path(path)
                        .map(
                            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                                Some(label) => match label.strip_suffix('+') {
                                    Some(greedy) => Segment::Greedy(greedy.to_string()),
                                    None => Segment::Label(label.to_string()),
                                },
                                None => Segment::Literal(s.to_string()),
                            },
                        )
                        .collect(),
                    query: query
                        .split('&')
                        .filter(|p| !p.is_empty())
                        .map(|p| match p.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (p.to_string(), None),
                        })
                        .collect(),
                }
            })
            .collect();
        Self { routes }
    }

    /// The best-matching operation for a request, if any.
    pub fn find(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Option<Matched<'_>> {
        let segments: Vec<&str> = split_path(path).collect();
        let mut best: Option<(usize, Matched<'_>)> = None;
        for route in self.routes.iter().filter(|r| r.method == method) {
            let Some(labels) = route.matches(&segments, query) else {
                continue;
            };
            let literals = route
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count()
                + route.query.len();
            if best.as_ref().is_none_or(|(n, _)| literals > *n) {
                best = Some((
                    literals,
                    Matched {
                        operation: &route.operation,
                        labels,
                    },
                ));
            }
        }
        best.map(|(_, m)| m)
    }
}

impl Route {
    fn matches(&self, path: &[&str], query: &[(String, String)]) -> Option<Vec<(String, String)>> {
        let mut labels = Vec::new();
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(lit) => {
                    if path.get(i)? != lit {
                        return None;
                    }
                    i += 1;
                }
                Segment::Label(name) => {
                    let value = decode(path.get(i)?);
                    if value.is_empty() {
                        return None;
                    }
                    labels.push((name.clone(), value));
                    i += 1;
                }
                Segment::Greedy(name) => {
                    if i >= path.len() {
                        return None;
                    }
                    let rest: Vec<String> = path[i..].iter().map(|s| decode(s)).collect();
                    labels.push((name.clone(), rest.join("/")));
                    i = path.len();
                }
            }
        }
        if i != path.len() {
            return None;
        }
        for (key, value) in &self.query {
            let present = query
                .iter()
                .any(|(k, v)| k == key && value.as_ref().is_none_or(|want| v == want));
            if !present {
                return None;
            }
        }
        Some(labels)
    }
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// Percent-decodes one path segment (ARNs arrive with `:` and `/` encoded). Unlike form
/// decoding, a `+` in a path is a literal plus.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::parse(include_str!("../../models/eks.json")).unwrap()
    }

    #[test]
    fn finds_operations_by_method_and_path() {
        let m = model();
        let r = Router::new(&m);
        let found = |method, path| r.find(method, path, &[]).map(|m| m.operation.to_string());
        assert_eq!(found("POST", "/clusters").as_deref(), Some("CreateCluster"));
        assert_eq!(found("GET", "/clusters").as_deref(), Some("ListClusters"));
        assert_eq!(
            found("GET", "/clusters/prod").as_deref(),
            Some("DescribeCluster")
        );
        assert_eq!(
            found("POST", "/clusters/prod/updates").as_deref(),
            Some("UpdateClusterVersion")
        );
        assert_eq!(
            found("GET", "/clusters/prod/updates").as_deref(),
            Some("ListUpdates")
        );
        assert_eq!(
            found("POST", "/clusters/prod/update-config").as_deref(),
            Some("UpdateClusterConfig")
        );
        assert_eq!(
            found("GET", "/clusters/prod/updates/abc").as_deref(),
            Some("DescribeUpdate")
        );
        assert_eq!(found("PUT", "/clusters"), None);
        assert_eq!(found("GET", "/nothing/here"), None);
    }

    #[test]
    fn labels_are_percent_decoded() {
        let m = model();
        let r = Router::new(&m);
        let matched = r
            .find(
                "GET",
                "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A1%3Acluster%2Fprod",
                &[],
            )
            .unwrap();
        assert_eq!(matched.operation, "ListTagsForResource");
        assert_eq!(
            matched.labels,
            vec![(
                "resourceArn".to_string(),
                "arn:aws:eks:us-east-1:1:cluster/prod".to_string()
            )]
        );
    }
}
