//! Block codec: a run of one stream's entries, sorted by time, stored as one value.
//!
//! Layout (all little-endian), version 1:
//! ```text
//! u8 version | u8 codec (0 = raw, 1 = lz4) | u32 n | u32 raw_len | payload
//! raw payload = ts[n]: i64 | line_end[n]: u32 | meta_end[n]: u32 | lines | metas
//! ```
//! `line_end`/`meta_end` are cumulative end offsets into the `lines`/`metas` regions, so a
//! decoded block hands out `&[u8]` slices without copying, and a substring search can run
//! over the whole `lines` region at once. One entry's metadata is a sequence of
//! `varint len, name, varint len, value`. The block's time bounds live in its key
//! (`keys::block`), so a scan skips a block without reading or decompressing it.

use crate::model::{Entry, Nanos};

const VERSION: u8 = 1;
const CODEC_RAW: u8 = 0;
const CODEC_LZ4: u8 = 1;
const HEADER: usize = 10;
/// Payloads smaller than this are stored raw: compression would not pay for itself.
const MIN_COMPRESS: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt block: {0}")]
pub struct CorruptBlock(pub &'static str);

/// Encodes entries that are already sorted by timestamp.
pub fn encode<'a, I>(entries: I) -> Vec<u8>
where
    I: IntoIterator<Item = &'a Entry>,
    I::IntoIter: Clone,
{
    let it = entries.into_iter();
    let n = it.clone().count();
    let lines_len: usize = it.clone().map(|e| e.line.len()).sum();
    let mut raw = Vec::with_capacity(n * 16 + lines_len + n * 16);
    for e in it.clone() {
        raw.extend_from_slice(&e.ts.to_le_bytes());
    }
    let mut end = 0u32;
    for e in it.clone() {
        end += e.line.len() as u32;
        raw.extend_from_slice(&end.to_le_bytes());
    }
    let mut metas = Vec::new();
    for e in it.clone() {
        for (k, v) in &e.metadata {
            put_varint(&mut metas, k.len() as u64);
            metas.extend_from_slice(k.as_bytes());
            put_varint(&mut metas, v.len() as u64);
            metas.extend_from_slice(v.as_bytes());
        }
        raw.extend_from_slice(&(metas.len() as u32).to_le_bytes());
    }
    for e in it {
        raw.extend_from_slice(e.line.as_bytes());
    }
    raw.extend_from_slice(&metas);

    let mut out = Vec::with_capacity(HEADER + raw.len() / 2);
    let (codec, payload) = if raw.len() >= MIN_COMPRESS {
        let c = lz4_flex::block::compress(&raw);
        if c.len() < raw.len() {
            (CODEC_LZ4, c)
        } else {
            (CODEC_RAW, raw.clone())
        }
    } else {
        (CODEC_RAW, raw.clone())
    };
    out.push(VERSION);
    out.push(codec);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads the entry count and raw size from a block's header without decoding it.
pub fn peek(value: &[u8]) -> Result<(usize, usize), CorruptBlock> {
    if value.len() < HEADER || value[0] != VERSION {
        return Err(CorruptBlock("bad header"));
    }
    let n = u32::from_le_bytes(value[2..6].try_into().expect("4 bytes")) as usize;
    let raw_len = u32::from_le_bytes(value[6..10].try_into().expect("4 bytes")) as usize;
    Ok((n, raw_len))
}

/// A decompressed block; accessors borrow from it.
#[derive(Debug)]
pub struct Block {
    raw: Vec<u8>,
    n: usize,
    lines_at: usize,
    metas_at: usize,
}

impl Block {
    pub fn decode(value: &[u8]) -> Result<Block, CorruptBlock> {
        let (n, raw_len) = peek(value)?;
        let payload = &value[HEADER..];
        let raw = match value[1] {
            CODEC_RAW => payload.to_vec(),
            CODEC_LZ4 => lz4_flex::block::decompress(payload, raw_len)
                .map_err(|_| CorruptBlock("lz4"))?,
            _ => return Err(CorruptBlock("unknown codec")),
        };
        if raw.len() != raw_len || raw_len < n * 16 {
            return Err(CorruptBlock("length"));
        }
        let lines_at = n * 16;
        let lines_len = if n == 0 { 0 } else { read_u32(&raw, 8 * n + 4 * (n - 1)) as usize };
        let metas_at = lines_at + lines_len;
        let metas_len = if n == 0 { 0 } else { read_u32(&raw, 12 * n + 4 * (n - 1)) as usize };
        if metas_at + metas_len != raw.len() {
            return Err(CorruptBlock("regions"));
        }
        Ok(Block { raw, n, lines_at, metas_at })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn ts(&self, i: usize) -> Nanos {
        i64::from_le_bytes(self.raw[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    }

    fn line_start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { read_u32(&self.raw, 8 * self.n + 4 * (i - 1)) as usize }
    }

    fn line_end(&self, i: usize) -> usize {
        read_u32(&self.raw, 8 * self.n + 4 * i) as usize
    }

    pub fn line(&self, i: usize) -> &[u8] {
        &self.raw[self.lines_at + self.line_start(i)..self.lines_at + self.line_end(i)]
    }

    /// Where line `i` starts in [`Self::lines_region`]; `i == len()` gives the region's end.
    pub fn line_offset(&self, i: usize) -> usize {
        self.line_start(i)
    }

    /// All lines back to back: a substring absent here is absent from every line.
    pub fn lines_region(&self) -> &[u8] {
        &self.raw[self.lines_at..self.metas_at]
    }

    /// The entry whose line contains byte `offset` of [`Self::lines_region`].
    pub fn entry_at_line_offset(&self, offset: usize) -> usize {
        // First entry whose end offset is > offset.
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.line_end(mid) > offset { hi = mid } else { lo = mid + 1 }
        }
        lo
    }

    /// Structured metadata of entry `i`, as (name, value) byte slices.
    pub fn metadata(&self, i: usize) -> MetaIter<'_> {
        MetaIter::new(self.metadata_bytes(i))
    }

    /// Entry `i`'s structured metadata in its encoded form (equal metadata, equal bytes when
    /// pushed in the same order): a cheap key for caching what is derived from it.
    pub fn metadata_bytes(&self, i: usize) -> &[u8] {
        let base = 12 * self.n;
        let start = if i == 0 { 0 } else { read_u32(&self.raw, base + 4 * (i - 1)) as usize };
        let end = read_u32(&self.raw, base + 4 * i) as usize;
        &self.raw[self.metas_at + start..self.metas_at + end]
    }

    /// Index of the first entry with ts >= `ts` (entries are sorted).
    pub fn lower_bound(&self, ts: Nanos) -> usize {
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.ts(mid) < ts { lo = mid + 1 } else { hi = mid }
        }
        lo
    }

    /// Materialises entry `i` (used by block merging and result building).
    pub fn entry(&self, i: usize) -> Entry {
        Entry {
            ts: self.ts(i),
            line: String::from_utf8_lossy(self.line(i)).into_owned(),
            metadata: self
                .metadata(i)
                .map(|(k, v)| {
                    (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned())
                })
                .collect(),
        }
    }

    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }
}

