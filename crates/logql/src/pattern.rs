//! Loki's pattern expressions (`pkg/logql/log/pattern`): the one parser of them, used by LogQL
//! validation (`| pattern`, `|>`, `!>`) and by the query pipeline that runs them.

/// One piece of a pattern expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Text matched literally (adjacent literal characters merged).
    Literal(String),
    /// `<name>`; `_` is the unnamed capture.
    Capture(String),
}

impl Node {
    fn text(&self) -> String {
        match self {
            Node::Capture(c) => format!("<{c}>"),
            Node::Literal(l) => l.clone(),
        }
    }
}

/// Loki's `parseExpr`: `<name>` (name `[A-Za-z_][A-Za-z0-9_]*`) is a capture, anything else
/// literal. Empty input is the grammar's syntax error, as in Loki (its `expr` needs a node).
pub fn parse(p: &str) -> Result<Vec<Node>, String> {
    if p.is_empty() {
        return Err(
            "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL".into()
        );
    }
    let b = p.as_bytes();
    let mut out: Vec<Node> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' && b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
            let n = b[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            if b.get(i + 1 + n) == Some(&b'>') {
                out.push(Node::Capture(p[i + 1..i + 1 + n].to_string()));
                i += n + 2;
                continue;
            }
        }
        let c = p[i..].chars().next().expect("char boundary");
        match out.last_mut() {
            Some(Node::Literal(l)) => l.push(c),
            _ => out.push(Node::Literal(c.to_string())),
        }
        i += c.len_utf8();
    }
    Ok(out)
}

/// Names of the named captures, in order.
pub fn capture_names(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n {
            Node::Capture(c) if c != "_" => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn no_consecutive_captures(nodes: &[Node]) -> Result<(), String> {
    for w in nodes.windows(2) {
        if matches!(w, [Node::Capture(_), Node::Capture(_)]) {
            return Err(format!("found consecutive capture '{}{}': invalid expression", w[0].text(), w[1].text()));
        }
    }
    Ok(())
}

/// A pattern for the `| pattern` parser (Loki's `pattern.New`): at least one named capture,
/// no two captures in a row, no name twice.
pub fn parse_extraction(p: &str) -> Result<Vec<Node>, String> {
    let nodes = parse(p)?;
    let names = capture_names(&nodes);
    if names.is_empty() {
        return Err("at least one capture is required".into());
    }
    no_consecutive_captures(&nodes)?;
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(format!("duplicate capture name ({n}): invalid expression"));
        }
    }
    Ok(nodes)
}

/// A pattern for `|>` / `!>` (Loki's `ParseLineFilter`): empty is allowed (no nodes), only
/// `<_>` captures, none in a row.
pub fn parse_line_filter(p: &str) -> Result<Vec<Node>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let nodes = parse(p)?;
    no_consecutive_captures(&nodes)?;
    if let Some(n) = nodes.iter().find(|n| matches!(n, Node::Capture(c) if c != "_")) {
        return Err(format!("named captures are not allowed: found '{}'", n.text()));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_loki() {
        let lit = |s: &str| Node::Literal(s.into());
        let cap = |s: &str| Node::Capture(s.into());
        assert_eq!(parse("<a> x<_>é<1>"), Ok(vec![cap("a"), lit(" x"), cap("_"), lit("é<1>")]));
        assert_eq!(parse("<a b>"), Ok(vec![lit("<a b>")]));
        assert_eq!(parse_extraction("foo").unwrap_err(), "at least one capture is required");
        assert_eq!(parse_extraction("<_> x").unwrap_err(), "at least one capture is required");
        assert_eq!(parse_extraction("<a><b>").unwrap_err(), "found consecutive capture '<a><b>': invalid expression");
        assert_eq!(parse_extraction("<a> <a>").unwrap_err(), "duplicate capture name (a): invalid expression");
        assert_eq!(parse_line_filter("<a> x").unwrap_err(), "named captures are not allowed: found '<a>'");
        assert_eq!(parse_line_filter("<_><_>").unwrap_err(), "found consecutive capture '<_><_>': invalid expression");
    }

    /// Loki 3.7.6: `pattern.New("")` fails in the grammar (`expr` needs at least one node), while
    /// `ParseLineFilter` returns an empty matcher for empty input.
    #[test]
    fn empty_input_like_loki() {
        let syntax = "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL";
        assert_eq!(parse("").unwrap_err(), syntax);
        assert_eq!(parse_extraction("").unwrap_err(), syntax);
        assert_eq!(parse_line_filter(""), Ok(Vec::new()));
    }
}
