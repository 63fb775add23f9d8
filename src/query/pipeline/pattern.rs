//! Pattern matching (`pkg/logql/log/pattern/`): the `| pattern` parser (extraction) and the
//! `|>` / `!>` line filters (test only), over the nodes `logql::pattern` parses.

use memchr::memmem;

use crate::logql::pattern::{self, Node};

/// A parsed pattern expression.
#[derive(Clone, Debug)]
pub struct Pattern {
    nodes: Vec<Node>,
    names: Vec<String>,
}

impl Pattern {
    /// A pattern for the `| pattern` parser (Loki's `pattern.New`).
    pub fn new(p: &str) -> Result<Pattern, String> {
        let nodes = pattern::parse_extraction(p)?;
        let names = pattern::capture_names(&nodes);
        Ok(Pattern { nodes, names })
    }

    /// A pattern for `|>` / `!>` (Loki's `ParseLineFilter`): only `<_>` captures.
    pub fn new_line_filter(p: &str) -> Result<Pattern, String> {
        Ok(Pattern { nodes: pattern::parse_line_filter(p)?, names: Vec::new() })
    }

    /// Names of the named captures, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Extraction (Loki's `Matcher.Matches`): values of the named captures matched so far.
    pub fn matches<'l>(&self, line: &'l [u8], out: &mut Vec<&'l [u8]>) {
        out.clear();
        if line.is_empty() || self.nodes.is_empty() {
            return;
        }
        let mut input = line;
        let mut nodes = &self.nodes[..];
        if let Node::Literal(l) = &nodes[0] {
            let l = l.as_bytes();
            if !input.starts_with(l) {
                return;
            }
            input = &input[l.len()..];
            nodes = &nodes[1..];
        }
        while !nodes.is_empty() {
            let Node::Capture(cap) = &nodes[0] else { return };
            let named = cap != "_";
            let Some(Node::Literal(lit)) = nodes.get(1) else {
                if named {
                    out.push(input);
                }
                return;
            };
            nodes = &nodes[2..];
            let lit = lit.as_bytes();
            match memmem::find(input, lit) {
                None => {
                    if named {
                        out.push(input);
                    }
                    return;
                }
                Some(i) => {
                    if named {
                        out.push(&input[..i]);
                    }
                    input = &input[i + lit.len()..];
                }
            }
        }
    }

    /// Line-filter test (Loki's `Matcher.Test`).
    pub fn test(&self, line: &[u8]) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = n else { continue };
            let Some(j) = memmem::find(&line[off..], lit.as_bytes()) else {
                return false;
            };
            if i != 0 && j == 0 {
                return false;
            }
            off += j + lit.len();
        }
        let req_rem = matches!(self.nodes.last(), Some(Node::Capture(_)));
        req_rem == (off != line.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(p: &str, line: &str) -> Vec<String> {
        let p = Pattern::new(p).unwrap();
        let mut out = Vec::new();
        p.matches(line.as_bytes(), &mut out);
        out.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect()
    }

    #[test]
    fn extraction_follows_loki() {
        let nginx = r#"10.0.1.174 - - [02/Feb/2026:13:59:55 +0000] "POST /api/captcha HTTP/1.1" 200 10075 "-" "Mozilla/5.0" 0.012"#;
        assert_eq!(
            extract(r#"<ip> - - [<_>] "<method> <path> <_>" <status> <size> <_>"#, nginx),
            vec!["10.0.1.174", "POST", "/api/captcha", "200", "10075"]
        );
        assert_eq!(extract("foo <a>", "bar foo x"), Vec::<String>::new());
        assert_eq!(extract("<a> x <b> y", "1 x 2"), vec!["1", "2"]);
        assert_eq!(extract("<a> x <b>", ""), Vec::<String>::new());
    }

    #[test]
    fn errors() {
        assert_eq!(Pattern::new("foo").unwrap_err(), "at least one capture is required");
        assert_eq!(Pattern::new("<_> x").unwrap_err(), "at least one capture is required");
        assert_eq!(Pattern::new("<a><b>").unwrap_err(), "found consecutive capture '<a><b>': invalid expression");
        assert_eq!(Pattern::new("<a> <a>").unwrap_err(), "duplicate capture name (a): invalid expression");
        assert_eq!(Pattern::new_line_filter("<a> x").unwrap_err(), "named captures are not allowed: found '<a>'");
    }

    #[test]
    fn line_filter_test() {
        let p = Pattern::new_line_filter("<_> level=error <_>").unwrap();
        assert!(p.test(b"ts=1 level=error msg=x"));
        assert!(!p.test(b"ts=1 level=info msg=x"));
        assert!(Pattern::new_line_filter("foo <_>").unwrap().test(b"xx foo bar"));
        assert!(!Pattern::new_line_filter("foo").unwrap().test(b"foo bar"));
        assert!(Pattern::new_line_filter("").unwrap().test(b""));
    }

    /// One parser with LogQL validation: an empty `| pattern ""` fails in Loki's grammar (before
    /// the capture check); an empty line filter pattern matches only empty lines.
    #[test]
    fn empty_pattern_like_loki() {
        assert_eq!(
            Pattern::new("").unwrap_err(),
            "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"
        );
        let p = Pattern::new_line_filter("").unwrap();
        assert!(p.test(b"") && !p.test(b"x"));
        let e = crate::logql::parse_expr(r#"{a="b"} | pattern """#).unwrap_err().to_string();
        assert!(e.contains("invalid pattern parser: parse error at line 1, col 1: syntax error"), "{e}");
    }
}
