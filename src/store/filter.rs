//! Page filters: a bloom filter over what the lines of a page hold, so a line filter can
//! rule the page out without decompressing it.
//!
//! A *word* is a maximal run of ASCII letters and digits and non-ASCII bytes. A page's
//! filter (format v3) holds every 4-byte window of every word of its lines (a *gram*), and
//! every word shorter than four bytes whole. A line that contains a substring `s` contains
//! every gram of every word of `s` (whatever the word is part of in the line), and every
//! short word of `s` that is bounded on both sides by another byte of `s` itself, so a page
//! whose filter lacks one of those items cannot hold a match. Substring semantics are kept
//! exactly: a page is skipped only when it provably has no match. Grams make single-word
//! needles (`|= "error"`) useful, which whole-word filters cannot (the word may be part of a
//! longer one in a line).
//!
//! Every item is a `u32`: a gram is its four bytes, a short word its bytes with its length
//! in the top byte (a length of 1–3 is never a word byte, so the two kinds never collide).
//!
//! Layout v3: `u8 k | bits` (little-endian bit order; the bit count is `8 × bytes`); an
//! empty filter means "no filter" (push blocks have none).
//!
//! Blocks of format v4 take the items that every page of the block holds (JSON keys,
//! common words: about 40 % of a page's items) out of the page filters into one filter
//! for the block, carried by page 0: page 0's filter is `u8 (0x40 | k) | u32 len | common |
//! own`, every later page's `u8 (0x80 | k) | own`, where `common` and `own` have the v3
//! layout. A needle item is then probed once per block against `common`, and only the
//! items not there against each page's `own` ([`PageProbe`]). Format v2 blocks carry one
//! whole-word filter per block (`u8 k | u8 log2(bits) | bits`), still probed here.

