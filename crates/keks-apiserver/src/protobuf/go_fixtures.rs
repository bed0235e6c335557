//! A check against Kubernetes' own round-trip fixtures (k8s.io/api `testdata/HEAD/*.pb` with
//! the `.json` Go wrote for the same object): every body must decode to exactly Go's JSON, and
//! Go's JSON must encode to a body that decodes back to it. The fixtures are not vendored: run
//! `K8S_FIXTURES=<k8s.io/api>/testdata/HEAD:<k8s.io/apiextensions-apiserver>/pkg/apis/testdata/HEAD
//! cargo test -p keks-apiserver go_fixtures -- --ignored --nocapture`.

use serde_json::Value;

use super::{decode_object, encode_object, ProtobufError};

fn diff(path: &str, ours: &Value, go: &Value, out: &mut Vec<String>) {
    match (ours, go) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => diff(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: only ours = {v}")),
                }
            }
            out.extend(
                b.iter()
                    .filter(|(k, _)| !a.contains_key(*k))
                    .map(|(k, w)| format!("{path}.{k}: only Go's = {w}")),
            );
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if ours == go => {}
        _ => out.push(format!("{path}: ours {ours} != Go's {go}")),
    }
}

#[test]
#[ignore = "needs K8S_FIXTURES pointing at Kubernetes' testdata directories"]
fn go_fixtures() {
    let dirs = std::env::var("K8S_FIXTURES").expect("K8S_FIXTURES=dir[:dir...]");
    let (mut equal, mut unknown, mut failures) = (0, 0, Vec::new());
    for dir in dirs.split(':') {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for pb in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        {
            let name = pb.file_name().unwrap().to_string_lossy().into_owned();
            let go: Value =
                serde_json::from_slice(&std::fs::read(pb.with_extension("json")).unwrap()).unwrap();
            let ours = match decode_object(&std::fs::read(&pb).unwrap()) {
                Ok(v) => v,
                // Kinds this Kubernetes release no longer has; watch events have no envelope kind.
                Err(ProtobufError::UnknownKind { .. } | ProtobufError::MissingTypeMeta) => {
                    unknown += 1;
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let mut out = Vec::new();
            diff("", &ours, &go, &mut out);
            match encode_object(&go).and_then(|body| decode_object(&body)) {
                Ok(back) => diff("(re-encoded)", &back, &go, &mut out),
                Err(e) => out.push(format!("encoding: {e}")),
            }
            if out.is_empty() {
                equal += 1;
            } else {
                failures.push(format!("{name}:\n    {}", out.join("\n    ")));
            }
        }
    }
    println!(
        "{equal} fixtures equal to Go's JSON, {unknown} of unknown kinds, {} different",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
