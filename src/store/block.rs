//! Block codec: a run of one stream's entries, sorted by time, stored as one value.
//!
//! Version 3 (written now; all little-endian) keeps what every query needs apart from the
//! lines, and cuts the lines into pages that each carry their own filter:
//! ```text
//! u8 version (3) | u32 n | u32 meta_bytes | section index | u32 pages | page*
//! page    = u32 first_entry | u32 filter_len | filter | section lines
//! section = u8 codec (0 raw, 1 lz4, 2 zstd) | u32 raw_len | u32 stored_len | payload
//! index raw = ts: zigzag varint of the first, then of each difference to the one before
//!           | line_len[n]: varint | meta_len[n]: varint | metas
//! lines raw = the page's lines, back to back
//! ```
//! Counting entries and their bytes, or grouping them by structured metadata, reads the
//! index section only. Sealed (merged) blocks use zstd (frames written with their content
//! checksum, not verified when read back from RocksDB, which checks its own) and cut their
//! lines into pages of about [`PAGE_BYTES`], each with a bloom filter of its words and grams
//! (`store::filter`): a line filter rules pages out before decompressing them, and reads
//! only the pages that may match. Push blocks use lz4 (cheap to write), one page, no filter.
//! One entry's metadata is a sequence of `varint len, name, varint len, value`.
//!
//! Still read: version 2 (`u8 2 | u32 n | section index | section lines | u32 len | filter`,
//! index raw = `ts[n]: i64 | line_end[n]: u32 | meta_end[n]: u32 | metas`, a whole-word
//! filter for the block) and version 1 (`u8 1 | u8 codec | u32 n | u32 raw_len | payload`,
//! payload = `ts | line_end | meta_end | lines | metas` compressed as one).
//!
//! The block's time bounds live in its key (`keys::block`), so a scan skips a block without
//! reading it.

use std::cell::{OnceCell, RefCell};
use std::ops::Range;

use super::columns::{self, Column, FieldScanner};
use super::filter::{self, Probe};
use crate::model::{Entry, Nanos};

const V1: u8 = 1;
const V2: u8 = 2;
pub(super) const V3: u8 = 3;
/// Version 4: the layout of version 3, and pages after the first may be
/// [`CODEC_ZSTD_PAGE0`] (older readers refuse the version instead of the codec).
pub(super) const V4: u8 = 4;
/// Version 5: version 4 followed by the block's field columns (`store::columns`):
/// `u32 columns | (u8 kind | u8 name_len | name | section cells)*` after the last page.
pub(super) const V5: u8 = 5;
/// Version 6 (sealed blocks now): version 5 with the structured metadata apart from the
/// index, in a section of its own right after it, decompressed only when an entry's
/// metadata is read; the column directory is always there (it may count 0 columns).
pub(super) const V6: u8 = 6;
const CODEC_RAW: u8 = 0;
const CODEC_LZ4: u8 = 1;
const CODEC_ZSTD: u8 = 2;
/// A zstd frame compressed with the raw lines of the block's page 0 as its dictionary
/// (raw content, no dictionary id): small pages compress nearly as well as one large
/// frame, and a reader of page `p` decompresses page 0 and page `p` only.
const CODEC_ZSTD_PAGE0: u8 = 3;
/// What a zstd dictionary starts with; raw content that does would be read as a
/// formatted dictionary, so a block whose page 0 starts so does not use page 0.
const ZSTD_DICT_MAGIC: [u8; 4] = 0xEC30_A437u32.to_le_bytes();
const V1_HEADER: usize = 10;
const V3_HEADER: usize = 9;
const SECTION_HEADER: usize = 9;
/// Sections smaller than this are stored raw: compression would not pay for itself.
const MIN_COMPRESS: usize = 512;
/// Raw line bytes per page of a sealed block: small enough that a needle found in few lines
/// decompresses few pages, large enough that zstd still compresses well (see
/// docs/storage-format.md for the measurements).
pub const PAGE_BYTES: usize = 16 << 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt block: {0}")]
pub struct CorruptBlock(pub &'static str);

/// How a block's sections are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// For blocks written by pushes: fast to write; one page, no filter.
    Lz4,
    /// For sealed (merged) blocks: smaller, paged, filtered; the level is zstd's.
    Zstd(i32),
}

/// Encodes entries that are already sorted by timestamp.
pub fn encode<'a, I>(entries: I, codec: Codec) -> Vec<u8>
where
    I: IntoIterator<Item = &'a Entry>,
{
    let mut enc = Encoder::new(codec);
    for e in entries {
        enc.push_entry(e);
    }
    enc.finish()
}

/// Builds one block entry by entry, without holding the entries: sealed pages are
/// compressed as they fill, so encoding costs a page of raw lines plus the index and the
/// compressed output. The block merger streams merged entries through it.
pub struct Encoder {
    codec: Codec,
    page_bytes: usize,
    n: usize,
    prev_ts: i64,
    first_ts: Nanos,
    ts_deltas: Vec<u8>,
    line_lens: Vec<u8>,
    meta_lens: Vec<u8>,
    metas: Vec<u8>,
    /// Finished pages: first entry, distinct filter items (sealed blocks), `section lines`.
    /// Their filters are built at the end, when the items common to every page are known.
    pages: Vec<(u32, Vec<u32>, Vec<u8>)>,
    builder: filter::Builder,
    lines: Vec<u8>,
    ends: Vec<usize>,
    page_first: usize,
    raw: usize,
    /// Sealed blocks: page 0's lines as a zstd dictionary for the pages after it (`None`
    /// before page 0 is cut, or when page 0 cannot serve as one).
    page0: Option<zstd::zstd_safe::CDict<'static>>,
    /// Sealed blocks built with a field scanner: the lines again, for the columns.
    columns: Option<columns::Builder<'static>>,
}

impl Encoder {
    /// An encoder for a sealed block that also stores the field columns `fields` finds
    /// (`store::columns`).
    pub fn with_fields(codec: Codec, fields: &'static dyn FieldScanner) -> Encoder {
        let mut e = Encoder::new(codec);
        if matches!(codec, Codec::Zstd(_)) {
            e.columns = Some(columns::Builder::new(fields));
        }
        e
    }

    pub fn new(codec: Codec) -> Encoder {
        let page_bytes = match codec {
            Codec::Lz4 => usize::MAX,
            Codec::Zstd(_) => PAGE_BYTES,
        };
        Encoder {
            codec,
            page_bytes,
            n: 0,
            prev_ts: 0,
            first_ts: 0,
            ts_deltas: Vec::new(),
            line_lens: Vec::new(),
            meta_lens: Vec::new(),
            metas: Vec::new(),
            pages: Vec::new(),
            builder: filter::Builder::default(),
            lines: Vec::new(),
            ends: Vec::new(),
            page_first: 0,
            raw: 0,
            page0: None,
            columns: None,
        }
    }

