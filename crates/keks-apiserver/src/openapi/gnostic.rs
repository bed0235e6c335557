//! The Swagger 2.0 JSON document encoded as gnostic's `openapi_v2.Document` protobuf
//! (github.com/google/gnostic-models, `openapiv2/OpenAPIv2.proto`), which client-go's
//! `OpenAPISchema` downloads and kubectl ≤ 1.28 needs for validation and `explain`.
//! Vendor extensions, defaults and examples are `Any`s carrying their value as YAML (JSON
//! text, which YAML reads), as gnostic's compiler writes them.

use serde_json::{Map, Value};

use super::protobuf::Message;

/// The `Document` message of a Swagger 2.0 document.
pub(super) fn document(v: &Value) -> Vec<u8> {
    let mut m = Message::new();
    m.string(1, str_of(v, "swagger"));
    if let Some(info) = v.get("info") {
        let mut i = Message::new();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        m.message(2, i);
    }
    m.strings(5, strings(v, "schemes"));
    m.strings(6, strings(v, "consumes"));
    m.strings(7, strings(v, "produces"));
    if let Some(paths) = v.get("paths").and_then(Value::as_object) {
        let mut p = Message::new();
        for (path, item) in paths {
            p.message(2, named(path, path_item(item)));
        }
        m.message(8, p);
    }
    if let Some(defs) = v.get("definitions").and_then(Value::as_object) {
        let mut d = Message::new();
        for (name, s) in defs {
            d.message(1, named(name, schema(s)));
        }
        m.message(9, d);
    }
    for requirement in v
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut r = Message::new();
        for (name, scopes) in requirement.as_object().into_iter().flatten() {
            let mut list = Message::new();
            list.strings(
                1,
                scopes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
            r.message(1, named(name, list));
        }
        m.message(12, r);
    }
    if let Some(defs) = v.get("securityDefinitions").and_then(Value::as_object) {
        let mut d = Message::new();
        for (name, def) in defs {
            let mut key = Message::new();
            key.string(1, str_of(def, "type"));
            key.string(2, str_of(def, "name"));
            key.string(3, str_of(def, "in"));
            key.string(4, str_of(def, "description"));
            let mut item = Message::new();
            item.message(2, key);
            d.message(1, named(name, item));
        }
        m.message(13, d);
    }
    vendor_extensions(&mut m, 16, v);
    m.into_bytes()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn strings<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// A `Named*` message: `name = 1`, `value = 2`.
fn named(name: &str, value: Message) -> Message {
    let mut m = Message::new();
    m.string(1, name);
    m.message(2, value);
    m
}

/// gnostic's `Any`: the value as YAML in field 2.
fn any(v: &Value) -> Message {
    let mut m = Message::new();
    m.string(2, &v.to_string());
    m
}

/// `repeated NamedAny vendor_extension` from the `x-` keys of an object.
fn vendor_extensions(m: &mut Message, field: u32, v: &Value) {
    for (k, value) in v.as_object().into_iter().flatten() {
        if k.starts_with("x-") {
            m.message(field, named(k, any(value)));
        }
    }
}

fn schema(v: &Value) -> Message {
    let mut m = Message::new();
    let Some(o) = v.as_object() else { return m };
    if let Some(Value::String(r)) = o.get("$ref") {
        m.string(1, r);
    }
    m.string(2, str_of(v, "format"));
    m.string(3, str_of(v, "title"));
    m.string(4, str_of(v, "description"));
    if let Some(d) = o.get("default") {
        m.message(5, any(d));
    }
    number(&mut m, o, "multipleOf", 6);
    number(&mut m, o, "maximum", 7);
    m.bool(8, flag(o, "exclusiveMaximum"));
    number(&mut m, o, "minimum", 9);
    m.bool(10, flag(o, "exclusiveMinimum"));
    for (key, field) in [
        ("maxLength", 11),
        ("minLength", 12),
        ("maxItems", 14),
        ("minItems", 15),
        ("maxProperties", 17),
        ("minProperties", 18),
    ] {
        m.int64(
            field,
            o.get(key).and_then(Value::as_i64).unwrap_or_default(),
        );
    }
    m.string(13, str_of(v, "pattern"));
    m.bool(16, flag(o, "uniqueItems"));
    m.strings(19, strings(v, "required"));
    for e in o
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match o.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Message::new();
            a.bool(2, *b);
            m.message(21, a);
        }
        Some(s @ Value::Object(_)) => {
            let mut a = Message::new();
            a.message(1, schema(s));
            m.message(21, a);
        }
        _ => {}
    }
    match o.get("type") {
        Some(Value::String(t)) => {
            let mut t_item = Message::new();
            t_item.strings(1, [t.as_str()]);
            m.message(22, t_item);
        }
        Some(Value::Array(ts)) => {
            let mut t_item = Message::new();
            t_item.strings(1, ts.iter().filter_map(Value::as_str));
            m.message(22, t_item);
        }
        _ => {}
    }
    match o.get("items") {
        Some(s @ Value::Object(_)) => {
            let mut items = Message::new();
            items.message(1, schema(s));
            m.message(23, items);
        }
        Some(Value::Array(list)) => {
            let mut items = Message::new();
            for s in list {
                items.message(1, schema(s));
            }
            m.message(23, items);
        }
        _ => {}
    }
    for s in o
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(s));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        let mut p = Message::new();
        for (name, s) in props {
            p.message(1, named(name, schema(s)));
        }
        m.message(25, p);
    }
    m.bool(27, flag(o, "readOnly"));
    if let Some(e) = o.get("example") {
        m.message(30, any(e));
    }
    vendor_extensions(&mut m, 31, v);
    m
}

