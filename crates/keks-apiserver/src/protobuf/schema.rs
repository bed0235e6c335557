//! The protobuf schema of Kubernetes' built-in types: message and field descriptors, and the
//! lookups over the generated table (`schema_table.rs`).

use super::schema_table::{FIELDS, KINDS, MESSAGES};

/// A field's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bytes,
    Bool,
    I32,
    I64,
    F64,
    /// A message: an index into the message table.
    Msg(u16),
}

/// A field's cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    One,
    Rep,
    /// A map with string keys; the field's kind is the value kind.
    Map,
}

/// How a field present on the wire shows in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Always (a Go pointer, a field without `omitempty`, or any message field).
    Always,
    /// Unless it is the zero value: a non-pointer Go scalar with `omitempty`, which Go's
    /// protobuf marshaller writes even when zero and its JSON encoder then leaves out.
    NonZero,
    /// An embedded Go struct (`json:",inline"`): its fields are the parent object's fields.
    Inline,
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Plain,
    /// `intstr.IntOrString` {1 type, 2 intVal, 3 strVal}: a JSON number or string.
    IntOrString,
    /// `resource.Quantity` {1 string}: the string.
    Quantity,
    /// `metav1.Time` {1 seconds, 2 nanos}: RFC 3339 in seconds; the zero time is left out.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with 6 fractional digits.
    MicroTime,
    /// `metav1.Duration` {1 nanoseconds}: a Go duration string.
    Duration,
    /// `runtime.RawExtension` {1 raw}: the embedded object.
    RawExtension,
    /// `metav1.FieldsV1`, `apiextensions JSON` {1 raw}: the embedded JSON value.
    RawJson,
    /// `runtime.Unknown`: the embedded object, decoded if its type is known.
    Unknown,
    /// A Go named slice (`type ExtraValue []string`) {1 items}: the JSON array.
    Array,
    /// `JSONSchemaPropsOrArray` {1 schema, 2 jSONSchemas}: an array or a schema.
    SchemaOrArray,
    /// `JSONSchemaPropsOrBool` {1 allows, 2 schema}: a bool or a schema.
    SchemaOrBool,
    /// `JSONSchemaPropsOrStringArray` {1 schema, 2 property}: a string array or a schema.
    SchemaOrStringArray,
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub tag: u32,
    pub json: &'static str,
    pub kind: Kind,
    pub card: Card,
    pub emit: Emit,
}

/// One message: its full protobuf name and its fields, sorted by tag.
#[derive(Debug)]
pub struct Message {
    pub name: &'static str,
    pub special: Special,
    fields: (u16, u16),
}

/// A field, in the generated table's compact form.
pub(super) const fn f(tag: u32, json: &'static str, kind: Kind, card: Card, emit: Emit) -> Field {
    Field {
        tag,
        json,
        kind,
        card,
        emit,
    }
}

/// A message, in the generated table's compact form.
pub(super) const fn m(name: &'static str, special: Special, start: u16, len: u16) -> Message {
    Message {
        name,
        special,
        fields: (start, len),
    }
}

impl Message {
    pub fn fields(&self) -> &'static [Field] {
        let (start, len) = (usize::from(self.fields.0), usize::from(self.fields.1));
        &FIELDS[start..start + len]
    }

    pub fn field(&self, tag: u32) -> Option<&'static Field> {
        let fields = self.fields();
        fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .map(|i| &fields[i])
    }
}

/// The message at an index of the table.
pub fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message of a full protobuf name (`k8s.io.api.core.v1.Pod`).
#[cfg(test)]
pub fn message_named(name: &str) -> Option<&'static Message> {
    MESSAGES
        .binary_search_by(|m| m.name.cmp(name))
        .ok()
        .map(|i| &MESSAGES[i])
}

/// The message of an object's `apiVersion` and `kind`. meta/v1 kinds (`DeleteOptions`,
/// `Status`, ...) are found under any apiVersion, as every group version serves them.
pub fn message_for_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    let find = |v: &str| {
        KINDS
            .binary_search_by(|(av, k, _)| (*av, *k).cmp(&(v, kind)))
            .ok()
    };
    find(api_version)
        .or_else(|| find(""))
        .map(|i| message(KINDS[i].2))
}