/// Bits per distinct item: about 1 % false positives with [`HASHES`] probes.
const BITS_PER_ITEM: usize = 8;
const HASHES: u8 = 5;
/// Page 0's filter when the block's common items are split out: it carries them.
const TAG_CARRIES_COMMON: u8 = 0x40 | HASHES;
/// A later page's filter: its own items, beside the common ones page 0 carries.
const TAG_USES_COMMON: u8 = 0x80 | HASHES;
const MIN_BYTES: usize = 16;
/// A bound on a needle's items (each costs a probe per page).
const MAX_PROBE_ITEMS: usize = 128;

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Calls `f` with every word of `text` and whether it touches the start or the end.
fn words(text: &[u8], mut f: impl FnMut(&[u8], bool)) {
    let mut i = 0;
    while i < text.len() {
        if !is_word_byte(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && is_word_byte(text[i]) {
            i += 1;
        }
        f(&text[start..i], start == 0 || i == text.len());
    }
}

fn short_word(w: &[u8]) -> u32 {
    debug_assert!(!w.is_empty() && w.len() < 4);
    let mut k = (w.len() as u32) << 24;
    for (i, &b) in w.iter().enumerate() {
        k |= (b as u32) << (8 * i);
    }
    k
}

/// Calls `f` with the items of one word as it appears in a line.
fn word_items(w: &[u8], mut f: impl FnMut(u32)) {
    if w.len() < 4 {
        f(short_word(w));
    } else {
        for g in w.windows(4) {
            f(u32::from_le_bytes([g[0], g[1], g[2], g[3]]));
        }
    }
}

fn mix(x: u64) -> u64 {
    let mut h = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// The bit positions of an item in a filter of `nbits` bits (stored: stable across versions).
fn probes(item: u32, nbits: u64) -> impl Iterator<Item = u64> {
    let h1 = mix(item as u64);
    let h2 = mix(item as u64 ^ 0x5555_5555_0000_0000) | 1;
    (0..HASHES as u64).map(move |i| ((h1.wrapping_add(i.wrapping_mul(h2)) as u128 * nbits as u128) >> 64) as u64)
}

/// Builds page filters; keeps its scratch space between pages.
#[derive(Default)]
pub struct Builder {
    /// Open-addressing set of the page's distinct items (0 = empty slot; no item is 0).
    table: Vec<u32>,
    distinct: Vec<u32>,
}

impl Builder {
    fn insert(&mut self, item: u32) {
        if (self.distinct.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let mask = self.table.len() - 1;
        let mut at = (mix(item as u64) as usize) & mask;
        loop {
            match self.table[at] {
                0 => {
                    self.table[at] = item;
                    self.distinct.push(item);
                    return;
                }
                x if x == item => return,
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let cap = (self.table.len() * 2).max(1024);
        self.table.clear();
        self.table.resize(cap, 0);
        let mask = cap - 1;
        for &item in &self.distinct {
            let mut at = (mix(item as u64) as usize) & mask;
            while self.table[at] != 0 {
                at = (at + 1) & mask;
            }
            self.table[at] = item;
        }
    }

    /// The distinct items of one page, sorted: its lines back to back in `lines`, `ends`
    /// their end offsets (so no word spans two lines). [`block_filters`] or [`filter_of`]
    /// turn them into filters.
    pub fn items(&mut self, lines: &[u8], ends: impl Iterator<Item = usize>) -> Vec<u32> {
        self.table.iter_mut().for_each(|s| *s = 0);
        self.distinct.clear();
        let mut start = 0;
        for end in ends {
            words(&lines[start..end], |w, _| word_items(w, |item| self.insert(item)));
            start = end;
        }
        let mut items = self.distinct.clone();
        items.sort_unstable();
        items
    }
}

/// A v3-layout filter of `items`.
pub fn filter_of(items: &[u32]) -> Vec<u8> {
    let bytes = (items.len() * BITS_PER_ITEM).div_ceil(8).max(MIN_BYTES);
    let mut out = vec![0u8; 1 + bytes];
    out[0] = HASHES;
    let nbits = 8 * bytes as u64;
    for &item in items {
        for bit in probes(item, nbits) {
            out[1 + (bit / 8) as usize] |= 1 << (bit % 8);
        }
    }
    out
}

/// The filters of a block's pages from their sorted distinct items: the items every page
/// holds go into one filter that page 0's carries (format v4), unless there are none.
pub fn block_filters(pages: &[Vec<u32>]) -> Vec<Vec<u8>> {
    let mut common: Vec<u32> = if pages.len() < 2 { Vec::new() } else { pages[0].clone() };
    for page in pages.iter().skip(1) {
        common.retain(|item| page.binary_search(item).is_ok());
    }
    if common.is_empty() {
        return pages.iter().map(|items| filter_of(items)).collect();
    }
    let own = |items: &[u32]| -> Vec<u32> {
        items.iter().copied().filter(|item| common.binary_search(item).is_err()).collect()
    };
    pages
        .iter()
        .enumerate()
        .map(|(p, items)| {
            let own = filter_of(&own(items));
            let mut out = Vec::with_capacity(own.len() + 5);
            if p == 0 {
                let common = filter_of(&common);
                out.push(TAG_CARRIES_COMMON);
                out.extend_from_slice(&(common.len() as u32).to_le_bytes());
                out.extend_from_slice(&common);
            } else {
                out.push(TAG_USES_COMMON);
            }
            out.extend_from_slice(&own);
            out
        })
        .collect()
}

/// Whether the v3-layout `filter` may hold every one of `items` (true for a layout it does
/// not know).
fn holds_all(items: &[u32], filter: &[u8]) -> bool {
    let [k, bits @ ..] = filter else { return true };
    if *k != HASHES || bits.is_empty() {
        return true;
    }
    let nbits = 8 * bits.len() as u64;
    items.iter().all(|&item| probes(item, nbits).all(|bit| bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0))
}

/// Probes the pages of one block in order, page 0 first (see the module docs on v4).
pub struct PageProbe<'p> {
    probe: &'p Probe,
    /// The probe's items that the block's common filter lacks, once page 0 has said.
    rest: Option<Vec<u32>>,
}

impl PageProbe<'_> {
    /// Whether the next page, with `filter`, may hold a match.
    pub fn may_match(&mut self, filter: &[u8]) -> bool {
        match filter.first() {
            Some(&TAG_CARRIES_COMMON) => {
                let Some(len) = filter.get(1..5).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
                    return true;
                };
                let (Some(common), Some(own)) = (filter.get(5..5 + len), filter.get(5 + len..)) else { return true };
                let rest: Vec<u32> =
                    self.probe.items.iter().copied().filter(|&item| !holds_all(&[item], common)).collect();
                let possible = holds_all(&rest, own);
                self.rest = Some(rest);
                possible
            }
            Some(&TAG_USES_COMMON) => match &self.rest {
                Some(rest) => holds_all(rest, &filter[1..]),
                None => true, // page 0 said nothing: cannot rule anything out
            },
            _ => self.probe.may_match(filter),
        }
    }
}

/// What every line containing a set of substrings contains, ready to probe filters with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    items: Vec<u32>,
    /// The same for format v2's whole-word filters.
    v2_words: Vec<u64>,
}

impl Probe {
    /// The probe for lines that contain every one of `needles`.
    pub fn new<'a>(needles: impl IntoIterator<Item = &'a [u8]>) -> Probe {
        let mut p = Probe::default();
        for needle in needles {
            words(needle, |w, at_edge| {
                if w.len() >= 4 {
                    word_items(w, |item| p.items.push(item));
                } else if !at_edge {
                    p.items.push(short_word(w));
                }
                if !at_edge {
                    p.v2_words.push(v2_hash(w));
                }
            });
        }
        p.items.sort_unstable();
        p.items.dedup();
        p.items.truncate(MAX_PROBE_ITEMS);
        p.v2_words.sort_unstable();
        p.v2_words.dedup();
        p
    }

    /// Whether nothing can be ruled out with this probe.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.v2_words.is_empty()
    }

    /// Whether a v3 page with `filter` may hold a match (always true without a filter or
    /// with a layout it does not know).
    pub fn may_match(&self, filter: &[u8]) -> bool {
        holds_all(&self.items, filter)
    }

    /// For the pages of one block, in order ([`PageProbe`]).
    pub fn pages(&self) -> PageProbe<'_> {
        PageProbe { probe: self, rest: None }
    }

    /// Whether a v2 block with whole-word `filter` may hold a match.
    pub fn may_match_v2(&self, filter: &[u8]) -> bool {
        let [k, log2, bits @ ..] = filter else { return true };
        if *k != 4 || *log2 >= 40 || bits.len() != (1usize << log2) / 8 {
            return true;
        }
        self.v2_words.iter().all(|&h| v2_probes(h, *log2).all(|(byte, bit)| bits[byte] & bit != 0))
    }
}