    /// Appends an entry whose structured metadata is already in the block's encoded form
    /// (as [`Block::metadata_bytes`] returns it). Entries must come in time order.
    pub fn push(&mut self, ts: Nanos, line: &[u8], meta: &[u8]) {
        self.push_with(ts, line, |metas| metas.extend_from_slice(meta));
    }

    /// Appends an owned entry. Entries must come in time order.
    pub fn push_entry(&mut self, e: &Entry) {
        self.push_with(e.ts, e.line.as_bytes(), |metas| {
            for (k, v) in &e.metadata {
                put_varint(metas, k.len() as u64);
                metas.extend_from_slice(k.as_bytes());
                put_varint(metas, v.len() as u64);
                metas.extend_from_slice(v.as_bytes());
            }
        });
    }

    fn push_with(&mut self, ts: Nanos, line: &[u8], meta: impl FnOnce(&mut Vec<u8>)) {
        if self.n == 0 {
            self.first_ts = ts;
        }
        put_varint(&mut self.ts_deltas, zigzag(ts.wrapping_sub(self.prev_ts)));
        self.prev_ts = ts;
        put_varint(&mut self.line_lens, line.len() as u64);
        let before = self.metas.len();
        meta(&mut self.metas);
        put_varint(&mut self.meta_lens, (self.metas.len() - before) as u64);
        self.lines.extend_from_slice(line);
        self.ends.push(self.lines.len());
        if let Some(c) = &mut self.columns {
            c.push(line);
        }
        self.n += 1;
        self.raw += line.len() + 16;
        if self.lines.len() >= self.page_bytes {
            self.cut_page();
        }
    }

    fn cut_page(&mut self) {
        let items = match self.codec {
            Codec::Lz4 => Vec::new(),
            Codec::Zstd(_) => self.builder.items(&self.lines, self.ends.iter().copied()),
        };
        let mut section = Vec::new();
        match (&self.page0, self.codec) {
            (Some(dict), Codec::Zstd(_)) => put_section_page0(&mut section, &self.lines, dict),
            _ => put_section(&mut section, &self.lines, self.codec),
        }
        self.pages.push((self.page_first as u32, items, section));
        if let (1, Codec::Zstd(level)) = (self.pages.len(), self.codec) {
            if !self.lines.starts_with(&ZSTD_DICT_MAGIC) {
                self.page0 = Some(zstd::zstd_safe::CDict::create(&self.lines, level));
            }
        }
        self.page_first = self.n;
        self.lines.clear();
        self.ends.clear();
    }

    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Line bytes pushed so far plus 16 per entry: the size the merger cuts blocks at.
    pub fn raw_bytes(&self) -> usize {
        self.raw
    }

    /// Time of the first and of the last entry pushed (the block key's bounds).
    pub fn time_bounds(&self) -> (Nanos, Nanos) {
        (self.first_ts, self.prev_ts)
    }

    /// The encoded block.
    pub fn finish(mut self) -> Vec<u8> {
        if self.page_first < self.n {
            self.cut_page();
        }
        let mut index = self.ts_deltas;
        index.extend_from_slice(&self.line_lens);
        index.extend_from_slice(&self.meta_lens);
        let v4 = self.page0.is_some();
        // Sealed blocks (version 6) keep the metadata in a section of its own.
        if !v4 {
            index.extend_from_slice(&self.metas);
        }
        // Columns only in the version-4 layout (a block whose page 0 is no dictionary has
        // none).
        let columns = match self.columns.take() {
            Some(c) if v4 => c.finish(),
            _ => Vec::new(),
        };
        let items: Vec<Vec<u32>> = self.pages.iter_mut().map(|p| std::mem::take(&mut p.1)).collect();
        let filters = match self.codec {
            Codec::Lz4 => vec![Vec::new(); items.len()],
            // Common items go to page 0's filter in v4 only: v3 readers probe pages alone.
            Codec::Zstd(_) if v4 => filter::block_filters(&items),
            Codec::Zstd(_) => items.iter().map(|i| filter::filter_of(i)).collect(),
        };
        let body: usize = self.pages.iter().zip(&filters).map(|(p, f)| 8 + f.len() + p.2.len()).sum();
        let mut out = Vec::with_capacity(16 + index.len() / 2 + body);
        out.push(if v4 { V6 } else { V3 });
        out.extend_from_slice(&(self.n as u32).to_le_bytes());
        out.extend_from_slice(&(self.metas.len() as u32).to_le_bytes());
        put_section(&mut out, &index, self.codec);
        if v4 {
            put_section(&mut out, &self.metas, self.codec);
        }
        out.extend_from_slice(&(self.pages.len() as u32).to_le_bytes());
        for ((first, _, section), f) in self.pages.iter().zip(&filters) {
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f);
            out.extend_from_slice(section);
        }
        if v4 {
            out.extend_from_slice(&(columns.len() as u32).to_le_bytes());
            for (kind, name, cells) in &columns {
                out.push(*kind);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
                put_section(&mut out, cells, self.codec);
            }
        }
        out
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
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
    write_section(out, raw, compressed);
}

/// [`put_section`] for a page after page 0 of a sealed block: compressed with page 0's
/// lines as the dictionary.
fn put_section_page0(out: &mut Vec<u8>, raw: &[u8], dict: &zstd::zstd_safe::CDict<'static>) {
    let compressed = if raw.len() < MIN_COMPRESS { None } else { zstd_compress_page0(raw, dict) };
    write_section(out, raw, compressed.map(|c| (CODEC_ZSTD_PAGE0, c)));
}

/// Writes `raw` as a section: `compressed` (codec, payload) when it is smaller, else raw.
fn write_section(out: &mut Vec<u8>, raw: &[u8], compressed: Option<(u8, Vec<u8>)>) {
    let (codec, payload) = match &compressed {
        Some((c, p)) if p.len() < raw.len() => (*c, p.as_slice()),
        _ => (CODEC_RAW, raw),
    };
    out.push(codec);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

thread_local! {
    /// One zstd compression context per thread and level (creating one costs more than
    /// compressing a page).
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    /// The contexts for [`CODEC_ZSTD_PAGE0`] frames (they never keep a dictionary
    /// between calls).
    static PAGE0_CCTX: RefCell<Option<zstd::zstd_safe::CCtx<'static>>> = const { RefCell::new(None) };
    static PAGE0_DCTX: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> = const { RefCell::new(None) };
}

/// A zstd frame (with its content checksum) of `raw` against the dictionary `dict`.
fn zstd_compress_page0(raw: &[u8], dict: &zstd::zstd_safe::CDict<'static>) -> Option<Vec<u8>> {
    use zstd::zstd_safe::{CCtx, CParameter};
    PAGE0_CCTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let mut z = CCtx::try_create()?;
            z.set_parameter(CParameter::ChecksumFlag(true)).ok()?;
            *c = Some(z);
        }
        let z = c.as_mut().expect("set above");
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
        // The context refers to `dict` only for this one frame: the reference is dropped
        // before `dict` can be.
        z.ref_cdict(dict).ok()?;
        let done = z.compress2(&mut out, raw);
        z.disable_dictionary().ok()?;
        done.ok().map(|_| out)
    })
}

