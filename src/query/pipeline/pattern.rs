//! Pattern expressions (`pkg/logql/log/pattern/`): literals and `<name>` captures, used by the
//! `| pattern` parser (extraction) and the `|>` / `!>` line filters (test only).

use memchr::memmem;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Lit(Vec<u8>),
    /// Capture name; `_` is the unnamed capture.
    Cap(String),
}

/// A parsed pattern expression.
#[derive(Clone, Debug)]
pub struct Pattern {
    nodes: Vec<Node>,
    names: Vec<String>,
}

/// If `s` starts with `<name>` (name = `[A-Za-z_][A-Za-z0-9_]*`), returns the name.
fn capture_at(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('<')?;
    let end = inner.find('>')?;
    let name = &inner[..end];
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_') || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(name)
}

fn parse_nodes(p: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(name) = capture_at(rest) {
            nodes.push(Node::Cap(name.to_string()));
            rest = &rest[name.len() + 2..];
            continue;
        }
        let c = rest.chars().next().expect("non-empty");
        let bytes = &rest.as_bytes()[..c.len_utf8()];
        match nodes.last_mut() {
            Some(Node::Lit(l)) => l.extend_from_slice(bytes),
            _ => nodes.push(Node::Lit(bytes.to_vec())),
        }
        rest = &rest[c.len_utf8()..];
    }
    nodes
}

fn cap_str(n: &Node) -> String {
    match n {
        Node::Cap(c) => format!("<{c}>"),
        Node::Lit(l) => String::from_utf8_lossy(l).into_owned(),
    }
}

fn check_consecutive(nodes: &[Node]) -> Result<(), String> {
    for w in nodes.windows(2) {
        if matches!((&w[0], &w[1]), (Node::Cap(_), Node::Cap(_))) {
            return Err(format!(
                "found consecutive capture '{}{}': invalid expression",
                cap_str(&w[0]),
                cap_str(&w[1])
            ));
        }
    }
    Ok(())
}

impl Pattern {
    /// A pattern for the `| pattern` parser (Loki's `pattern.New`).
    pub fn new(p: &str) -> Result<Pattern, String> {
        let nodes = parse_nodes(p);
        let names: Vec<String> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Cap(c) if c != "_" => Some(c.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err("at least one capture is required".into());
        }
        check_consecutive(&nodes)?;
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(format!("duplicate capture name ({n}): invalid expression"));
            }
        }
        Ok(Pattern { nodes, names })
    }

    /// A pattern for `|>` / `!>` (Loki's `ParseLineFilter`): only `<_>` captures.
    pub fn new_line_filter(p: &str) -> Result<Pattern, String> {
        let nodes = parse_nodes(p);
        check_consecutive(&nodes)?;
        if let Some(n) = nodes.iter().find(|n| matches!(n, Node::Cap(c) if c != "_")) {
            return Err(format!("named captures are not allowed: found '{}'", cap_str(n)));
        }
        Ok(Pattern { nodes, names: Vec::new() })
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
        if let Node::Lit(l) = &nodes[0] {
            if !input.starts_with(l) {
                return;
            }
            input = &input[l.len()..];
            nodes = &nodes[1..];
        }
        while !nodes.is_empty() {
            let Node::Cap(cap) = &nodes[0] else { return };
            let named = cap != "_";
            let Some(Node::Lit(lit)) = nodes.get(1) else {
                if named {
                    out.push(input);
                }
                return;
            };
            nodes = &nodes[2..];
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
            let Node::Lit(lit) = n else { continue };
            let Some(j) = memmem::find(&line[off..], lit) else {
                return false;
            };
            if i != 0 && j == 0 {
                return false;
            }
            off += j + lit.len();
        }
        let req_rem = matches!(self.nodes.last(), Some(Node::Cap(_)));
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
}
