//! The write-ahead log: record encoding and the scan that reads a segment back.
//!
//! A record is a 12-byte header — payload length, its bitwise complement, CRC-32 of the
//! payload, all little-endian u32 — then the payload. The complement lets a scan tell a
//! damaged length from a record cut short by a crash.
//!
//! A scan accepts a damaged tail (an incomplete header, a record running past the end of
//! the file, a bad checksum on the very last record, or trailing zeros): that is a write a
//! crash interrupted, never acknowledged, and the segment is truncated there. Damage followed
//! by more data is corruption and is refused with the file and offset.

use bytes::{Buf, BufMut, Bytes};

use crate::mvcc::Mutation;
use crate::types::Revision;

const HEADER_LEN: usize = 12;
const KIND_COMMIT: u8 = 1;
const KIND_COMPACT: u8 = 2;
const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;

/// One logged change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The resolved writes of one transaction.
    Commit {
        revision: Revision,
        mutations: Vec<Mutation>,
    },
    /// History below `revision` was compacted.
    Compact { revision: Revision },
}

/// Appends one commit record to `out`.
pub(crate) fn encode_commit(out: &mut Vec<u8>, revision: Revision, mutations: &[Mutation]) {
    let payload_len = 1
        + 8
        + 4
        + mutations
            .iter()
            .map(|m| match m {
                Mutation::Put { key, value } => 1 + 4 + key.len() + 4 + value.len(),
                Mutation::Delete { key } => 1 + 4 + key.len(),
            })
            .sum::<usize>();
    let start = begin_record(out, payload_len);
    out.put_u8(KIND_COMMIT);
    out.put_i64_le(revision);
    out.put_u32_le(mutations.len() as u32);
    for m in mutations {
        match m {
            Mutation::Put { key, value } => {
                out.put_u8(TAG_PUT);
                put_bytes(out, key);
                put_bytes(out, value);
            }
            Mutation::Delete { key } => {
                out.put_u8(TAG_DELETE);
                put_bytes(out, key);
            }
        }
    }
    finish_record(out, start);
}

/// Appends one compaction record to `out`.
pub(crate) fn encode_compact(out: &mut Vec<u8>, revision: Revision) {
    let start = begin_record(out, 1 + 8);
    out.put_u8(KIND_COMPACT);
    out.put_i64_le(revision);
    finish_record(out, start);
}

fn begin_record(out: &mut Vec<u8>, payload_len: usize) -> usize {
    let len = u32::try_from(payload_len).expect("a record is smaller than 4 GiB");
    out.reserve(HEADER_LEN + payload_len);
    let start = out.len();
    out.put_u32_le(len);
    out.put_u32_le(!len);
    out.put_u32_le(0); // checksum, filled in by finish_record
    start
}

