//! Snapshots: the whole retained history of the index up to one revision, written to a
//! temporary file, synced and renamed into place, so a snapshot file is always complete.
//!
//! It is written from the live index a chunk of keys at a time, each chunk under a brief read
//! lock, so writers never wait for a whole snapshot.
//!
//! Layout: magic `KEKSSNAP`, format u32, revision i64, first log segment needed after it
//! u64; then per key a 1 byte, its bytes and its versions; then a 0 byte, the compaction
//! mark i64 and the key count u64; CRC-32 of all preceding bytes last. Integers are
//! little-endian. The mark is read after the last chunk: compaction may have run meanwhile,
//! and claiming the later mark only refuses reads the snapshot might not answer exactly.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, Bytes};

use crate::engine::Engine;
use crate::error::OpenError;
use crate::mvcc::{Mvcc, Version};
use crate::types::Revision;

const MAGIC: &[u8; 8] = b"KEKSSNAP";
const FORMAT: u32 = 2;
/// Bytes written between syncs of a snapshot in progress.
const SYNC_EVERY: u64 = 8 << 20;
/// Keys copied per read lock.
const CHUNK_KEYS: usize = 1024;

/// A snapshot's file name: `snap-<revision, 20 digits>.snap`, so names sort by revision.
pub(crate) fn file_name(revision: Revision) -> String {
    format!("snap-{revision:020}.snap")
}

/// Parses a snapshot file name back to its revision.
pub(crate) fn parse_name(name: &str) -> Option<Revision> {
    name.strip_prefix("snap-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// What a snapshot holds besides the index.
pub(crate) struct Loaded {
    pub index: Mvcc,
    pub revision: Revision,
    pub first_segment: u64,
}

/// Writes the versions of the engine's index up to `revision` as a snapshot in `dir`.
pub(crate) fn write(
    dir: &Path,
    engine: &Engine,
    revision: Revision,
    first_segment: u64,
) -> io::Result<PathBuf> {
    let final_path = dir.join(file_name(revision));
    let tmp_path = dir.join(format!("{}.tmp", file_name(revision)));
    let file = File::create(&tmp_path)?;
    let mut out = Checksummed {
        inner: BufWriter::with_capacity(1 << 20, file),
        crc: crc32fast::Hasher::new(),
        written: 0,
    };
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT.to_le_bytes())?;
    out.write_all(&revision.to_le_bytes())?;
    out.write_all(&first_segment.to_le_bytes())?;
    let mut key_count: u64 = 0;
    let mut synced = 0;
    let mut after: Option<Bytes> = None;
    loop {
        let chunk =
            engine.with_index(|index| index.versions_chunk(after.as_ref(), revision, CHUNK_KEYS));
        let Some((last, _)) = chunk.last() else { break };
        after = Some(last.clone());
        for (key, versions) in &chunk {
            out.write_all(&[1])?;
            write_key(&mut out, key, versions)?;
            key_count += 1;
        }
        if out.written - synced >= SYNC_EVERY {
            // Bounded dirty data: one large final sync would stall the log's own syncs.
            out.inner.flush()?;
            out.inner.get_ref().sync_data()?;
            synced = out.written;
        }
    }
    let compacted = engine.with_index(|index| index.compacted());
    out.write_all(&[0])?;
    out.write_all(&compacted.to_le_bytes())?;
    out.write_all(&key_count.to_le_bytes())?;
    let crc = out.crc.clone().finalize();
    let mut inner = out.inner;
    inner.write_all(&crc.to_le_bytes())?;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp_path, &final_path)?;
    super::sync_dir(dir)?;
    Ok(final_path)
}

fn write_key(out: &mut impl Write, key: &[u8], versions: &[Version]) -> io::Result<()> {
    write_bytes(out, key)?;
    out.write_all(&(versions.len() as u32).to_le_bytes())?;
    for v in versions {
        out.write_all(&v.mod_rev.to_le_bytes())?;
        out.write_all(&v.sub.to_le_bytes())?;
        out.write_all(&v.create_rev.to_le_bytes())?;
        out.write_all(&v.version.to_le_bytes())?;
        match &v.value {
            Some(value) => {
                out.write_all(&[1])?;
                write_bytes(out, value)?;
            }
            None => out.write_all(&[0])?,
        }
    }
    Ok(())
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)
}

/// A writer that checksums everything it writes.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a snapshot file into a fresh index.
pub(crate) fn read(path: &Path) -> Result<Loaded, OpenError> {
    let data = Bytes::from(fs::read(path).map_err(|e| OpenError::io("reading snapshot", path, e))?);
    let corrupt = |reason: &str| OpenError::CorruptSnapshot {
        file: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if data.len() < 8 + 4 + 8 * 2 + 1 + 16 + 4 {
        return Err(corrupt("file is too short"));
    }
    let (body, trailer) = data.split_at(data.len() - 4);
    let crc = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
    if crc32fast::hash(body) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    // Values stay slices of the file's buffer: no second copy of the snapshot.
    let mut p = data.slice(..body.len());
    if &p.split_to(8)[..] != MAGIC {
        return Err(corrupt("not a keks snapshot (bad magic)"));
    }
    let format = p.get_u32_le();
    if format != FORMAT {
        return Err(corrupt(&format!("unsupported snapshot format {format}")));
    }
    let revision = p.get_i64_le();
    let first_segment = p.get_u64_le();
    let short = || corrupt("truncated key data");
    let mut index = Mvcc::default();
    let mut key_count: u64 = 0;
    loop {
        if !p.has_remaining() {
            return Err(short());
        }
        if p.get_u8() == 0 {
            break;
        }
        key_count += 1;
        let key = get_bytes(&mut p).ok_or_else(short)?;
        if p.remaining() < 4 {
            return Err(short());
        }
        let n = p.get_u32_le() as usize;
        let mut versions = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            if p.remaining() < 8 + 4 + 8 + 8 + 1 {
                return Err(short());
            }
            let mod_rev = p.get_i64_le();
            let sub = p.get_u32_le();
            let create_rev = p.get_i64_le();
            let version = p.get_i64_le();
            let value = match p.get_u8() {
                0 => None,
                _ => Some(get_bytes(&mut p).ok_or_else(short)?),
            };
            versions.push(Version {
                mod_rev,
                sub,
                create_rev,
                version,
                value,
            });
        }
        index.load_versions(key, versions, revision);
    }
    if p.remaining() != 16 {
        return Err(corrupt("bad trailer"));
    }
    let compacted = p.get_i64_le();
    if p.get_u64_le() != key_count {
        return Err(corrupt("key count does not match"));
    }
    index.set_current(revision);
    index.set_compacted(compacted);
    Ok(Loaded {
        index,
        revision,
        first_segment,
    })
}

fn get_bytes(p: &mut Bytes) -> Option<Bytes> {
    if p.remaining() < 4 {
        return None;
    }
    let len = p.get_u32_le() as usize;
    (p.remaining() >= len).then(|| p.split_to(len))
}
