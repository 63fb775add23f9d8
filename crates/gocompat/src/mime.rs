//! Go `mime.ParseMediaType` with its error texts (`mime: no media type`), as Loki's push
//! handler applies it to `Content-Type`.

/// Go's `mime.ParseMediaType`, returning the lower-cased media type (parameters are
/// checked for syntax, then ignored).
pub fn parse_media_type(v: &str) -> Result<String, String> {
    let base = v.split(';').next().unwrap_or("");
    let media = base.trim().to_ascii_lowercase();
    let (typ, rest) = consume_token(&media);
    if typ.is_empty() {
        return Err("mime: no media type".into());
    }
    if !rest.is_empty() {
        let Some(sub) = rest.strip_prefix('/') else {
            return Err("mime: expected slash after first token".into());
        };
        let (subtype, rest) = consume_token(sub);
        if subtype.is_empty() {
            return Err("mime: expected token after slash".into());
        }
        if !rest.is_empty() {
            return Err("mime: unexpected content after media subtype".into());
        }
    }
    // Parameters: `; name=value` or `; name="quoted"`; a lone trailing `;` is allowed.
    let mut params = &v[base.len()..];
    let mut seen: Vec<String> = Vec::new();
    loop {
        params = params.trim_start();
        if params.is_empty() {
            break;
        }
        match consume_param(params) {
            Some((name, rest)) => {
                if seen.contains(&name) {
                    return Err("mime: duplicate parameter name".into());
                }
                seen.push(name);
                params = rest;
            }
            None if params.trim() == ";" => break,
            None => return Err("mime: invalid media parameter".into()),
        }
    }
    Ok(media)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && c > ' ' && c != '\x7f' && !"()<>@,;:\\\"/[]?=".contains(c)
}

fn consume_token(s: &str) -> (&str, &str) {
    let end = s.find(|c| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

fn consume_param(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix(';')?.trim_start();
    let (name, rest) = consume_token(rest);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let after = if let Some(q) = rest.strip_prefix('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in q.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        &q[end?..]
    } else {
        let (value, after) = consume_token(rest);
        if value.is_empty() {
            return None;
        }
        after
    };
    Some((name.to_ascii_lowercase(), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_like_go() {
        assert_eq!(parse_media_type("Application/JSON ; charset=\"utf-8\"").unwrap(), "application/json");
        assert_eq!(parse_media_type("application/json;").unwrap(), "application/json");
        assert_eq!(parse_media_type("text").unwrap(), "text");
        assert_eq!(parse_media_type("application/").unwrap_err(), "mime: expected token after slash");
        assert_eq!(parse_media_type("a b").unwrap_err(), "mime: expected slash after first token");
        assert_eq!(parse_media_type("a/b c").unwrap_err(), "mime: unexpected content after media subtype");
        assert_eq!(parse_media_type("a/b; charset").unwrap_err(), "mime: invalid media parameter");
        assert_eq!(parse_media_type("a/b; x=1; X=2").unwrap_err(), "mime: duplicate parameter name");
    }
}