fn finish_record(out: &mut [u8], start: usize) {
    let crc = crc32fast::hash(&out[start + HEADER_LEN..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.put_slice(bytes);
}

/// What a scan of one segment found.
#[derive(Debug)]
pub(crate) struct Scan {
    pub records: Vec<Record>,
    /// Bytes of whole, valid records; the rest of the file (if any) is a torn tail.
    pub valid_len: u64,
    /// Why the tail was discarded, if it was.
    pub torn: Option<&'static str>,
}

/// Damage in the middle of a segment.
#[derive(Debug)]
pub(crate) struct Corruption {
    pub offset: u64,
    pub reason: String,
}

/// Reads every record of a segment.
pub(crate) fn scan(data: &Bytes) -> Result<Scan, Corruption> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    let torn = |records, pos: usize, why| {
        Ok(Scan {
            records,
            valid_len: pos as u64,
            torn: Some(why),
        })
    };
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.len() < HEADER_LEN {
            return torn(records, pos, "incomplete record header");
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes"));
        let check = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes"));
        if check != !len {
            if rest.iter().all(|&b| b == 0) {
                return torn(records, pos, "zero-filled tail");
            }
            return Err(Corruption {
                offset: pos as u64,
                reason: "record header is damaged (length check failed)".into(),
            });
        }
        let end = HEADER_LEN + len as usize;
        if end > rest.len() {
            return torn(records, pos, "record runs past the end of the file");
        }
        let payload = data.slice(pos + HEADER_LEN..pos + end);
        if crc32fast::hash(&payload) != crc {
            if end == rest.len() {
                return torn(records, pos, "last record has a bad checksum");
            }
            return Err(Corruption {
                offset: pos as u64,
                reason: "record checksum mismatch".into(),
            });
        }
        let record = decode(payload).map_err(|reason| Corruption {
            offset: pos as u64,
            reason: reason.into(),
        })?;
        records.push(record);
        pos += end;
    }
    Ok(Scan {
        records,
        valid_len: pos as u64,
        torn: None,
    })
}

fn decode(mut p: Bytes) -> Result<Record, &'static str> {
    const SHORT: &str = "record payload is truncated";
    if p.remaining() < 9 {
        return Err(SHORT);
    }
    let kind = p.get_u8();
    let revision = p.get_i64_le();
    match kind {
        KIND_COMPACT => Ok(Record::Compact { revision }),
        KIND_COMMIT => {
            if p.remaining() < 4 {
                return Err(SHORT);
            }
            let count = p.get_u32_le() as usize;
            let mut mutations = Vec::with_capacity(count.min(p.remaining()));
            for _ in 0..count {
                if p.remaining() < 1 {
                    return Err(SHORT);
                }
                let tag = p.get_u8();
                let key = get_bytes(&mut p).ok_or(SHORT)?;
                mutations.push(match tag {
                    TAG_PUT => Mutation::Put {
                        key,
                        value: get_bytes(&mut p).ok_or(SHORT)?,
                    },
                    TAG_DELETE => Mutation::Delete { key },
                    _ => return Err("unknown mutation tag"),
                });
            }
            if p.has_remaining() {
                return Err("record payload has trailing bytes");
            }
            Ok(Record::Commit {
                revision,
                mutations,
            })
        }
        _ => Err("unknown record kind"),
    }
}

fn get_bytes(p: &mut Bytes) -> Option<Bytes> {
    if p.remaining() < 4 {
        return None;
    }
    let len = p.get_u32_le() as usize;
    (p.remaining() >= len).then(|| p.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        for rev in 1..=3 {
            let m = vec![Mutation::Put {
                key: Bytes::from(format!("k{rev}")),
                value: Bytes::from(vec![rev as u8; 100]),
            }];
            encode_commit(&mut out, rev, &m);
        }
        encode_compact(&mut out, 2);
        out
    }

    #[test]
    fn round_trips() {
        let scan = scan(&Bytes::from(sample())).unwrap();
        assert_eq!(scan.records.len(), 4);
        assert!(scan.torn.is_none());
        assert_eq!(scan.records[3], Record::Compact { revision: 2 });
    }

    #[test]
    fn every_truncation_is_a_clean_torn_tail() {
        let data = sample();
        for cut in 0..data.len() {
            let s = scan(&Bytes::copy_from_slice(&data[..cut])).unwrap();
            assert!(s.valid_len as usize <= cut);
        }
    }

    #[test]
    fn flipped_byte_in_the_middle_is_corruption() {
        let mut data = sample();
        data[20] ^= 0x40;
        let err = scan(&Bytes::from(data)).unwrap_err();
        assert_eq!(err.offset, 0);
    }

    #[test]
    fn damaged_length_in_the_middle_is_corruption() {
        let mut data = sample();
        let second = HEADER_LEN + 1 + 8 + 4 + 1 + 4 + 2 + 4 + 100;
        data[second] ^= 0x01;
        let err = scan(&Bytes::from(data)).unwrap_err();
        assert_eq!(err.offset, second as u64);
    }

    #[test]
    fn zero_tail_is_torn() {
        let mut data = sample();
        let len = data.len();
        data.extend_from_slice(&[0; 4096]);
        let s = scan(&Bytes::from(data)).unwrap();
        assert_eq!(s.valid_len as usize, len);
        assert!(s.torn.is_some());
    }
}
