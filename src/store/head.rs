//! Block heads: a sealed block's page filters, stored apart from its body (the `heads`
//! column family), so that listing blocks and ruling pages out never reads page bytes.
//!
//! Every block has a head under the same key as its body. A push block's head is empty
//! (it has no filters). A sealed block's head is
//! ```text
//! u8 version (1) | u32 pages | (u32 filter_len | filter)*     one filter per page, in order
//! ```
//! and its body is the format v3 value with every page's filter taken out (`filter_len`
//! 0). The body alone still decodes (a page without a filter may always match); the head
//! and body together are the whole block. Both are written in one batch and deleted
//! together (`store::rocks`).

use super::block::{self, CorruptBlock};
use super::filter::Probe;

const HEAD_V1: u8 = 1;

/// Splits an encoded block into (head, body). Blocks without page filters (push blocks,
/// older formats) get an empty head and keep their value as it is.
pub fn split(value: &[u8]) -> Result<(Vec<u8>, std::borrow::Cow<'_, [u8]>), CorruptBlock> {
    if !matches!(value.first(), Some(&(block::V3 | block::V4 | block::V5 | block::V6))) {
        return Ok((Vec::new(), value.into()));
    }
    let (pages_at, npages) = block::v3_pages_at(value)?;
    // Push blocks are v3 without filters: find that out from the page headers before
    // copying anything (this runs for every block a push writes).
    let mut at = pages_at;
    let mut any = false;
    for _ in 0..npages {
        any |= !block::v3_page(value, &mut at)?.1.is_empty();
    }
    if !any {
        return Ok((Vec::new(), value.into()));
    }
    let mut at = pages_at;
    let mut head = Vec::new();
    let mut body = Vec::with_capacity(value.len());
    body.extend_from_slice(&value[..at]);
    head.push(HEAD_V1);
    head.extend_from_slice(&(npages as u32).to_le_bytes());
    for _ in 0..npages {
        let start = at;
        let (_, filter, _, _, _) = block::v3_page(value, &mut at)?;
        head.extend_from_slice(&(filter.len() as u32).to_le_bytes());
        head.extend_from_slice(filter);
        body.extend_from_slice(&value[start..start + 4]);
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&value[start + 8 + filter.len()..at]);
    }
    body.extend_from_slice(&value[at..]);
    Ok((head, body.into()))
}

/// Which pages of the block may hold a line `probe` allows: `None` when the head carries
/// no filters (the body's own filters, if any, decide).
pub fn possible(head: &[u8], probe: &Probe) -> Result<Option<Vec<bool>>, CorruptBlock> {
    let Some((&version, rest)) = head.split_first() else { return Ok(None) };
    if version != HEAD_V1 {
        return Err(CorruptBlock("unknown head version"));
    }
    let bad = || CorruptBlock("head length");
    let npages = rest.get(..4).map(|b| block::read_u32(b, 0) as usize).ok_or_else(bad)?;
    let mut at = 4;
    let mut out = Vec::with_capacity(npages.min(1 << 16));
    let mut pages_probe = probe.pages();
    for _ in 0..npages {
        let len = rest.get(at..at + 4).map(|b| block::read_u32(b, 0) as usize).ok_or_else(bad)?;
        let filter = rest.get(at + 4..at + 4 + len).ok_or_else(bad)?;
        out.push(pages_probe.may_match(filter));
        at += 4 + len;
    }
    if at != rest.len() {
        return Err(bad());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::super::block::{encode, Block, Codec};
    use super::*;
    use crate::model::Entry;

    fn entries() -> Vec<Entry> {
        (0..3000)
            .map(|i| Entry {
                ts: i,
                line: format!("{{\"msg\":\"order {i} paid\",\"user\":\"u{}\",\"pad\":\"{}\"}}", i % 97, "x".repeat(40)),
                metadata: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_split_block_reads_back_the_same_and_probes_the_same() {
        let e = entries();
        let sealed = encode(&e, Codec::Zstd(3));
        let (head, body) = split(&sealed).unwrap();
        assert!(!head.is_empty(), "sealed blocks have filters");
        assert!(body.len() < sealed.len());
        let whole = Block::decode(&sealed).unwrap();
        let apart = Block::decode(&body).unwrap();
        assert_eq!(whole.len(), apart.len());
        for i in [0, 1, 1500, 2999] {
            assert_eq!(whole.line(i), apart.line(i));
            assert_eq!(whole.ts(i), apart.ts(i));
        }
        for needle in ["order 2500 paid", "u96\"", "never there", "paid"] {
            let probe = Probe::new([needle.as_bytes()]);
            let inline = Block::decode_probed(&sealed, &probe).unwrap();
            let mask = possible(&head, &probe).unwrap().unwrap();
            let masked = Block::decode_masked(&body, &probe, Some(&mask)).unwrap();
            assert_eq!(inline.is_none(), mask.iter().all(|p| !p), "{needle}");
            if let (Some(a), Some(b)) = (inline, masked) {
                let pages = a.pages_of(0..a.len()).end;
                assert_eq!(pages, b.pages_of(0..b.len()).end);
                let pa: Vec<bool> = (0..pages).map(|p| a.page_possible(p)).collect();
                let pb: Vec<bool> = (0..pages).map(|p| b.page_possible(p)).collect();
                assert_eq!(pa, pb, "{needle}");
            }
        }
    }

    #[test]
    fn push_blocks_keep_their_value_and_have_an_empty_head() {
        let v = encode(&entries()[..10], Codec::Lz4);
        let (head, body) = split(&v).unwrap();
        assert!(head.is_empty());
        assert_eq!(&body[..], &v[..]);
        assert_eq!(possible(&head, &Probe::new([&b"order"[..]])).unwrap(), None);
    }

    #[test]
    fn a_damaged_head_is_an_error_not_a_skip() {
        let (head, _) = split(&encode(&entries(), Codec::Zstd(3))).unwrap();
        let probe = Probe::new([&b"paid"[..]]);
        assert!(possible(&head[..head.len() - 1], &probe).is_err());
        assert!(possible(&[9, 0, 0, 0, 0], &probe).is_err());
    }
}
