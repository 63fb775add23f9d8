//! Block codec: a run of one stream's entries, sorted by time, stored as one value.
//!
//! Version 2 (written now; all little-endian) keeps what every query needs apart from the
//! lines, each part compressed on its own:
//! ```text
//! u8 version (2) | u32 n | section index | section lines | u32 len | token filter
//! section = u8 codec (0 raw, 1 lz4, 2 zstd) | u32 raw_len | u32 stored_len | payload
//! index raw = ts[n]: i64 | line_end[n]: u32 | meta_end[n]: u32 | metas
//! lines raw = every line, back to back
//! ```
//! `line_end`/`meta_end` are cumulative end offsets into the lines and `metas` regions. So
//! counting entries and their bytes, or grouping them by structured metadata, reads the index
//! section only: the lines are decompressed when a query first looks at one (and a
//! substring search runs over all lines of a block at once). One entry's metadata is a
//! sequence of `varint len, name, varint len, value`. Push blocks use lz4 (cheap to write);
//! merged, sealed blocks use zstd (smaller, still ~1 GB/s to read) and carry a token filter
//! (`store::filter`, empty for push blocks) that rules a block out for a line filter
//! before its lines are decompressed.
//!
//! Version 1 (still read): `u8 1 | u8 codec | u32 n | u32 raw_len | payload`, payload =
//! `ts | line_end | meta_end | lines | metas` compressed as one.
//!
//! The block's time bounds live in its key (`keys::block`), so a scan skips a block without
//! reading it.

use std::cell::OnceCell;

use crate::model::{Entry, Nanos};

const V1: u8 = 1;
const V2: u8 = 2;
const CODEC_RAW: u8 = 0;
const CODEC_LZ4: u8 = 1;
const CODEC_ZSTD: u8 = 2;
const V1_HEADER: usize = 10;
const SECTION_HEADER: usize = 9;
/// Sections smaller than this are stored raw: compression would not pay for itself.
const MIN_COMPRESS: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt block: {0}")]
pub struct CorruptBlock(pub &'static str);

/// How a block's sections are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// For blocks written by pushes: fast to write.
    Lz4,
    /// For sealed (merged) blocks: smaller; the level is zstd's.
    Zstd(i32),
}

/// Encodes entries that are already sorted by timestamp.
pub fn encode<'a, I>(entries: I, codec: Codec) -> Vec<u8>
where
    I: IntoIterator<Item = &'a Entry>,
    I::IntoIter: Clone,
{
    let it = entries.into_iter();
    let n = it.clone().count();
    let lines_len: usize = it.clone().map(|e| e.line.len()).sum();
    let mut index = Vec::with_capacity(n * 16 + 16);
    for e in it.clone() {
        index.extend_from_slice(&e.ts.to_le_bytes());
    }
    let mut end = 0u32;
    for e in it.clone() {
        end += e.line.len() as u32;
        index.extend_from_slice(&end.to_le_bytes());
    }
    let mut metas = Vec::new();
    for e in it.clone() {
        for (k, v) in &e.metadata {
            put_varint(&mut metas, k.len() as u64);
            metas.extend_from_slice(k.as_bytes());
            put_varint(&mut metas, v.len() as u64);
            metas.extend_from_slice(v.as_bytes());
        }
        index.extend_from_slice(&(metas.len() as u32).to_le_bytes());
    }
    index.extend_from_slice(&metas);
    let mut lines = Vec::with_capacity(lines_len);
    for e in it {
        lines.extend_from_slice(e.line.as_bytes());
    }
    let mut out = Vec::with_capacity(5 + 2 * SECTION_HEADER + index.len() / 2 + lines.len() / 3);
    out.push(V2);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    put_section(&mut out, &index, codec);
    put_section(&mut out, &lines, codec);
    let filter = match codec {
        Codec::Lz4 => Vec::new(),
        Codec::Zstd(_) => super::filter::build(&lines, (0..n).map(|i| read_u32(&index, 8 * n + 4 * i) as usize)),
    };
    out.extend_from_slice(&(filter.len() as u32).to_le_bytes());
    out.extend_from_slice(&filter);
    out
}


fn put_section(out: &mut Vec<u8>, raw: &[u8], codec: Codec) {
    let compressed = if raw.len() < MIN_COMPRESS {
        None
    } else {
        match codec {
            Codec::Lz4 => Some((CODEC_LZ4, lz4_flex::block::compress(raw))),
            Codec::Zstd(level) => zstd_compress(raw, level).map(|c| (CODEC_ZSTD, c)),
        }
    };
    let (codec, payload) = match &compressed {
        Some((c, p)) if p.len() < raw.len() => (*c, p.as_slice()),
        _ => (CODEC_RAW, raw),
    };
    out.push(codec);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

/// A zstd frame with its content checksum, so a damaged sealed block is an error, not
/// wrong lines.
fn zstd_compress(raw: &[u8], level: i32) -> Option<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(level).ok()?;
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).ok()?;
    c.compress(raw).ok()
}

