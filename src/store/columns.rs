//! Field columns of sealed blocks: the values of a few numeric fields of the lines, stored
//! beside the lines at seal time so that `| json | unwrap f` reads a column instead of
//! decompressing and parsing every line.
//!
//! The store knows no line format: what a field is comes from a [`FieldScanner`] (the query
//! pipeline's `| json` parser), handed to the block encoder by the merger. A column holds,
//! for every entry of the block, one [`Cell`]:
//! - `Value(v)`: the line parses without error and yields `v` for the field;
//! - `Absent`: the line surely yields nothing for it (it parses without error and lacks the
//!   field, or it cannot name the field at all: [`FieldScanner::may_yield`]);
//! - `Unknown`: the reader must parse the line itself.
//!
//! Encoded (inside a block section, see `store::block`):
//! ```text
//! cells = tag[n]: u8 (0 absent, 1 value, 2 unknown) | len: varint per value | value bytes
//! ```
//! A column is written only for a field that, in the lines that parse, holds a number every
//! time it appears, in at least [`MIN_SHARE`] of the block's entries; at most [`MAX_COLUMNS`]
//! per block, the most frequent first. Which fields are candidates is decided on the first
//! [`SAMPLE_LINES`] lines (a field that is not a number there gets no column); the whole
//! block is then parsed for those fields only.

use std::collections::HashMap;

use super::block::CorruptBlock;

/// Most columns one block carries.
pub const MAX_COLUMNS: usize = 8;
/// A field appears in at least 1/MIN_SHARE of a block's entries to get a column.
pub const MIN_SHARE: usize = 64;
/// The column kind of `| json` fields (the only kind so far).
pub const KIND_JSON: u8 = 1;

const ABSENT: u8 = 0;
const VALUE: u8 = 1;
const UNKNOWN: u8 = 2;

/// What a line yields for the fields a parser extracts, as the store needs it to build
/// columns. Implemented outside the store (it knows the line format).
pub trait FieldScanner: Sync {
    /// The column kind this scanner's fields are stored under.
    fn kind(&self) -> u8;
    /// Calls `field(name, value)` for every field `line` yields, in the parser's order;
    /// false when the line does not parse without error (then nothing may be known).
    fn scan(&self, line: &[u8], field: &mut dyn FnMut(&str, &str)) -> bool;
    /// Whether a line that does not parse may still yield `name` (false: it yields nothing
    /// for `name` whatever the reader's labels).
    fn may_yield(&self, line: &[u8], name: &str) -> bool;
    /// Whether `value` is a number (a column is kept only for fields that always are).
    fn is_number(&self, value: &str) -> bool;
    /// A scanner that reports only the fields named `names`, and otherwise answers as this
    /// one does (the same lines parse): cheaper, since other fields are not built.
    fn narrowed(&self, names: &[String]) -> Box<dyn FieldScanner + '_>;
}

/// Lines of a block parsed in full to find the fields worth a column; the whole block is
/// then parsed for those fields only.
pub const SAMPLE_LINES: usize = 256;

/// One entry's cell of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'c> {
    Absent,
    Value(&'c [u8]),
    Unknown,
}

/// A decoded column of one block.
#[derive(Debug)]
pub struct Column {
    tags: Vec<u8>,
    /// Start of each entry's value in `values` (the next start is its end); entries
    /// without a value have an empty range.
    starts: Vec<u32>,
    values: Vec<u8>,
}

impl Column {
    /// Decodes the raw (decompressed) cells of a block of `n` entries.
    pub fn decode(raw: &[u8], n: usize) -> Result<Column, CorruptBlock> {
        let bad = || CorruptBlock("column");
        let tags = raw.get(..n).ok_or_else(bad)?.to_vec();
        let mut rest = &raw[n..];
        let mut starts = Vec::with_capacity(n + 1);
        let mut at = 0u32;
        for &t in &tags {
            starts.push(at);
            match t {
                VALUE => {
                    at += u32::try_from(super::block::get_varint(&mut rest).ok_or_else(bad)?).map_err(|_| bad())?
                }
                ABSENT | UNKNOWN => {}
                _ => return Err(bad()),
            }
        }
        starts.push(at);
        if rest.len() != at as usize {
            return Err(bad());
        }
        Ok(Column { tags, starts, values: rest.to_vec() })
    }

