//! Go standard-library behaviours that Loki's observable texts and values depend on, re-implemented
//! from their documented behaviour: `strconv` (quoting, float and integer parsing and printing),
//! `unicode` classes, `time` and Prometheus `model` durations, go-humanize byte sizes.
//!
//! The one implementation for the whole crate: the LogQL lexer, parser and printer use it, and so
//! do the query pipeline (label filters, templates) and the metric engine (`unwrap`). Conversion
//! errors carry Go's texts (they end up in `__error_details__`). Where a caller differs from Go
//! it says so with a [`Dialect`] instead of its own copy. Pure: no I/O.

mod humanize;
mod strconv;
mod time;
mod unicode;

pub use humanize::{bytes, parse_bytes};
pub use strconv::{format_float, format_float_6, parse_float, parse_int, parse_int_base0, quote, Dialect, Escapes};
pub use time::{duration_string, parse_duration, parse_prom_duration, prom_duration_string, seconds};
pub use unicode::{is_digit, is_letter, is_print};