/// One section of a v2 value: (codec, raw length, payload, bytes used).
fn section(v: &[u8]) -> Result<(u8, usize, &[u8], usize), CorruptBlock> {
    if v.len() < SECTION_HEADER {
        return Err(CorruptBlock("section header"));
    }
    let raw_len = read_u32(v, 1) as usize;
    let stored = read_u32(v, 5) as usize;
    let payload = v.get(SECTION_HEADER..SECTION_HEADER + stored).ok_or(CorruptBlock("section length"))?;
    Ok((v[0], raw_len, payload, SECTION_HEADER + stored))
}

fn decompress(codec: u8, raw_len: usize, payload: &[u8]) -> Result<Vec<u8>, CorruptBlock> {
    let raw = match codec {
        CODEC_RAW => payload.to_vec(),
        CODEC_LZ4 => lz4_flex::block::decompress(payload, raw_len).map_err(|_| CorruptBlock("lz4"))?,
        CODEC_ZSTD => zstd::bulk::decompress(payload, raw_len).map_err(|_| CorruptBlock("zstd"))?,
        _ => return Err(CorruptBlock("unknown codec")),
    };
    if raw.len() != raw_len {
        return Err(CorruptBlock("length"));
    }
    Ok(raw)
}

/// Reads the entry count and raw size (index and lines) from a block's header without
/// decoding it.
pub fn peek(value: &[u8]) -> Result<(usize, usize), CorruptBlock> {
    match value.first() {
        Some(&V1) if value.len() >= V1_HEADER => {
            Ok((read_u32(value, 2) as usize, read_u32(value, 6) as usize))
        }
        Some(&V2) if value.len() >= 5 => {
            let n = read_u32(value, 1) as usize;
            let (_, index_raw, _, used) = section(&value[5..])?;
            let (_, lines_raw, _, _) = section(&value[5 + used..])?;
            Ok((n, index_raw + lines_raw))
        }
        _ => Err(CorruptBlock("bad header")),
    }
}

/// The token filter of a stored block, found from the section headers without decompressing
/// anything (empty: no filter, for version 1 and push blocks, or a value that does not parse).
pub fn filter_of(value: &[u8]) -> &[u8] {
    let parsed = || -> Option<&[u8]> {
        if value.first() != Some(&V2) || value.len() < 5 {
            return None;
        }
        let (_, _, _, used) = section(&value[5..]).ok()?;
        let (_, _, _, lused) = section(&value[5 + used..]).ok()?;
        let rest = &value[5 + used + lused..];
        let len = read_u32(rest.get(..4)?, 0) as usize;
        rest.get(4..4 + len)
    };
    parsed().unwrap_or(&[])
}

/// A decoded block; accessors borrow from it. The lines are decompressed on first use.
#[derive(Debug)]
pub struct Block {
    /// ts | line_end | meta_end | metas.
    index: Vec<u8>,
    n: usize,
    lines: OnceCell<Vec<u8>>,
    /// The lines section as stored, until decompressed: (codec, raw length, payload).
    packed: Option<(u8, usize, Vec<u8>)>,
    lines_len: usize,
    /// The token filter (empty: none).
    filter: Vec<u8>,
}

impl Block {
    /// Decodes a block, lines included.
    pub fn decode(value: &[u8]) -> Result<Block, CorruptBlock> {
        let b = Self::decode_lazy(value)?;
        b.load_lines()?;
        Ok(b)
    }

    /// Decodes the index section only; the lines are decompressed when first read. Line
    /// access panics on a lines section that does not decompress: use [`Self::decode`] or
    /// call [`Self::load_lines`] first where that must be an error.
    pub fn decode_lazy(value: &[u8]) -> Result<Block, CorruptBlock> {
        match value.first() {
            Some(&V1) => Self::decode_v1(value),
            Some(&V2) => {
                if value.len() < 5 {
                    return Err(CorruptBlock("bad header"));
                }
                let n = read_u32(value, 1) as usize;
                let (codec, raw_len, payload, used) = section(&value[5..])?;
                let index = decompress(codec, raw_len, payload)?;
                let (lcodec, lraw, lpayload, lused) = section(&value[5 + used..])?;
                let rest = &value[5 + used + lused..];
                let filter_len = rest.get(..4).map(|b| read_u32(b, 0) as usize).ok_or(CorruptBlock("filter length"))?;
                let filter = rest.get(4..4 + filter_len).ok_or(CorruptBlock("filter length"))?.to_vec();
                let b = Block {
                    index,
                    n,
                    lines: OnceCell::new(),
                    packed: Some((lcodec, lraw, lpayload.to_vec())),
                    lines_len: lraw,
                    filter,
                };
                b.check()?;
                Ok(b)
            }
            _ => Err(CorruptBlock("bad header")),
        }
    }