    /// Entry `i`'s cell.
    pub fn cell(&self, i: usize) -> Cell<'_> {
        match self.tags[i] {
            VALUE => Cell::Value(&self.values[self.starts[i] as usize..self.starts[i + 1] as usize]),
            ABSENT => Cell::Absent,
            _ => Cell::Unknown,
        }
    }
}

/// The columns of one block, built from its lines when the block is sealed.
pub(super) struct Builder<'s> {
    scanner: &'s dyn FieldScanner,
    /// Every line of the block, back to back, and where each ends.
    lines: Vec<u8>,
    ends: Vec<usize>,
}

/// Per field while building: entries holding it, whether it was always a number.
struct FieldStat {
    count: usize,
    numbers: bool,
}

impl<'s> Builder<'s> {
    pub(super) fn new(scanner: &'s dyn FieldScanner) -> Builder<'s> {
        Builder { scanner, lines: Vec::new(), ends: Vec::new() }
    }

    pub(super) fn push(&mut self, line: &[u8]) {
        self.lines.extend_from_slice(line);
        self.ends.push(self.lines.len());
    }

    /// The columns worth storing: (kind, name, raw cells), most frequent field first.
    pub(super) fn finish(self) -> Vec<(u8, String, Vec<u8>)> {
        let n = self.ends.len();
        let line = |i: usize| &self.lines[if i == 0 { 0 } else { self.ends[i - 1] }..self.ends[i]];
        // The candidates: fields that are numbers wherever they appear in the first
        // SAMPLE_LINES lines.
        let mut sample: HashMap<String, bool> = HashMap::new();
        for i in 0..n.min(SAMPLE_LINES) {
            self.scanner.scan(line(i), &mut |k, v| {
                let number = self.scanner.is_number(v);
                sample.entry(k.to_string()).and_modify(|n| *n &= number).or_insert(number);
            });
        }
        let mut candidates: Vec<String> = sample.into_iter().filter(|(_, number)| *number).map(|(k, _)| k).collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort();
        let scanner = self.scanner.narrowed(&candidates);
        // One parse per line of the candidates only, nothing allocated per field: every
        // value goes to `arena`, every field to `fields` as (name id, value range);
        // `at[i]..at[i + 1]` are line i's fields, `None` for a line that does not parse.
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut stats: Vec<FieldStat> = Vec::new();
        let mut arena: Vec<u8> = Vec::new();
        let mut fields: Vec<(u32, u32, u32)> = Vec::new();
        let mut at: Vec<Option<u32>> = Vec::with_capacity(n + 1);
        for i in 0..n {
            let first = fields.len();
            let ok = scanner.scan(line(i), &mut |k, v| {
                let id = match ids.get(k) {
                    Some(&id) => id,
                    None => {
                        ids.insert(k.to_string(), stats.len());
                        stats.push(FieldStat { count: 0, numbers: true });
                        stats.len() - 1
                    }
                };
                let start = arena.len() as u32;
                arena.extend_from_slice(v.as_bytes());
                fields.push((id as u32, start, arena.len() as u32));
            });
            if !ok {
                fields.truncate(first);
                at.push(None);
                continue;
            }
            at.push(Some(first as u32));
            for &(id, s, e) in &fields[first..] {
                let st = &mut stats[id as usize];
                st.count += 1;
                st.numbers = st.numbers
                    && std::str::from_utf8(&arena[s as usize..e as usize]).is_ok_and(|v| scanner.is_number(v));
            }
        }
        let fields_of = |i: usize| -> Option<&[(u32, u32, u32)]> {
            let first = at[i]? as usize;
            let end = at[i + 1..].iter().flatten().next().map_or(fields.len(), |&e| e as usize);
            Some(&fields[first..end])
        };
        let mut chosen: Vec<(&String, usize)> = ids
            .iter()
            .filter(|(k, &id)| stats[id].numbers && stats[id].count * MIN_SHARE >= n && k.len() <= u8::MAX as usize)
            .map(|(k, &id)| (k, id))
            .collect();
        chosen.sort_by(|a, b| stats[b.1].count.cmp(&stats[a.1].count).then_with(|| a.0.cmp(b.0)));
        chosen.truncate(MAX_COLUMNS);
        chosen
            .into_iter()
            .map(|(name, id)| {
                let mut tags = Vec::with_capacity(n);
                let mut lens = Vec::new();
                let mut values = Vec::new();
                for i in 0..n {
                    let value = match fields_of(i) {
                        // The parser's first value for a name is the one a reader gets.
                        Some(fs) => fs.iter().find(|f| f.0 as usize == id).map(|f| &arena[f.1 as usize..f.2 as usize]),
                        None if !scanner.may_yield(line(i), name) => None,
                        None => {
                            tags.push(UNKNOWN);
                            continue;
                        }
                    };
                    match value {
                        Some(v) => {
                            tags.push(VALUE);
                            super::block::put_varint(&mut lens, v.len() as u64);
                            values.extend_from_slice(v);
                        }
                        None => tags.push(ABSENT),
                    }
                }
                tags.extend_from_slice(&lens);
                tags.extend_from_slice(&values);
                (scanner.kind(), name.clone(), tags)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `k=v` fields separated by spaces; a line starting with `!` does not parse; a line
    /// that does not parse may yield a name only if it contains it.
    struct Kv;
    impl FieldScanner for Kv {
        fn kind(&self) -> u8 {
            9
        }
        fn scan(&self, line: &[u8], field: &mut dyn FnMut(&str, &str)) -> bool {
            let s = std::str::from_utf8(line).unwrap();
            if s.starts_with('!') {
                return false;
            }
            for kv in s.split(' ') {
                if let Some((k, v)) = kv.split_once('=') {
                    field(k, v);
                }
            }
            true
        }
        fn may_yield(&self, line: &[u8], name: &str) -> bool {
            memchr::memmem::find(line, name.as_bytes()).is_some()
        }
        fn is_number(&self, value: &str) -> bool {
            value.parse::<f64>().is_ok()
        }
        fn narrowed(&self, names: &[String]) -> Box<dyn FieldScanner + '_> {
            Box::new(Narrow(names.to_vec()))
        }
    }

    /// [`Kv`] reporting only some fields.
    struct Narrow(Vec<String>);
    impl FieldScanner for Narrow {
        fn kind(&self) -> u8 {
            Kv.kind()
        }
        fn scan(&self, line: &[u8], field: &mut dyn FnMut(&str, &str)) -> bool {
            Kv.scan(line, &mut |k, v| {
                if self.0.iter().any(|n| n == k) {
                    field(k, v)
                }
            })
        }
        fn may_yield(&self, line: &[u8], name: &str) -> bool {
            Kv.may_yield(line, name)
        }
        fn is_number(&self, value: &str) -> bool {
            Kv.is_number(value)
        }
        fn narrowed(&self, names: &[String]) -> Box<dyn FieldScanner + '_> {
            Kv.narrowed(names)
        }
    }

    fn build(lines: &[&str]) -> Vec<(u8, String, Vec<u8>)> {
        let mut b = Builder::new(&Kv);
        lines.iter().for_each(|l| b.push(l.as_bytes()));
        b.finish()
    }

    #[test]
    fn numeric_fields_become_columns_with_exact_cells() {
        let lines = ["ms=5 msg=a", "ms=7 ms=8 msg=b", "msg=c", "!broken ms=9", "!broken", "code=x ms=1.5"];
        let cols = build(&lines);
        let names: Vec<&str> = cols.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(names, ["ms"], "msg and code hold text: no column");
        let col = Column::decode(&cols[0].2, lines.len()).unwrap();
        let cells: Vec<Cell> = (0..lines.len()).map(|i| col.cell(i)).collect();
        assert_eq!(
            cells,
            [
                Cell::Value(b"5"),
                Cell::Value(b"7"), // the first value of a repeated field
                Cell::Absent,
                Cell::Unknown, // does not parse, names the field
                Cell::Absent,  // does not parse, cannot name it
                Cell::Value(b"1.5"),
            ]
        );
        assert_eq!(cols[0].0, 9);
    }

    #[test]
    fn rare_fields_and_damaged_columns_are_refused() {
        let mut lines = vec!["a=1"];
        lines.extend(std::iter::repeat_n("b=2", MIN_SHARE));
        let cols = build(&lines);
        assert_eq!(cols.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(), ["b"], "a is in 1 of 65 entries");
        let raw = &cols[0].2;
        assert!(Column::decode(&raw[..raw.len() - 1], lines.len()).is_err());
        assert!(Column::decode(raw, lines.len() + 1).is_err());
        let mut bad = raw.clone();
        bad[0] = 7;
        assert!(Column::decode(&bad, lines.len()).is_err());
    }
}