/// Decompresses a [`CODEC_ZSTD_PAGE0`] frame (checksums not verified, as in
/// [`zstd_decompress`]).
fn zstd_decompress_page0(payload: &[u8], raw_len: usize, dict: &[u8]) -> Option<Vec<u8>> {
    use zstd::zstd_safe::{DCtx, DParameter};
    if dict.starts_with(&ZSTD_DICT_MAGIC) {
        return None;
    }
    PAGE0_DCTX.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            let mut z = DCtx::try_create()?;
            z.set_parameter(DParameter::ForceIgnoreChecksum(true)).ok()?;
            *d = Some(z);
        }
        let mut out = Vec::with_capacity(raw_len);
        d.as_mut().expect("set above").decompress_using_dict(&mut out, payload, dict).ok()?;
        Some(out)
    })
}

/// A zstd frame with its content checksum, so a damaged sealed block is an error, not
/// wrong lines.
fn zstd_compress(raw: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|(l, _)| *l != level) {
            let mut z = zstd::bulk::Compressor::new(level).ok()?;
            z.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).ok()?;
            *c = Some((level, z));
        }
        c.as_mut().expect("set above").1.compress(raw).ok()
    })
}

/// Reads zstd frames without verifying their content checksum: every value comes out of
/// RocksDB, which has already verified its own block checksum over the same bytes (the
/// frame checksum is written still, so that a sealed block is self-checking wherever it is
/// kept). Verifying both was ~8 % of the CPU of a needle query.
fn zstd_decompress(payload: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            let mut z = zstd::bulk::Decompressor::new().ok()?;
            z.set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true)).ok()?;
            *d = Some(z);
        }
        d.as_mut().expect("set above").decompress(payload, raw_len).ok()
    })
}

/// One section of a value: (codec, raw length, payload, bytes used).
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
    decompress_page(codec, raw_len, payload, || Err(CorruptBlock("unknown codec")))
}

/// [`decompress`] for a page, whose codec may be [`CODEC_ZSTD_PAGE0`]: `page0` gives the
/// lines of the block's page 0 then (and is not called otherwise).
fn decompress_page<'d>(
    codec: u8,
    raw_len: usize,
    payload: &[u8],
    page0: impl FnOnce() -> Result<&'d [u8], CorruptBlock>,
) -> Result<Vec<u8>, CorruptBlock> {
    let raw = match codec {
        CODEC_RAW => payload.to_vec(),
        CODEC_LZ4 => lz4_flex::block::decompress(payload, raw_len).map_err(|_| CorruptBlock("lz4"))?,
        CODEC_ZSTD => zstd_decompress(payload, raw_len).ok_or(CorruptBlock("zstd"))?,
        CODEC_ZSTD_PAGE0 => zstd_decompress_page0(payload, raw_len, page0()?).ok_or(CorruptBlock("zstd"))?,
        _ => return Err(CorruptBlock("unknown codec")),
    };
    if raw.len() != raw_len {
        return Err(CorruptBlock("length"));
    }
    Ok(raw)
}