    fn decode_v1(value: &[u8]) -> Result<Block, CorruptBlock> {
        let (n, raw_len) = peek(value)?;
        let raw = decompress(value[1], raw_len, &value[V1_HEADER..])?;
        if raw_len < n * 16 {
            return Err(CorruptBlock("length"));
        }
        let lines_len = if n == 0 { 0 } else { read_u32(&raw, 8 * n + 4 * (n - 1)) as usize };
        let lines_at = n * 16;
        let metas_at = lines_at.checked_add(lines_len).filter(|&m| m <= raw.len()).ok_or(CorruptBlock("regions"))?;
        let mut index = Vec::with_capacity(raw.len() - lines_len);
        index.extend_from_slice(&raw[..lines_at]);
        index.extend_from_slice(&raw[metas_at..]);
        let b = Block {
            index,
            n,
            lines: OnceCell::from(raw[lines_at..metas_at].to_vec()),
            packed: None,
            lines_len,
            filter: Vec::new(),
        };
        b.check()?;
        Ok(b)
    }

    /// The offsets must fit the regions.
    fn check(&self) -> Result<(), CorruptBlock> {
        let n = self.n;
        if self.index.len() < n.checked_mul(16).ok_or(CorruptBlock("length"))? {
            return Err(CorruptBlock("length"));
        }
        let lines = if n == 0 { 0 } else { read_u32(&self.index, 8 * n + 4 * (n - 1)) as usize };
        let metas = if n == 0 { 0 } else { read_u32(&self.index, 12 * n + 4 * (n - 1)) as usize };
        if lines != self.lines_len || 16 * n + metas != self.index.len() {
            return Err(CorruptBlock("regions"));
        }
        Ok(())
    }

    /// Decompresses the lines now; an error when they do not decompress.
    pub fn load_lines(&self) -> Result<(), CorruptBlock> {
        if self.lines.get().is_none() {
            let (codec, raw_len, payload) = self.packed.as_ref().expect("v2 block keeps its lines until loaded");
            let raw = decompress(*codec, *raw_len, payload)?;
            let _ = self.lines.set(raw);
        }
        Ok(())
    }

    fn lines(&self) -> &[u8] {
        self.lines.get_or_init(|| {
            let (codec, raw_len, payload) = self.packed.as_ref().expect("v2 block keeps its lines until loaded");
            decompress(*codec, *raw_len, payload).expect("lines section checked by load_lines")
        })
    }

    /// Whether a line of this block may contain every token of `tokens`
    /// (`store::filter::needle_tokens`): false rules the block out without reading its lines.
    pub fn may_contain(&self, tokens: &[u64]) -> bool {
        tokens.is_empty() || super::filter::may_contain(&self.filter, tokens)
    }

