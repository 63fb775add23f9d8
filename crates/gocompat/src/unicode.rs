//! Go's Unicode classes (`unicode.IsLetter`, `unicode.IsDigit`, `strconv.IsPrint`), built once
//! from regex-syntax's tables.

use std::sync::OnceLock;

/// Unicode class ranges of a regex class (pure, no I/O).
fn class_ranges(pattern: &str) -> Vec<(char, char)> {
    let hir = regex_syntax::ParserBuilder::new().build().parse(pattern);
    match hir.map(regex_syntax::hir::Hir::into_kind) {
        Ok(regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(c))) => {
            c.ranges().iter().map(|r| (r.start(), r.end())).collect()
        }
        _ => Vec::new(),
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Go `unicode.IsLetter` (general category L).
pub fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(T.get_or_init(|| class_ranges(r"\p{L}")), c)
}

/// Go `unicode.IsDigit` (general category Nd).
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(T.get_or_init(|| class_ranges(r"\p{Nd}")), c)
}

/// Go `strconv.IsPrint`: categories L, M, N, P, S plus ASCII space.
pub fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    static T: OnceLock<Vec<(char, char)>> = OnceLock::new();
    in_ranges(T.get_or_init(|| class_ranges(r"[\p{L}\p{M}\p{N}\p{P}\p{S}]")), c)
}