/// The (name, value) pairs of one entry's encoded structured metadata.
pub struct MetaIter<'a> {
    buf: &'a [u8],
}

impl<'a> MetaIter<'a> {
    /// Iterates encoded metadata as returned by [`Block::metadata_bytes`].
    pub fn new(buf: &'a [u8]) -> MetaIter<'a> {
        MetaIter { buf }
    }
}

impl<'a> Iterator for MetaIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let k = take_bytes(&mut self.buf)?;
        let v = take_bytes(&mut self.buf)?;
        Some((k, v))
    }
}

fn take_bytes<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = get_varint(buf)? as usize;
    if buf.len() < len {
        *buf = &[];
        return None;
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Some(head)
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b < 0x80 {
            *buf = &buf[i + 1..];
            return Some(v);
        }
    }
    *buf = &[];
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ts: Nanos, line: &str, meta: &[(&str, &str)]) -> Entry {
        Entry {
            ts,
            line: line.into(),
            metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn round_trip_small_and_large() {
        for n in [0usize, 1, 3, 2000] {
            let entries: Vec<Entry> = (0..n)
                .map(|i| {
                    let meta: &[(&str, &str)] =
                        if i % 3 == 0 { &[("detected_level", "info"), ("trace_id", "ab")] } else { &[] };
                    e(i as i64 * 10, &format!("line number {i} with some text"), meta)
                })
                .collect();
            let v = encode(&entries);
            assert_eq!(peek(&v).unwrap().0, n);
            let b = Block::decode(&v).unwrap();
            assert_eq!(b.len(), n);
            for (i, want) in entries.iter().enumerate() {
                assert_eq!(&b.entry(i), want);
            }
            if n == 2000 {
                assert_eq!(v[1], CODEC_LZ4, "large blocks are compressed");
            }
        }
    }

    #[test]
    fn line_offsets_map_back_to_entries() {
        let entries = vec![e(1, "aaa", &[]), e(2, "", &[]), e(3, "needle", &[])];
        let b = Block::decode(&encode(&entries)).unwrap();
        let off = memchr::memmem::find(b.lines_region(), b"needle").unwrap();
        assert_eq!(b.entry_at_line_offset(off), 2);
        assert_eq!(b.entry_at_line_offset(0), 0);
        assert_eq!(b.lower_bound(2), 1);
        assert_eq!(b.lower_bound(4), 3);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(Block::decode(&[]).is_err());
        assert!(Block::decode(&[1, 1, 5, 0, 0, 0, 100, 0, 0, 0, 1, 2]).is_err());
        let mut v = encode(&[e(1, "x", &[])]);
        v.truncate(v.len() - 1);
        assert!(Block::decode(&v).is_err());
    }
}