// Format v2's whole-word filter (read only).
fn v2_hash(token: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in token {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn v2_probes(h: u64, log2: u8) -> impl Iterator<Item = (usize, u8)> {
    let mask = (1u64 << log2) - 1;
    let (h1, h2) = (h, (h >> 32) | 1);
    (0..4u64).map(move |i| {
        let bit = h1.wrapping_add(i.wrapping_mul(h2)) & mask;
        ((bit / 8) as usize, 1u8 << (bit % 8))
    })
}

/// Format v2's filter of a block's lines (tests build v2 blocks with it).
#[cfg(test)]
pub(crate) fn build_v2(lines: &[u8]) -> Vec<u8> {
    let mut seen = std::collections::HashSet::new();
    words(lines, |w, _| {
        seen.insert(v2_hash(w));
    });
    let want = (seen.len() * 10).max(512);
    let log2 = (usize::BITS - (want - 1).leading_zeros()) as u8;
    let mut out = vec![4, log2];
    out.resize(2 + (1usize << log2) / 8, 0);
    for h in seen {
        for (byte, bit) in v2_probes(h, log2) {
            out[2 + byte] |= bit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distinct items of a page holding `lines`.
    fn items_of(lines: &[&str]) -> Vec<u32> {
        let all: String = lines.concat();
        let mut end = 0;
        let ends: Vec<usize> = lines
            .iter()
            .map(|l| {
                end += l.len();
                end
            })
            .collect();
        Builder::default().items(all.as_bytes(), ends.into_iter())
    }

    fn page_filter(lines: &[&str]) -> Vec<u8> {
        filter_of(&items_of(lines))
    }

    fn may(f: &[u8], needle: &str) -> bool {
        Probe::new([needle.as_bytes()]).may_match(f)
    }

    #[test]
    fn which_parts_of_a_needle_count() {
        let p = Probe::new([&b"user_id_123\""[..]]);
        // "user" (a gram, edge or not), "id" and "123" (short, bounded inside the needle).
        assert_eq!(p.items.len(), 3);
        assert_eq!(Probe::new([&b"error"[..]]).items.len(), 2, "erro, rror");
        assert!(Probe::new([&b"a b"[..]]).is_empty(), "short words at the edges may be parts of longer ones");
        assert_eq!(Probe::new([&b" ab "[..]]).items, vec![short_word(b"ab")]);
        assert!(Probe::new([&b""[..]]).is_empty());
    }

    #[test]
    fn a_page_is_skipped_only_when_it_cannot_match() {
        let f =
            page_filter(&[r#"{"msg":"payment failed","userId":"user_id_123"}"#, "티켓팅 오픈 at 13:00", "errors: 2"]);
        for present in [
            "\"payment failed\"",
            "user_id_123\"",
            " 티켓팅 ",
            ":00",
            "x",
            "",
            "ayme",
            "rror",
            "error",
            "errors:",
            "fail",
            "13:0",
        ] {
            assert!(may(&f, present), "{present}");
        }
        let mut skipped = 0;
        for absent in ["never-appears-anywhere", " refund ", "\"payment_failed\"", "-zzz-", "timeout", "reset"] {
            skipped += !may(&f, absent) as u32;
        }
        assert!(skipped >= 5, "a bloom filter of a few items rules out almost every absent needle");
        assert!(may(&[], " x "), "no filter, no skipping");
    }

    /// A word split between two lines is two words: no item spans lines.
    #[test]
    fn items_never_span_lines() {
        let f = page_filter(&["abc", "defg"]);
        assert!(may(&f, "defg") && may(&f, " abc "));
        assert!(!may(&f, "cdef") && !may(&f, "abcd"), "grams across the line end are not stored");
    }

    #[test]
    fn size_grows_with_distinct_items() {
        let lines: Vec<String> = (0..2000).map(|i| format!("request {i} done ")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let f = page_filter(&refs);
        // 2000 numbers (short words or grams of 4-digit ones) plus a few grams.
        assert!(f.len() >= 2000 * BITS_PER_ITEM / 8 && f.len() <= 4 * 2000 * BITS_PER_ITEM / 8, "{}", f.len());
        assert!(refs.iter().all(|l| may(&f, &format!(" {} ", &l[8..l.len() - 6]))));
        let absent = (5000..5200).filter(|i| may(&f, &format!(" {i} "))).count();
        assert!(absent < 20, "false positives {absent}/200");
    }

    /// Items every page holds live in page 0's filter once; probing the pages in order
    /// answers as probing each page's full filter would (but for false positives).
    #[test]
    fn common_items_are_split_out_and_probed_once() {
        let page = items_of;
        let pages = [
            page(&[r#"{"level":"info","msg":"payment ok"}"#]),
            page(&[r#"{"level":"info","msg":"refund ok"}"#]),
            page(&[r#"{"level":"warn","msg":"payment slow"}"#]),
        ];
        let filters = block_filters(&pages);
        assert_eq!(filters[0][0], TAG_CARRIES_COMMON);
        assert!(filters[1..].iter().all(|f| f[0] == TAG_USES_COMMON));
        let possible = |needle: &str| -> Vec<bool> {
            let probe = Probe::new([needle.as_bytes()]);
            let mut pages = probe.pages();
            filters.iter().map(|f| pages.may_match(f)).collect()
        };
        assert_eq!(possible("level"), [true, true, true], "common");
        assert_eq!(possible("refund"), [false, true, false]);
        assert_eq!(possible("payment"), [true, false, true]);
        assert_eq!(possible("\"level\":\"warn"), [false, false, true], "common and own items together");
        assert_eq!(possible("never-appears"), [false, false, false]);
        // A later page probed without page 0 cannot rule anything out.
        assert!(Probe::new([&b"refund"[..]]).pages().may_match(&filters[2]));
        assert_eq!(block_filters(&pages[..1])[0][0], HASHES, "one page: nothing to share");
    }

    #[test]
    fn v2_filters_are_still_probed() {
        let f = build_v2(br#"{"msg":"payment failed"}"#);
        assert!(Probe::new([&b" payment "[..]]).may_match_v2(&f));
        assert!(!Probe::new([&b" refund "[..]]).may_match_v2(&f));
        assert!(Probe::new([&b"refund"[..]]).may_match_v2(&f), "edge words say nothing in v2");
    }
}