    /// Whether the lines were decompressed.
    pub fn lines_loaded(&self) -> bool {
        self.lines.get().is_some()
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn ts(&self, i: usize) -> Nanos {
        i64::from_le_bytes(self.index[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    }

    fn line_start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { read_u32(&self.index, 8 * self.n + 4 * (i - 1)) as usize }
    }

    fn line_end(&self, i: usize) -> usize {
        read_u32(&self.index, 8 * self.n + 4 * i) as usize
    }

    /// The length of line `i`, without decompressing the lines.
    pub fn line_len(&self, i: usize) -> usize {
        self.line_end(i) - self.line_start(i)
    }

    pub fn line(&self, i: usize) -> &[u8] {
        &self.lines()[self.line_start(i)..self.line_end(i)]
    }

    /// Where line `i` starts in [`Self::lines_region`]; `i == len()` gives the region's end.
    pub fn line_offset(&self, i: usize) -> usize {
        self.line_start(i)
    }

    /// All lines back to back: a substring absent here is absent from every line.
    pub fn lines_region(&self) -> &[u8] {
        self.lines()
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
        let start = if i == 0 { 0 } else { read_u32(&self.index, base + 4 * (i - 1)) as usize };
        let end = read_u32(&self.index, base + 4 * i) as usize;
        &self.index[16 * self.n + start..16 * self.n + end]
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

    /// Bytes decompressed so far: the index section, and the lines once read.
    pub fn decoded_len(&self) -> usize {
        self.index.len() + if self.lines_loaded() { self.lines_len } else { 0 }
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
            for codec in [Codec::Lz4, Codec::Zstd(3)] {
                let v = encode(&entries, codec);
                assert_eq!(peek(&v).unwrap().0, n);
                let b = Block::decode(&v).unwrap();
                assert_eq!(b.len(), n);
                for (i, want) in entries.iter().enumerate() {
                    assert_eq!(&b.entry(i), want);
                }
                if n == 2000 {
                    let want = if codec == Codec::Lz4 { CODEC_LZ4 } else { CODEC_ZSTD };
                    assert_eq!(v[5], want, "large blocks are compressed");
                }
            }
        }
    }

    #[test]
    fn line_offsets_map_back_to_entries() {
        let entries = vec![e(1, "aaa", &[]), e(2, "", &[]), e(3, "needle", &[])];
        let b = Block::decode(&encode(&entries, Codec::Lz4)).unwrap();
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
        let mut v = encode(&[e(1, "x", &[])], Codec::Lz4);
        v.truncate(v.len() - 1);
        assert!(Block::decode(&v).is_err());
        // A lines section that does not decompress: the lazy decode reads the index, and
        // loading the lines is an error.
        let lines: Vec<Entry> = (0..100).map(|i| e(i, &"some words again ".repeat(10), &[])).collect();
        let mut v = encode(&lines, Codec::Zstd(3));
        let lines_at = 5 + SECTION_HEADER + read_u32(&v, 5 + 5) as usize;
        let at = lines_at + SECTION_HEADER + 20;
        v[at] ^= 0xff;
        let b = Block::decode_lazy(&v).unwrap();
        assert_eq!(b.ts(99), 99);
        assert!(b.load_lines().is_err());
        assert!(Block::decode(&v).is_err());
    }

    /// Counting and grouping read the index section; the lines stay compressed until read.
    #[test]
    fn lines_are_decompressed_on_first_use() {
        let entries: Vec<Entry> = (0..500).map(|i| e(i, &format!("line {i} {}", "x".repeat(40)), &[("k", "v")])).collect();
        let b = Block::decode_lazy(&encode(&entries, Codec::Zstd(3))).unwrap();
        assert!(!b.lines_loaded());
        assert_eq!((b.line_len(7), b.metadata(7).count()), (entries[7].line.len(), 1));
        assert!(!b.lines_loaded());
        assert_eq!(b.line(7), entries[7].line.as_bytes());
        assert!(b.lines_loaded());
    }

    /// The filter is found without decompressing; push (lz4) blocks carry none.
    #[test]
    fn sealed_blocks_carry_a_token_filter() {
        let entries: Vec<Entry> = (0..50).map(|i| e(i, &format!("order {i} payment failed"), &[])).collect();
        let sealed = encode(&entries, Codec::Zstd(3));
        let f = filter_of(&sealed);
        assert!(!f.is_empty());
        assert!(super::super::filter::may_contain(f, &super::super::filter::needle_tokens(b" payment ")));
        assert!(!super::super::filter::may_contain(f, &super::super::filter::needle_tokens(b" refund ")));
        assert!(filter_of(&encode(&entries, Codec::Lz4)).is_empty());
        assert!(filter_of(b"\x01garbage").is_empty());
    }

    /// Blocks written before format v2 are still read.
    #[test]
    fn version_1_blocks_are_read() {
        let entries = vec![e(5, "first", &[("trace_id", "t1")]), e(9, "second line", &[])];
        for compress in [false, true] {
            let mut raw = Vec::new();
            raw.extend_from_slice(&5i64.to_le_bytes());
            raw.extend_from_slice(&9i64.to_le_bytes());
            raw.extend_from_slice(&5u32.to_le_bytes());
            raw.extend_from_slice(&16u32.to_le_bytes());
            let mut meta = Vec::new();
            put_varint(&mut meta, 8);
            meta.extend_from_slice(b"trace_id");
            put_varint(&mut meta, 2);
            meta.extend_from_slice(b"t1");
            raw.extend_from_slice(&(meta.len() as u32).to_le_bytes());
            raw.extend_from_slice(&(meta.len() as u32).to_le_bytes());
            raw.extend_from_slice(b"firstsecond line");
            raw.extend_from_slice(&meta);
            let mut v = vec![V1, if compress { CODEC_LZ4 } else { CODEC_RAW }];
            v.extend_from_slice(&2u32.to_le_bytes());
            v.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            v.extend_from_slice(&if compress { lz4_flex::block::compress(&raw) } else { raw.clone() });
            assert_eq!(peek(&v).unwrap(), (2, raw.len()));
            let b = Block::decode(&v).unwrap();
            assert_eq!((b.entry(0), b.entry(1)), (entries[0].clone(), entries[1].clone()));
        }
    }
}
