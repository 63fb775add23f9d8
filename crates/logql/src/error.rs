//! LogQL parse errors, rendered byte-for-byte like Loki's `logqlmodel.ParseError`.

use std::fmt;

/// A LogQL parse / validation error.
///
/// `Display` follows Loki exactly: `parse error at line L, col C: <msg>` when a position is
/// known, `parse error : <msg>` otherwise (Loki uses line 0 / col 0 as "unknown"; note that Loki
/// also reports `line 0, col C` for some tokens, which we reproduce). The one non-parse error,
/// [`ParseError::not_matchers`] (`only label matchers are supported`), renders without prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    msg: String,
    line: usize,
    col: usize,
    plain: bool,
}

impl ParseError {
    /// An error at a position (1-based column counted in characters, like Go's text/scanner).
    pub fn at(msg: impl Into<String>, line: usize, col: usize) -> Self {
        Self { msg: msg.into(), line, col, plain: false }
    }

    /// An error without position (`parse error : <msg>`).
    pub fn new(msg: impl Into<String>) -> Self {
        Self::at(msg, 0, 0)
    }

    /// Loki's `ErrParseMatchers`: the text was a valid query but not a bare stream selector.
    pub fn not_matchers() -> Self {
        Self { msg: "only label matchers are supported".into(), line: 0, col: 0, plain: true }
    }

    /// The message without the `parse error …:` prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Line (1-based; 0 when unknown or when Loki reports line 0).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Column (1-based, in characters; 0 when unknown).
    pub fn col(&self) -> usize {
        self.col
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.plain {
            f.write_str(&self.msg)
        } else if self.line == 0 && self.col == 0 {
            write!(f, "parse error : {}", self.msg)
        } else {
            write!(f, "parse error at line {}, col {}: {}", self.line, self.col, self.msg)
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_formats() {
        assert_eq!(ParseError::at("x", 1, 14).to_string(), "parse error at line 1, col 14: x");
        assert_eq!(ParseError::new("y").to_string(), "parse error : y");
        assert_eq!(ParseError::at("z", 0, 5).to_string(), "parse error at line 0, col 5: z");
        assert_eq!(ParseError::not_matchers().to_string(), "only label matchers are supported");
        assert_eq!(ParseError::at("m", 2, 3).message(), "m");
    }
}
