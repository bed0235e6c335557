//! The protobuf wire format: a reader of (tag, value) pairs and a writer of them.

use super::error::ProtobufError;

/// A field's value as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

impl WireValue<'_> {
    pub fn type_name(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "fixed64",
            WireValue::Fixed32(_) => "fixed32",
            WireValue::Bytes(_) => "length-delimited",
        }
    }
}

/// Reads the fields of one message, in wire order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn malformed(&self, reason: &str) -> ProtobufError {
        ProtobufError::malformed(format!("{reason} at byte {}", self.pos))
    }

    pub fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.malformed("truncated varint"));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed("varint longer than 10 bytes"))
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        let bytes: [u8; 8] = self.take(8)?.try_into().unwrap_or_default();
        Ok(u64::from_le_bytes(bytes))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let Some(end) = end else {
            return Err(self.malformed("truncated field"));
        };
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// The next field, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
        if self.at_end() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag =
            u32::try_from(key >> 3).map_err(|_| self.malformed("field number out of range"))?;
        if tag == 0 {
            return Err(self.malformed("field number 0"));
        }
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(self.fixed64()?),
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| self.malformed("length out of range"))?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => {
                let bytes: [u8; 4] = self.take(4)?.try_into().unwrap_or_default();
                WireValue::Fixed32(u32::from_le_bytes(bytes))
            }
            other => return Err(self.malformed(&format!("unsupported wire type {other}"))),
        };
        Ok(Some((tag, value)))
    }
}

/// Writes fields of one message.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn key(&mut self, tag: u32, wire_type: u8) {
        self.varint(u64::from(tag) << 3 | u64::from(wire_type));
    }

    pub fn varint_field(&mut self, tag: u32, value: u64) {
        self.key(tag, 0);
        self.varint(value);
    }

    pub fn fixed64_field(&mut self, tag: u32, value: u64) {
        self.key(tag, 1);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bytes_field(&mut self, tag: u32, value: &[u8]) {
        self.key(tag, 2);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX,
            (-1i64) as u64,
        ] {
            let mut w = Writer::default();
            w.varint(value);
            assert_eq!(Reader::new(&w.buf).varint().unwrap(), value);
        }
    }

    #[test]
    fn reads_fields_and_rejects_truncation() {
        let mut w = Writer::default();
        w.varint_field(1, 150);
        w.bytes_field(2, b"hi");
        w.fixed64_field(3, 7);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.next_field().unwrap(), Some((1, WireValue::Varint(150))));
        assert_eq!(r.next_field().unwrap(), Some((2, WireValue::Bytes(b"hi"))));
        assert_eq!(r.next_field().unwrap(), Some((3, WireValue::Fixed64(7))));
        assert_eq!(r.next_field().unwrap(), None);
        let truncated = &w.buf[..w.buf.len() - 1];
        let mut r = Reader::new(truncated);
        r.next_field().unwrap();
        r.next_field().unwrap();
        assert!(r.next_field().is_err());
    }
}
