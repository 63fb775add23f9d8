//! Go behaviour that Loki's observable texts and values depend on, re-implemented from Go's
//! documented behaviour: the one home for it in lokid (this crate), used by every layer and by
//! the `logql` crate.
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
//! **Invariant:** depends on nothing else in lokid (a crate of its own, so the compiler checks
//! it) and does no I/O.

pub mod duration;
pub mod humanize;
pub mod mime;
pub mod regex;
pub mod strconv;
pub mod time;
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