fn number(m: &mut Message, o: &Map<String, Value>, key: &str, field: u32) {
    if let Some(n) = o.get(key).and_then(Value::as_f64) {
        m.double(field, n);
    }
}

fn flag(o: &Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or_default()
}

fn path_item(v: &Value) -> Message {
    let mut m = Message::new();
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(op) = v.get(method) {
            m.message(field, operation(op));
        }
    }
    for p in v
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameter(p));
    }
    vendor_extensions(&mut m, 10, v);
    m
}

fn operation(v: &Value) -> Message {
    let mut m = Message::new();
    m.strings(1, strings(v, "tags"));
    m.string(2, str_of(v, "summary"));
    m.string(3, str_of(v, "description"));
    m.string(5, str_of(v, "operationId"));
    m.strings(6, strings(v, "produces"));
    m.strings(7, strings(v, "consumes"));
    for p in v
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameter(p));
    }
    if let Some(responses) = v.get("responses").and_then(Value::as_object) {
        let mut r = Message::new();
        for (code, response) in responses {
            let mut resp = Message::new();
            resp.string(1, str_of(response, "description"));
            if let Some(s) = response.get("schema") {
                let mut item = Message::new();
                item.message(1, schema(s));
                resp.message(2, item);
            }
            let mut value = Message::new();
            value.message(1, resp);
            r.message(1, named(code, value));
        }
        m.message(9, r);
    }
    m.strings(10, strings(v, "schemes"));
    m.bool(
        11,
        v.get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or_default(),
    );
    vendor_extensions(&mut m, 13, v);
    m
}

/// A `ParametersItem`: a body parameter, or a query, path or header one.
fn parameter(v: &Value) -> Message {
    let location = str_of(v, "in");
    let required = v
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or_default();
    let mut p = Message::new();
    if location == "body" {
        let mut body = Message::new();
        body.string(1, str_of(v, "description"));
        body.string(2, str_of(v, "name"));
        body.string(3, location);
        body.bool(4, required);
        if let Some(s) = v.get("schema") {
            body.message(5, schema(s));
        }
        vendor_extensions(&mut body, 6, v);
        p.message(1, body);
    } else {
        // Query sub-schemas number their fields one higher from `allow_empty_value` on.
        let (which, shift) = match location {
            "query" => (3, 1),
            "path" => (4, 0),
            _ => (1, 0),
        };
        let mut sub = Message::new();
        sub.bool(1, required);
        sub.string(2, location);
        sub.string(3, str_of(v, "description"));
        sub.string(4, str_of(v, "name"));
        sub.string(5 + shift, str_of(v, "type"));
        sub.string(6 + shift, str_of(v, "format"));
        sub.bool(
            19 + shift,
            v.get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or_default(),
        );
        vendor_extensions(&mut sub, 22 + shift, v);
        let mut non_body = Message::new();
        non_body.message(which, sub);
        p.message(2, non_body);
    }
    let mut item = Message::new();
    item.message(1, p);
    item
}
