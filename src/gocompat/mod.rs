//! Go behaviour that Loki's observable texts and values depend on, re-implemented from Go's
//! documented behaviour: the one home for it in lokid, used by every layer.
//!
//! - [`strconv`](self::strconv): `Quote`/`Unquote`, float and integer parsing and printing;
//! - [`duration`](self::duration): `time.ParseDuration`, `Duration.String`, Prometheus
//!   `model.Duration`;
//! - [`humanize`](self::humanize): go-humanize byte sizes;
//! - [`unicode`](self::unicode): `unicode.IsLetter`, `IsDigit`, `strconv.IsPrint`;
//! - [`regex`](self::regex): Go RE2 syntax checking and translation to Rust `regex` syntax;
//! - [`mime`](self::mime): `mime.ParseMediaType`.
//!
//! Conversion errors carry Go's texts (they end up in `__error_details__` and HTTP bodies).
//! Where a caller differs from Go it says so with a [`Dialect`] instead of its own copy.
//! **Invariant:** depends on nothing else in lokid (no `crate::` path outside `crate::gocompat`)
//! and does no I/O: it is meant to become its own crate, used by the LogQL crate.

pub mod duration;
pub mod humanize;
pub mod mime;
pub mod regex;
pub mod strconv;
pub mod unicode;

pub use duration::{
    duration_string, parse_duration, parse_prom_duration, prom_duration_string, seconds, std_duration_string,
};
pub use humanize::{bytes, parse_bytes};
pub use regex::{translate as translate_go_regex, GoRegex};
pub use strconv::{
    format_float, format_float_6, parse_float, parse_int, parse_int_base0, quote, write_quoted, Dialect, Escapes,
};
pub use unicode::{is_digit, is_letter, is_print};

#[cfg(test)]
mod tests {
    /// The module is to become its own crate: no file of it may name the rest of lokid.
    #[test]
    fn depends_on_nothing_else_in_lokid() {
        let needle = ["crate", "::"].concat();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/gocompat");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).expect("src/gocompat") {
            let path = entry.expect("dir entry").path();
            let src = std::fs::read_to_string(&path).expect("source file");
            files += 1;
            assert!(src.starts_with("//!"), "{}: starts without a //! line", path.display());
            for (i, line) in src.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices(needle.as_str()) {
                    let path_text = &line[at + needle.len()..];
                    assert!(path_text.starts_with("gocompat"), "{}:{}: {line}", path.display(), i + 1);
                }
            }
        }
        assert!(files >= 7, "read {files} files");
    }
}
