//! The token filter of a sealed block: a bloom filter over the words of its lines, so a
//! line filter can rule a block out without decompressing it.
//!
//! A word (token) is a maximal run of ASCII letters and digits and non-ASCII bytes. A line
//! that contains a substring contains every token that the substring holds *whole* —
//! bounded on both sides by another character inside the substring itself — so a block
//! whose filter lacks one of those tokens cannot hold a match. Tokens touching either end
//! of the substring may be parts of longer words in a line and are not used. Substring
//! semantics are kept exactly: a block is skipped only when it provably has no match.
//!
//! Layout: `u8 k | u8 log2(bits) | bits (little-endian bytes)`; an empty filter means "no
//! filter" (blocks written by pushes have none).

use std::collections::HashSet;

/// Bits per distinct token: about 1 % false positives with [`HASHES`] probes.
const BITS_PER_TOKEN: usize = 10;
const HASHES: u8 = 4;
const MIN_LOG2_BITS: u8 = 9;

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn hash(token: &[u8]) -> u64 {
    // FNV-1a, then a final mix: stable across versions and platforms (it is stored).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in token {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Calls `f` with every token of `text` and whether it touches the start or the end.
fn tokens(text: &[u8], mut f: impl FnMut(&[u8], bool)) {
    let mut i = 0;
    while i < text.len() {
        if !is_token_byte(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && is_token_byte(text[i]) {
            i += 1;
        }
        f(&text[start..i], start == 0 || i == text.len());
    }
}

/// Builds the filter of a block from its lines (back to back, `ends` their end offsets,
/// so no token spans two lines).
pub fn build(lines: &[u8], ends: impl Iterator<Item = usize>) -> Vec<u8> {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut start = 0;
    for end in ends {
        tokens(&lines[start..end], |t, _| {
            seen.insert(hash(t));
        });
        start = end;
    }
    let want = (seen.len() * BITS_PER_TOKEN).max(1 << MIN_LOG2_BITS);
    let log2 = (usize::BITS - (want - 1).leading_zeros()) as u8;
    let mut bits = vec![0u8; (1usize << log2) / 8];
    for h in seen {
        for (byte, bit) in probes(h, log2) {
            bits[byte] |= bit;
        }
    }
    let mut out = Vec::with_capacity(2 + bits.len());
    out.push(HASHES);
    out.push(log2);
    out.extend_from_slice(&bits);
    out
}

fn probes(h: u64, log2: u8) -> impl Iterator<Item = (usize, u8)> {
    let mask = (1u64 << log2) - 1;
    let (h1, h2) = (h, (h >> 32) | 1);
    (0..HASHES as u64).map(move |i| {
        let bit = h1.wrapping_add(i.wrapping_mul(h2)) & mask;
        ((bit / 8) as usize, 1u8 << (bit % 8))
    })
}

/// The hashes of the tokens every line containing `needle` contains.
pub fn needle_tokens(needle: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    tokens(needle, |t, at_edge| {
        if !at_edge {
            out.push(hash(t));
        }
    });
    out
}

/// Whether a block with `filter` may hold a line containing every token of `tokens`
/// (always true without a filter).
pub fn may_contain(filter: &[u8], tokens: &[u64]) -> bool {
    let [k, log2, bits @ ..] = filter else { return true };
    if *k != HASHES || bits.len() != (1usize << log2) / 8 {
        return true; // unknown layout: cannot rule anything out
    }
    tokens.iter().all(|&h| probes(h, *log2).all(|(byte, bit)| bits[byte] & bit != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(lines: &[&str]) -> Vec<u8> {
        let all: String = lines.concat();
        let mut end = 0;
        let ends: Vec<usize> = lines.iter().map(|l| { end += l.len(); end }).collect();
        build(all.as_bytes(), ends.into_iter())
    }

    #[test]
    fn only_whole_tokens_inside_the_needle_count() {
        assert!(needle_tokens(b"user_id_123\"").len() == 2, "id and 123 are whole; user touches the start");
        assert!(needle_tokens(b"never-appears-anywhere").len() == 1);
        assert!(needle_tokens(b"error").is_empty());
        assert!(needle_tokens(b"a b").is_empty());
        assert_eq!(needle_tokens(b" timeout ").len(), 1);
    }

    #[test]
    fn a_block_is_skipped_only_when_it_cannot_match() {
        let f = filter_of(&[r#"{"msg":"payment failed","userId":"user_id_123"}"#, "티켓팅 오픈 at 13:00"]);
        for present in [&b"\"payment failed\""[..], b"user_id_123\"", b" \xed\x8b\xb0\xec\xbc\x93\xed\x8c\x85 ", b":00", b"x", b""] {
            assert!(may_contain(&f, &needle_tokens(present)), "{}", String::from_utf8_lossy(present));
        }
        // Tokens cut at a line end are still whole tokens of that line.
        assert!(may_contain(&f, &needle_tokens(b" 13:")));
        let mut skipped = 0;
        for absent in ["never-appears-anywhere", " refund ", "\"payment_failed\"", "-zzz-"] {
            skipped += !may_contain(&f, &needle_tokens(absent.as_bytes())) as u32;
        }
        assert!(skipped >= 3, "a bloom filter of a few tokens rules out almost every absent token");
        assert!(may_contain(&[], &needle_tokens(b" x ")), "no filter, no skipping");
    }

    #[test]
    fn size_grows_with_distinct_tokens() {
        let lines: Vec<String> = (0..5000).map(|i| format!("request {i} done ")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let f = filter_of(&refs);
        assert!(f.len() >= 5000 * BITS_PER_TOKEN / 8 && f.len() <= 2 * 5000 * BITS_PER_TOKEN / 8 + 2, "{}", f.len());
        assert!(refs.iter().take(50).all(|l| may_contain(&f, &needle_tokens(format!(" {} ", &l[8..l.len() - 6]).as_bytes()))));
    }
}
