//! EC2's `Filter.N.Name` / `Filter.N.Value.M` request filters: names per resource, `tag:<key>`
//! and `tag-key`, values with `*` and `?` wildcards; a resource matches when every filter
//! matches one of its values.

use keks_cloud::Tag;

use super::Ec2Error;
use crate::query::QueryRequest;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// The request's filters.
pub fn parse(req: &QueryRequest) -> Vec<Filter> {
    (1..)
        .map_while(|i| {
            let name = req.get(&format!("Filter.{i}.Name"))?;
            Some(Filter {
                name: name.to_string(),
                values: req
                    .list(&format!("Filter.{i}.Value"))
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// Something filters apply to: its values for a filter name (`None`: no such filter).
pub trait Filterable {
    fn values(&self, filter: &str) -> Option<Vec<String>>;
    fn tags(&self) -> &[Tag];
}

/// Checks every filter name is known for the resource kind (using `sample` to ask).
pub fn check_names<T: Filterable>(filters: &[Filter], sample: &T) -> Result<(), Ec2Error> {
    for f in filters {
        let known =
            f.name.starts_with("tag:") || f.name == "tag-key" || sample.values(&f.name).is_some();
        if !known {
            return Err(Ec2Error::new(
                "InvalidParameterValue",
                format!("The filter '{}' is invalid", f.name),
            ));
        }
    }
    Ok(())
}

pub fn matches<T: Filterable>(item: &T, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let actual: Vec<String> = if let Some(key) = f.name.strip_prefix("tag:") {
            item.tags()
                .iter()
                .filter(|t| t.key == key)
                .map(|t| t.value.clone())
                .collect()
        } else if f.name == "tag-key" {
            item.tags().iter().map(|t| t.key.clone()).collect()
        } else {
            item.values(&f.name).unwrap_or_default()
        };
        f.values
            .iter()
            .any(|pattern| actual.iter().any(|v| glob(pattern, v)))
    })
}

/// EC2's filter wildcards: `*` any run, `?` one character, `\` escapes.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(glob("us-east-1*", "us-east-1a"));
        assert!(glob("us-east-1?", "us-east-1a"));
        assert!(!glob("us-east-1?", "us-east-1"));
        assert!(glob("a\\*", "a*"));
        assert!(!glob("a\\*", "ab"));
        assert!(glob("*", ""));
    }

    #[test]
    fn parses_filters() {
        let req = QueryRequest::parse(
            "",
            b"Action=DescribeSubnets&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&Filter.2.Name=tag%3AName&Filter.2.Value.1=x",
        );
        let filters = parse(&req);
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].values, ["vpc-1", "vpc-2"]);
        assert_eq!(filters[1].name, "tag:Name");
    }
}