/// The column directory of a version-5 value, `rest` starting after its last page:
/// (kind, name, codec, raw length, payload) per column.
#[allow(clippy::type_complexity)]
fn column_directory(mut rest: &[u8]) -> Result<Vec<(u8, String, u8, usize, &[u8])>, CorruptBlock> {
    let bad = || CorruptBlock("columns");
    let count = rest.get(..4).map(|b| read_u32(b, 0) as usize).ok_or_else(bad)?;
    rest = &rest[4..];
    let mut out = Vec::with_capacity(count.min(columns::MAX_COLUMNS));
    for _ in 0..count {
        let (&kind, r) = rest.split_first().ok_or_else(bad)?;
        let (&len, r) = r.split_first().ok_or_else(bad)?;
        let name = r.get(..len as usize).ok_or_else(bad)?;
        let name = std::str::from_utf8(name).map_err(|_| bad())?.to_string();
        let (codec, raw_len, payload, used) = section(&r[len as usize..])?;
        out.push((kind, name, codec, raw_len, payload));
        rest = &r[len as usize + used..];
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// A v3 page header as stored: (first entry, filter, codec, raw length, payload); `at` moves
/// past it.
pub(super) fn v3_page<'v>(v: &'v [u8], at: &mut usize) -> Result<(usize, &'v [u8], u8, usize, &'v [u8]), CorruptBlock> {
    let head = v.get(*at..*at + 8).ok_or(CorruptBlock("page header"))?;
    let first = read_u32(head, 0) as usize;
    let flen = read_u32(head, 4) as usize;
    let filter = v.get(*at + 8..*at + 8 + flen).ok_or(CorruptBlock("page filter"))?;
    let (codec, raw_len, payload, used) = section(v.get(*at + 8 + flen..).ok_or(CorruptBlock("page"))?)?;
    *at += 8 + flen + used;
    Ok((first, filter, codec, raw_len, payload))
}

/// Where a v3 value's pages start, and how many there are.
pub(super) fn v3_pages_at(value: &[u8]) -> Result<(usize, usize), CorruptBlock> {
    let (_, _, _, used) = section(value.get(V3_HEADER..).ok_or(CorruptBlock("bad header"))?)?;
    let mut at = V3_HEADER + used;
    if value[0] == V6 {
        at += section(value.get(at..).ok_or(CorruptBlock("metadata section"))?)?.3;
    }
    let n = value.get(at..at + 4).map(|b| read_u32(b, 0) as usize).ok_or(CorruptBlock("page count"))?;
    Ok((at + 4, n))
}

/// Reads the entry count and raw size (what the entries take decoded: lines, structured
/// metadata and 16 bytes per entry) from a block's headers without decompressing it.
pub fn peek(value: &[u8]) -> Result<(usize, usize), CorruptBlock> {
    match value.first() {
        Some(&V1) if value.len() >= V1_HEADER => Ok((read_u32(value, 2) as usize, read_u32(value, 6) as usize)),
        Some(&V2) if value.len() >= 5 => {
            let n = read_u32(value, 1) as usize;
            let (_, index_raw, _, used) = section(&value[5..])?;
            let (_, lines_raw, _, _) = section(&value[5 + used..])?;
            Ok((n, index_raw + lines_raw))
        }
        Some(&(V3 | V4 | V5 | V6)) if value.len() >= V3_HEADER => {
            let n = read_u32(value, 1) as usize;
            let metas = read_u32(value, 5) as usize;
            let (mut at, pages) = v3_pages_at(value)?;
            let mut lines = 0;
            for _ in 0..pages {
                lines += v3_page(value, &mut at)?.3;
            }
            Ok((n, lines + metas + 16 * n))
        }
        _ => Err(CorruptBlock("bad header")),
    }
}

/// One page of a decoded block: a run of entries whose lines are compressed together.
#[derive(Debug)]
struct Page {
    /// First entry of the page; the page ends where the next begins.
    first: usize,
    /// The page's lines in the block's line offsets.
    start: usize,
    end: usize,
    codec: u8,
    /// Range in [`Block::stored`].
    payload: Range<usize>,
    /// False when the probe the block was decoded with rules the page out: then its
    /// payload was not even copied (but for page 0 when a possible page needs it as its
    /// dictionary).
    possible: bool,
    copied: bool,
    lines: OnceCell<Vec<u8>>,
}

/// A decoded block; accessors borrow from it. The lines are decompressed page by page on
/// first use.
#[derive(Debug)]
pub struct Block {
    /// ts[n]: i64 | line_end[n]: u32 | meta_end[n]: u32 | metas.
    index: Vec<u8>,
    n: usize,
    lines_len: usize,
    pages: Vec<Page>,
    /// The payloads of the possible pages, as stored.
    stored: Vec<u8>,
    /// Version 5: the field columns, their cells as stored.
    columns: Vec<ColumnRef>,
    /// Version 6: the structured metadata section as stored (codec, raw length, range in
    /// `stored`), decompressed into `metas` on first use. Older versions keep the metadata
    /// at the end of `index`.
    metas_at: Option<(u8, usize, Range<usize>)>,
    metas: OnceCell<Vec<u8>>,
}

/// A field column of a decoded block (its section's payload is in [`Block::stored`]).
#[derive(Debug)]
struct ColumnRef {
    kind: u8,
    name: String,
    codec: u8,
    raw_len: usize,
    payload: Range<usize>,
}

impl Block {
    /// Decodes a block, lines included.
    pub fn decode(value: &[u8]) -> Result<Block, CorruptBlock> {
        let b = Self::decode_lazy(value)?;
        b.load_lines()?;
        Ok(b)
    }

    /// Decodes the index section only; the lines are decompressed when first read. Line
    /// access panics on a page that does not decompress: use [`Self::decode`], call
    /// [`Self::load_lines`] or read through [`Self::page_lines`] where that must be an error.
    pub fn decode_lazy(value: &[u8]) -> Result<Block, CorruptBlock> {
        Ok(Self::decode_probed(value, &Probe::default())?.expect("an empty probe rules nothing out"))
    }

    /// Like [`Self::decode_lazy`], for a reader that only wants lines `probe` allows: the
    /// pages whose filters rule it out are not copied, and reading their lines is an
    /// error ([`Self::page_possible`] says which pages those are). `None` when the filters
    /// rule out every page: then only page headers were read, nothing decompressed.
    pub fn decode_probed(value: &[u8], probe: &Probe) -> Result<Option<Block>, CorruptBlock> {
        Self::decode_masked(value, probe, None)
    }

    /// [`Self::decode_probed`] for a body whose filters live in its head (`store::head`):
    /// `possible[p]` says whether page `p` may match (one flag per page of the body).
    pub fn decode_masked(
        value: &[u8],
        probe: &Probe,
        possible: Option<&[bool]>,
    ) -> Result<Option<Block>, CorruptBlock> {
        Self::decode_with(value, probe, possible, false)
    }

    /// [`Self::decode_masked`] that decompresses every possible page now, straight from
    /// `value`, instead of copying their compressed bytes for later: for a reader that reads
    /// them all (a line filter, or lines returned), it saves a copy of every payload.
    pub fn decode_masked_loaded(
        value: &[u8],
        probe: &Probe,
        possible: Option<&[bool]>,
    ) -> Result<Option<Block>, CorruptBlock> {
        let b = Self::decode_with(value, probe, possible, true)?;
        if let Some(b) = &b {
            b.load_lines()?; // formats 1 and 2: one page, copied
        }
        Ok(b)
    }

    fn decode_with(
        value: &[u8],
        probe: &Probe,
        possible: Option<&[bool]>,
        eager: bool,
    ) -> Result<Option<Block>, CorruptBlock> {
        match value.first() {
            Some(&V1) => Self::decode_v1(value).map(Some),
            Some(&V2) => Self::decode_v2(value, probe),
            Some(&(V3 | V4 | V5 | V6)) => Self::decode_v3(value, probe, possible, eager),
            _ => Err(CorruptBlock("bad header")),
        }
    }

    fn decode_v3(
        value: &[u8],
        probe: &Probe,
        mask: Option<&[bool]>,
        eager: bool,
    ) -> Result<Option<Block>, CorruptBlock> {
        if value.len() < V3_HEADER {
            return Err(CorruptBlock("bad header"));
        }
        let n = read_u32(value, 1) as usize;
        // The page headers first: a block whose filters rule every page out is not decoded.
        let (mut at, npages) = v3_pages_at(value)?;
        if mask.is_some_and(|m| m.len() != npages) {
            return Err(CorruptBlock("head and body disagree on pages"));
        }
        let mut heads = Vec::with_capacity(npages);
        let mut pages_probe = probe.pages();
        for p in 0..npages {
            let (first, filter, codec, raw_len, payload) = v3_page(value, &mut at)?;
            let possible = match mask {
                Some(m) => m[p],
                None => pages_probe.may_match(filter),
            };
            heads.push((first, possible, codec, raw_len, payload));
        }
        if !probe.is_empty() && heads.iter().all(|h| !h.1) {
            return Ok(None);
        }
        let column_dir = if value[0] >= V5 { column_directory(&value[at..])? } else { Vec::new() };
        let with_page0 = |h: &(usize, bool, u8, usize, &[u8])| h.2 == CODEC_ZSTD_PAGE0;
        if (value[0] == V3 && heads.iter().any(with_page0)) || heads.first().is_some_and(with_page0) {
            return Err(CorruptBlock("unknown codec"));
        }
        let need_page0 = heads.iter().any(|h| h.1 && with_page0(h));
        let (codec, raw_len, payload, used) = section(&value[V3_HEADER..])?;
        let v6 = value[0] == V6;
        let index = expand_index(n, &decompress(codec, raw_len, payload)?, !v6)?;
        let meta_bytes = read_u32(value, 5) as usize;
        let metas_at = if v6 {
            let (codec, raw_len, payload, _) = section(&value[V3_HEADER + used..])?;
            let last_end = if n == 0 { 0 } else { read_u32(&index, 12 * n + 4 * (n - 1)) as usize };
            if raw_len != meta_bytes || last_end != meta_bytes {
                return Err(CorruptBlock("index metas"));
            }
            Some((codec, raw_len, payload))
        } else {
            if index.len() - 16 * n != meta_bytes {
                return Err(CorruptBlock("index metas"));
            }
            None
        };
        let mut b = Block {
            metas: OnceCell::new(),
            metas_at: None,
            index,
            n,
            lines_len: 0,
            pages: Vec::with_capacity(npages),
            stored: Vec::new(),
            columns: Vec::new(),
        };
        b.lines_len = if n == 0 { 0 } else { b.line_end(n - 1) };
        for (p, (first, possible, codec, raw_len, payload)) in heads.into_iter().enumerate() {
            if (p == 0 && first != 0) || first >= n.max(1) || b.pages.last().is_some_and(|l| l.first >= first) {
                return Err(CorruptBlock("page entries"));
            }
            let start = b.line_start(first);
            let from = b.stored.len();
            let copied = possible || (p == 0 && need_page0);
            let lines = OnceCell::new();
            if copied && eager {
                let page0 =
                    || b.pages.first().and_then(|p0| p0.lines.get()).map(Vec::as_slice).ok_or(CorruptBlock("page 0"));
                let _ = lines.set(decompress_page(codec, raw_len, payload, page0)?);
            } else if copied {
                b.stored.extend_from_slice(payload);
            }
            let page = Page {
                first,
                start,
                end: start + raw_len,
                codec,
                payload: from..b.stored.len(),
                possible,
                copied,
                lines,
            };
            b.pages.push(page);
        }
        for p in 0..b.pages.len() {
            let end = b.pages.get(p + 1).map_or(b.lines_len, |next| next.start);
            if b.pages[p].end != end {
                return Err(CorruptBlock("page length"));
            }
        }
        if n > 0 && b.pages.is_empty() {
            return Err(CorruptBlock("no pages"));
        }
        if let Some((codec, raw_len, payload)) = metas_at {
            let from = b.stored.len();
            b.stored.extend_from_slice(payload);
            b.metas_at = Some((codec, raw_len, from..b.stored.len()));
        }
        for (kind, name, codec, raw_len, payload) in column_dir {
            let from = b.stored.len();
            b.stored.extend_from_slice(payload);
            b.columns.push(ColumnRef { kind, name, codec, raw_len, payload: from..b.stored.len() });
        }
        Ok(Some(b))
    }

    fn decode_v2(value: &[u8], probe: &Probe) -> Result<Option<Block>, CorruptBlock> {
        if value.len() < 5 {
            return Err(CorruptBlock("bad header"));
        }
        let n = read_u32(value, 1) as usize;
        let (codec, raw_len, payload, used) = section(&value[5..])?;
        let (lcodec, lraw, lpayload, lused) = section(&value[5 + used..])?;
        let rest = &value[5 + used + lused..];
        let filter_len = rest.get(..4).map(|b| read_u32(b, 0) as usize).ok_or(CorruptBlock("filter length"))?;
        let filter = rest.get(4..4 + filter_len).ok_or(CorruptBlock("filter length"))?;
        if !probe.may_match_v2(filter) {
            return Ok(None);
        }
        let index = decompress(codec, raw_len, payload)?;
        let stored = lpayload.to_vec();
        let page = Page {
            first: 0,
            start: 0,
            end: lraw,
            codec: lcodec,
            payload: 0..stored.len(),
            possible: true,
            copied: true,
            lines: OnceCell::new(),
        };
        let b = Block {
            index,
            n,
            lines_len: lraw,
            pages: vec![page],
            stored,
            columns: Vec::new(),
            metas: OnceCell::new(),
            metas_at: None,
        };
        b.check()?;
        Ok(Some(b))
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
        let page = Page {
            first: 0,
            start: 0,
            end: lines_len,
            codec: CODEC_RAW,
            payload: 0..0,
            possible: true,
            copied: true,
            lines: OnceCell::from(raw[lines_at..metas_at].to_vec()),
        };
        let b = Block {
            index,
            n,
            lines_len,
            pages: vec![page],
            stored: Vec::new(),
            columns: Vec::new(),
            metas: OnceCell::new(),
            metas_at: None,
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

    /// Decompresses every possible page now; an error when one does not decompress.
    pub fn load_lines(&self) -> Result<(), CorruptBlock> {
        for p in 0..self.pages.len() {
            if self.pages[p].possible {
                self.page_lines(p)?;
            }
        }
        Ok(())
    }

    /// The lines of page `p`, back to back (decompressed on first use).
    pub fn page_lines(&self, p: usize) -> Result<&[u8], CorruptBlock> {
        let page = &self.pages[p];
        if let Some(l) = page.lines.get() {
            return Ok(l);
        }
        if !page.copied {
            return Err(CorruptBlock("page ruled out by the reader's filter was read"));
        }
        let payload = &self.stored[page.payload.clone()];
        let raw = decompress_page(page.codec, page.end - page.start, payload, || self.page_lines(0))?;
        Ok(page.lines.get_or_init(|| raw))
    }

    /// The field column `name` of kind `kind` (`store::columns`), if the block has one.
    pub fn column(&self, kind: u8, name: &str) -> Result<Option<Column>, CorruptBlock> {
        let Some(c) = self.columns.iter().find(|c| c.kind == kind && c.name == name) else { return Ok(None) };
        let raw = decompress(c.codec, c.raw_len, &self.stored[c.payload.clone()])?;
        Column::decode(&raw, self.n).map(Some)
    }

    /// The names of the block's field columns of kind `kind`.
    pub fn column_names(&self, kind: u8) -> impl Iterator<Item = &str> {
        self.columns.iter().filter(move |c| c.kind == kind).map(|c| c.name.as_str())
    }

    /// Line `i`, an error when its page does not decompress (or was ruled out).
    pub fn try_line(&self, i: usize) -> Result<&[u8], CorruptBlock> {
        let p = self.page_of(i);
        let lines = self.page_lines(p)?;
        let start = self.pages[p].start;
        Ok(&lines[self.line_start(i) - start..self.line_end(i) - start])
    }

    /// The pages holding entries `entries` (a range of entry indexes).
    pub fn pages_of(&self, entries: Range<usize>) -> Range<usize> {
        if entries.is_empty() {
            return 0..0;
        }
        self.page_of(entries.start)..self.page_of(entries.end - 1) + 1
    }

    fn page_of(&self, i: usize) -> usize {
        self.pages.partition_point(|p| p.first <= i) - 1
    }

    /// The entries of page `p`.
    pub fn page_entries(&self, p: usize) -> Range<usize> {
        self.pages[p].first..self.pages.get(p + 1).map_or(self.n, |next| next.first)
    }

    /// Where page `p`'s lines start in the block's line offsets ([`Self::line_offset`]).
    pub fn page_start(&self, p: usize) -> usize {
        self.pages[p].start
    }

    /// Whether page `p` may hold a line that the probe the block was decoded with allows
    /// (false: it was ruled out and cannot be read).
    pub fn page_possible(&self, p: usize) -> bool {
        self.pages[p].possible
    }

    /// Whether any page was decompressed.
    pub fn lines_loaded(&self) -> bool {
        self.pages.iter().any(|p| p.lines.get().is_some())
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
        if i == 0 {
            0
        } else {
            read_u32(&self.index, 8 * self.n + 4 * (i - 1)) as usize
        }
    }

    fn line_end(&self, i: usize) -> usize {
        read_u32(&self.index, 8 * self.n + 4 * i) as usize
    }

    /// The length of line `i`, without decompressing the lines.
    pub fn line_len(&self, i: usize) -> usize {
        self.line_end(i) - self.line_start(i)
    }

    pub fn line(&self, i: usize) -> &[u8] {
        let p = self.page_of(i);
        let lines = self.page_lines(p).expect("pages checked by load_lines or page_lines");
        let start = self.pages[p].start;
        &lines[self.line_start(i) - start..self.line_end(i) - start]
    }

    /// Where line `i` starts among the block's lines; `i == len()` gives their end.
    pub fn line_offset(&self, i: usize) -> usize {
        self.line_start(i)
    }

    /// The entry whose line contains byte `offset` of the block's lines.
    pub fn entry_at_line_offset(&self, offset: usize) -> usize {
        // First entry whose end offset is > offset.
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.line_end(mid) > offset {
                hi = mid
            } else {
                lo = mid + 1
            }
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
        &self.metas()[start..end]
    }

    /// Decompresses the structured metadata now (version 6; a no-op before): for a reader
    /// that hands the block to another thread, which then reads metadata.
    pub fn load_metadata(&self) {
        self.metas();
    }

    /// Every entry's structured metadata, back to back (version 6: decompressed on first
    /// use; its length was checked against the index when the block was decoded).
    fn metas(&self) -> &[u8] {
        let Some((codec, raw_len, range)) = &self.metas_at else { return &self.index[16 * self.n..] };
        self.metas.get_or_init(|| {
            decompress(*codec, *raw_len, &self.stored[range.clone()])
                .expect("a block's metadata section decompresses (RocksDB checked its bytes)")
        })
    }

    /// Index of the first entry with ts >= `ts` (entries are sorted).
    pub fn lower_bound(&self, ts: Nanos) -> usize {
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.ts(mid) < ts {
                lo = mid + 1
            } else {
                hi = mid
            }
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
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
        }
    }

    /// Bytes decompressed so far: the index section, and the pages read.
    pub fn decoded_len(&self) -> usize {
        self.index.len()
            + self.metas.get().map_or(0, Vec::len)
            + self.pages.iter().filter(|p| p.lines.get().is_some()).map(|p| p.end - p.start).sum::<usize>()
    }
}

/// Expands a v3 index (varints) into the fixed-width form the accessors read. The varints
/// come in the order of the fixed-width columns (times, line ends, metadata ends), so the
/// output is appended to, never zeroed first.
fn expand_index(n: usize, raw: &[u8], metas_inline: bool) -> Result<Vec<u8>, CorruptBlock> {
    let bad = || CorruptBlock("index");
    let mut pos = 0;
    // Written in place (a query expands the index of every block it reads): one column at a
    // time, each value at its slot, no per-value capacity checks.
    let mut out = vec![0u8; 16 * n];
    let (ts_col, ends) = out.split_at_mut(8 * n);
    let mut ts = 0i64;
    for slot in ts_col.chunks_exact_mut(8) {
        ts = ts.wrapping_add(unzigzag(varint_at(raw, &mut pos).ok_or_else(bad)?));
        slot.copy_from_slice(&ts.to_le_bytes());
    }
    // Line ends, then metadata ends: cumulative sums of the stored lengths.
    let (line_ends, meta_ends) = ends.split_at_mut(4 * n);
    for col in [line_ends, meta_ends] {
        let mut end = 0u64;
        for slot in col.chunks_exact_mut(4) {
            end += varint_at(raw, &mut pos).ok_or_else(bad)?;
            slot.copy_from_slice(&u32::try_from(end).map_err(|_| bad())?.to_le_bytes());
        }
    }
    let metas = if n == 0 || !metas_inline { 0 } else { read_u32(&out, 12 * n + 4 * (n - 1)) as usize };
    let rest = &raw[pos..];
    if rest.len() != metas {
        return Err(CorruptBlock("index metas"));
    }
    out.extend_from_slice(rest);
    Ok(out)
}

/// The varint at `raw[*pos..]` (moving `pos` past it), `None` when it is cut short or longer
/// than ten bytes.
#[inline(always)]
fn varint_at(raw: &[u8], pos: &mut usize) -> Option<u64> {
    let b0 = *raw.get(*pos)?;
    if b0 < 0x80 {
        *pos += 1;
        return Some(b0 as u64);
    }
    let mut v = (b0 & 0x7f) as u64;
    let mut i = *pos + 1;
    for shift in (7..70).step_by(7) {
        let b = *raw.get(i)?;
        i += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            *pos = i;
            return Some(v);
        }
    }
    None
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

pub(super) fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(super) fn get_varint(buf: &mut &[u8]) -> Option<u64> {
    // Most line lengths and many time deltas fit one or two bytes.
    if let Some((&b0, rest)) = buf.split_first() {
        if b0 < 0x80 {
            *buf = rest;
            return Some(b0 as u64);
        }
    }
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
        Entry { ts, line: line.into(), metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
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
                let b = Block::decode(&v).unwrap();
                assert_eq!(peek(&v).unwrap(), (n, 16 * n + b.metas().len() + b.lines_len), "the decoded size");
                assert_eq!(b.len(), n);
                for (i, want) in entries.iter().enumerate() {
                    assert_eq!(&b.entry(i), want);
                }
                if n == 2000 {
                    let want = if codec == Codec::Lz4 { CODEC_LZ4 } else { CODEC_ZSTD };
                    assert_eq!(v[payload_at(&v, 0) - SECTION_HEADER], want, "large blocks are compressed");
                }
            }
        }
    }

    #[test]
    fn line_offsets_map_back_to_entries() {
        let entries = vec![e(1, "aaa", &[]), e(2, "", &[]), e(3, "needle", &[])];
        let b = Block::decode(&encode(&entries, Codec::Lz4)).unwrap();
        let off = memchr::memmem::find(b.page_lines(0).unwrap(), b"needle").unwrap();
        assert_eq!(b.entry_at_line_offset(off), 2);
        assert_eq!(b.entry_at_line_offset(0), 0);
        assert_eq!(b.lower_bound(2), 1);
        assert_eq!(b.lower_bound(4), 3);
    }

    /// Where page `p`'s compressed payload starts in a v3 value.
    fn payload_at(v: &[u8], p: usize) -> usize {
        let (mut at, _) = v3_pages_at(v).unwrap();
        for _ in 0..p {
            v3_page(v, &mut at).unwrap();
        }
        at + 8 + read_u32(v, at + 4) as usize + SECTION_HEADER
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(Block::decode(&[]).is_err());
        assert!(Block::decode(&[1, 1, 5, 0, 0, 0, 100, 0, 0, 0, 1, 2]).is_err());
        let mut v = encode(&[e(1, "x", &[])], Codec::Lz4);
        v.truncate(v.len() - 1);
        assert!(Block::decode(&v).is_err());
        for cut in 0..v.len() {
            assert!(Block::decode(&v[..cut]).is_err(), "cut at {cut}");
        }
        // A page that does not decompress (a damaged frame header; damage inside a frame is
        // RocksDB's block checksum's to find, see `zstd_decompress`): the lazy decode reads
        // the index, and loading the lines is an error.
        let lines: Vec<Entry> = (0..100).map(|i| e(i, &"some words again ".repeat(10), &[])).collect();
        let mut v = encode(&lines, Codec::Zstd(3));
        let at = payload_at(&v, 0);
        v[at] ^= 0xff;
        let b = Block::decode_lazy(&v).unwrap();
        assert_eq!(b.ts(99), 99);
        assert!(b.load_lines().is_err());
        assert!(Block::decode(&v).is_err());
    }

    /// Counting and grouping read the index section; the lines stay compressed until read.
    #[test]
    fn lines_are_decompressed_on_first_use() {
        let entries: Vec<Entry> =
            (0..500).map(|i| e(i, &format!("line {i} {}", "x".repeat(40)), &[("k", "v")])).collect();
        let b = Block::decode_lazy(&encode(&entries, Codec::Zstd(3))).unwrap();
        assert!(!b.lines_loaded());
        assert_eq!((b.line_len(7), b.metadata(7).count()), (entries[7].line.len(), 1));
        assert!(!b.lines_loaded());
        assert_eq!(b.line(7), entries[7].line.as_bytes());
        assert!(b.lines_loaded());
    }

    /// Sealed blocks cut their lines into pages with their own filters; reading one line
    /// decompresses its page only, and a probe rules pages out one by one.
    #[test]
    fn sealed_blocks_are_paged_and_filtered() {
        let entries: Vec<Entry> = (0..3000)
            .map(|i| {
                let word = if i == 2500 { "refund" } else { "payment" };
                e(i, &format!("order {i} {word} failed {}", "x".repeat(30)), &[])
            })
            .collect();
        let sealed = encode(&entries, Codec::Zstd(3));
        let b = Block::decode_lazy(&sealed).unwrap();
        let pages = b.pages_of(0..b.len());
        assert!(pages.len() >= 4, "{} pages", pages.len());
        let mut next = 0;
        for p in pages.clone() {
            let r = b.page_entries(p);
            assert_eq!(r.start, next);
            assert_eq!(b.page_start(p), b.line_offset(r.start));
            next = r.end;
        }
        assert_eq!(next, 3000);
        assert_eq!(sealed[0], V6, "pages after the first use page 0 as their dictionary");
        assert!(b.pages[1..].iter().all(|p| p.codec == CODEC_ZSTD_PAGE0));
        assert_eq!(b.line(2999), entries[2999].line.as_bytes());
        // The last page, and page 0 (its dictionary).
        let page0 = b.page_start(1);
        assert_eq!(b.decoded_len() - b.index.len(), b.line_offset(3000) - b.page_start(pages.end - 1) + page0);
        let refund = Probe::new([&b" refund "[..]]);
        let probed = Block::decode_probed(&sealed, &refund).unwrap().expect("one page may match");
        let with = b.pages_of(2500..2501).start;
        assert!(probed.page_possible(with) && probed.page_lines(with).is_ok());
        assert!(!probed.page_possible(0) && probed.page_lines(0).is_ok(), "page 0 is copied as the dictionary");
        assert!(pages
            .clone()
            .filter(|&p| p != with && p != 0)
            .all(|p| !probed.page_possible(p) && probed.page_lines(p).is_err()));
        assert!(probed.stored.len() < sealed.len() / 3, "ruled-out pages are not copied");
        assert!(probed.load_lines().is_ok(), "loads the possible pages");
        let absent = Probe::new([&b"never-appears"[..]]);
        assert!(Block::decode_probed(&sealed, &absent).unwrap().is_none(), "every page ruled out: not decoded");
        assert!(
            Block::decode_probed(&encode(&entries, Codec::Lz4), &absent).unwrap().is_some(),
            "push blocks carry no filter"
        );
        for i in [0, 1234, 2999] {
            assert_eq!(b.entry(i), entries[i]);
        }
    }

    /// Decoding with the possible pages decompressed at once reads the same lines as the lazy
    /// decode, copies no payload, and still leaves ruled-out pages unread.
    #[test]
    fn loaded_decode_reads_what_the_lazy_one_reads() {
        let entries: Vec<Entry> = (0..3000)
            .map(|i| {
                e(i, &format!("order {i} {} {}", if i % 1000 == 7 { "refund" } else { "paid" }, "q".repeat(30)), &[])
            })
            .collect();
        let sealed = encode(&entries, Codec::Zstd(3));
        let probe = Probe::new([&b" refund "[..]]);
        let lazy = Block::decode_probed(&sealed, &probe).unwrap().unwrap();
        let loaded = Block::decode_masked_loaded(&sealed, &probe, None).unwrap().unwrap();
        assert!(loaded.stored.is_empty(), "no payload copied");
        assert!(lazy.pages.len() > 4);
        for p in 0..lazy.pages.len() {
            assert_eq!(loaded.page_possible(p), lazy.page_possible(p));
            if lazy.page_possible(p) {
                assert_eq!(loaded.page_lines(p).unwrap(), lazy.page_lines(p).unwrap());
            } else if p > 0 {
                assert!(loaded.page_lines(p).is_err(), "page {p} was ruled out");
            }
        }
        let all = Block::decode_masked_loaded(&sealed, &Probe::default(), None).unwrap().unwrap();
        assert_eq!((0..3000).map(|i| all.entry(i)).collect::<Vec<_>>(), entries);
    }

    /// A page 0 that a zstd reader would take for a formatted dictionary is not used as
    /// one; a page-0 frame where the format does not allow one is an error.
    #[test]
    fn page0_dictionary_only_where_it_is_raw_content_and_allowed() {
        let mut enc = Encoder::new(Codec::Zstd(3));
        let line = |i: i64| [&ZSTD_DICT_MAGIC[..], format!(" line {i} {}", "y".repeat(40)).as_bytes()].concat();
        for i in 0..2000 {
            enc.push(i, &line(i), &[]);
        }
        let sealed = enc.finish();
        assert_eq!(sealed[0], V3);
        let b = Block::decode(&sealed).unwrap();
        assert!(b.pages.len() > 1 && b.pages.iter().all(|p| p.codec != CODEC_ZSTD_PAGE0));
        assert_eq!(b.line(1999), line(1999));

        let plain: Vec<Entry> = (0..2000).map(|i| e(i, &format!("line {i} {}", "z".repeat(40)), &[])).collect();
        let mut v = encode(&plain, Codec::Zstd(3));
        assert_eq!(v[0], V6);
        assert_eq!(Block::decode(&v).unwrap().entry(1999), plain[1999]);
        v[0] = V3;
        assert!(Block::decode(&v).is_err(), "version 3 has neither page-0 frames nor a metadata section");
    }

    /// The fixed-width index columns of formats 1 and 2 (`ts | line_end | meta_end`) and
    /// the encoded metadata of `entries`.
    fn fixed_width_columns(entries: &[Entry]) -> (Vec<u8>, Vec<u8>) {
        let (mut columns, mut metas, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for e in entries {
            columns.extend_from_slice(&e.ts.to_le_bytes());
        }
        let mut line_end = 0u32;
        for e in entries {
            line_end += e.line.len() as u32;
            columns.extend_from_slice(&line_end.to_le_bytes());
            for (k, v) in &e.metadata {
                put_varint(&mut metas, k.len() as u64);
                metas.extend_from_slice(k.as_bytes());
                put_varint(&mut metas, v.len() as u64);
                metas.extend_from_slice(v.as_bytes());
            }
            ends.push(metas.len() as u32);
        }
        for end in ends {
            columns.extend_from_slice(&end.to_le_bytes());
        }
        (columns, metas)
    }

    /// Blocks of formats 4 and 5 (metadata inside the index section; 5 with columns) are
    /// still read: rebuilt here from a version-6 block, they decode to the same entries and
    /// columns.
    #[test]
    fn versions_4_and_5_are_still_read() {
        let entries: Vec<Entry> = (0..3000)
            .map(|i| {
                let meta: &[(&str, &str)] = if i % 4 == 0 { &[("trace_id", "abc")] } else { &[] };
                e(i, &format!(r#"{{"n":{i},"msg":"line {i} {}"}}"#, "q".repeat(i as usize % 50)), meta)
            })
            .collect();
        let mut enc = Encoder::with_fields(Codec::Zstd(3), &crate::query::pipeline::JSON_FIELDS);
        entries.iter().for_each(|x| enc.push_entry(x));
        let v6 = enc.finish();
        assert_eq!(v6[0], V6);
        let b6 = Block::decode(&v6).unwrap();
        assert_eq!(b6.column_names(columns::KIND_JSON).collect::<Vec<_>>(), ["n"]);
        // Version 5: the index section holds the metadata too; the columns follow the pages.
        let (codec, raw_len, payload, used) = section(&v6[V3_HEADER..]).unwrap();
        let mut index = decompress(codec, raw_len, payload).unwrap();
        let (mcodec, mraw, mpayload, mused) = section(&v6[V3_HEADER + used..]).unwrap();
        index.extend_from_slice(&decompress(mcodec, mraw, mpayload).unwrap());
        let (mut at, npages) = v3_pages_at(&v6).unwrap();
        let pages_from = at - 4;
        for _ in 0..npages {
            v3_page(&v6, &mut at).unwrap();
        }
        assert_eq!(pages_from, V3_HEADER + used + mused);
        let mut v5 = v6[..V3_HEADER].to_vec();
        v5[0] = V5;
        put_section(&mut v5, &index, Codec::Zstd(3));
        v5.extend_from_slice(&v6[pages_from..]);
        let mut v4 = v5[..v5.len() - (v6.len() - at)].to_vec();
        v4[0] = V4;
        for v in [&v5, &v4] {
            let b = Block::decode(v).unwrap();
            assert!(b.metas_at.is_none());
            for (i, want) in entries.iter().enumerate() {
                assert_eq!(&b.entry(i), want);
            }
        }
        let cells = |b: &Block| {
            let c = b.column(columns::KIND_JSON, "n").unwrap().unwrap();
            (0..entries.len()).map(|i| format!("{:?}", c.cell(i))).collect::<Vec<_>>()
        };
        assert_eq!(cells(&Block::decode(&v5).unwrap()), cells(&b6));
        assert!(Block::decode(&v4).unwrap().column(columns::KIND_JSON, "n").unwrap().is_none());
    }

    /// Blocks written in format v2 (one whole-word filter per block) are still read.
    #[test]
    fn version_2_blocks_are_read() {
        let entries = vec![e(5, "first payment", &[("trace_id", "t1")]), e(9, "second line", &[])];
        let (columns, meta) = fixed_width_columns(&entries);
        let index = [columns, meta].concat();
        let lines = b"first paymentsecond line";
        let mut v = vec![V2];
        v.extend_from_slice(&2u32.to_le_bytes());
        for section in [&index[..], &lines[..]] {
            v.push(CODEC_RAW);
            v.extend_from_slice(&(section.len() as u32).to_le_bytes());
            v.extend_from_slice(&(section.len() as u32).to_le_bytes());
            v.extend_from_slice(section);
        }
        let f = filter::build_v2(lines);
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&f);
        let b = Block::decode(&v).unwrap();
        assert_eq!((b.entry(0), b.entry(1)), (entries[0].clone(), entries[1].clone()));
        assert_eq!(peek(&v).unwrap(), (2, index.len() + lines.len()));
        assert!(Block::decode_probed(&v, &Probe::new([&b" payment"[..]])).unwrap().is_some());
        assert!(Block::decode_probed(&v, &Probe::new([&b" refund "[..]])).unwrap().is_none());
    }

    /// Blocks written before format v2 are still read.
    #[test]
    fn version_1_blocks_are_read() {
        let entries = vec![e(5, "first", &[("trace_id", "t1")]), e(9, "second line", &[])];
        let (columns, meta) = fixed_width_columns(&entries);
        for compress in [false, true] {
            let raw = [&columns[..], b"firstsecond line", &meta].concat();
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
