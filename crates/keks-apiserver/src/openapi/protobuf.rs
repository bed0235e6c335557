//! A minimal protobuf writer (proto3 wire format: varints, length-delimited fields,
//! doubles), enough to encode gnostic's OpenAPI v2 messages without generated code.

/// One message being written.
#[derive(Default)]
pub(super) struct Message(Vec<u8>);

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;

impl Message {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from((field << 3) | wire));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// A string field; the empty string is proto3's default and is not written.
    pub(super) fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    /// A repeated string field: every element, empty ones included.
    pub(super) fn strings<'a>(&mut self, field: u32, values: impl IntoIterator<Item = &'a str>) {
        for s in values {
            self.bytes(field, s.as_bytes());
        }
    }

    pub(super) fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, VARINT);
            self.varint(1);
        }
    }

    pub(super) fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v as u64);
        }
    }

    pub(super) fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, FIXED64);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// An embedded message; written even when empty (its presence may carry meaning, as in
    /// a `oneof`).
    pub(super) fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_wire_format() {
        let mut inner = Message::new();
        inner.int64(1, 150);
        let mut m = Message::new();
        m.string(1, "hi");
        m.message(2, inner);
        m.bool(3, true);
        m.string(4, "");
        assert_eq!(
            m.into_bytes(),
            vec![0x0a, 2, b'h', b'i', 0x12, 3, 0x08, 0x96, 0x01, 0x18, 1]
        );
    }
}
