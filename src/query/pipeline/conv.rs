//! Go's conversions as the pipeline applies them (label filters, templates, `ip()` patterns): the
//! crate's one implementation in [`crate::gocompat`], in the pipeline's [`DIALECT`]. Errors carry
//! Go's texts, which end up in `__error_details__`.

use crate::gocompat::{Dialect, Escapes};

pub use crate::gocompat::{format_float, parse_bytes, parse_int_base0};

/// Where the pipeline differs from Go: quoting escapes only control characters (Go also escapes
/// other non-printable runes, e.g. U+00AD); `_` is not a digit separator in decimal numbers
/// (and is ignored in hexadecimal ones); a sign is accepted in front of `NaN`.
pub const DIALECT: Dialect =
    Dialect { escapes: Escapes::Controls, underscores: false, hex_floats: true, signed_nan: true };

/// Go `strconv.Quote` (pipeline dialect).
pub fn go_quote(s: &str) -> String {
    DIALECT.quote(s)
}

/// Go `strconv.ParseFloat(s, 64)` (pipeline dialect).
pub fn parse_float(s: &str) -> Result<f64, String> {
    DIALECT.parse_float(s)
}

/// Go `time.ParseDuration`, in nanoseconds (pipeline dialect).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    DIALECT.parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float(3e6), "3e+06");
        assert_eq!(format_float(190.0), "190");
        assert_eq!(format_float(0.003), "0.003");
        assert_eq!(format_float(123456.0), "123456");
        assert_eq!(format_float(1234567.0), "1.234567e+06");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(3.8476190476190477), "3.8476190476190477");
    }

    #[test]
    fn go_parse_errors() {
        assert_eq!(parse_float("").unwrap_err(), "strconv.ParseFloat: parsing \"\": invalid syntax");
        assert_eq!(parse_float("30.37").unwrap(), 30.37);
        assert_eq!(parse_float("1e3").unwrap(), 1000.0);
        assert!(parse_float("1_000").is_err());
        assert_eq!(parse_float("0x1p-2").unwrap(), 0.25);
        assert_eq!(parse_duration("3s").unwrap(), 3_000_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("1d").unwrap_err(), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(parse_duration("1").unwrap_err(), "time: missing unit in duration \"1\"");
        assert_eq!(parse_duration("").unwrap_err(), "time: invalid duration \"\"");
        assert_eq!(parse_bytes("20kB").unwrap(), 20_000);
        assert_eq!(parse_bytes("3 KiB").unwrap(), 3072);
        assert_eq!(parse_bytes("").unwrap_err(), "strconv.ParseFloat: parsing \"\": invalid syntax");
        assert_eq!(parse_bytes("3 foo").unwrap_err(), "unhandled size name: foo");
        assert_eq!(parse_int_base0("0x10"), Some(16));
        assert_eq!(parse_int_base0("2.5"), None);
    }
}
