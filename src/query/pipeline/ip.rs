//! `ip("…")` matching (`pkg/logql/log/ip.go`): a single address, a CIDR prefix or an `a-b` range,
//! IPv4 or IPv6; a line or label value matches when any IP-looking substring of it parses and lies
//! inside the pattern.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An address with its family (an IPv4 address never equals an IPv4-mapped IPv6 one, as in Go's
/// `netip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Addr {
    V4(u32),
    V6(u128),
}

fn parse_addr(s: &str) -> Option<Addr> {
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(|a| Addr::V6(u128::from(a)))
    } else {
        s.parse::<Ipv4Addr>().ok().map(|a| Addr::V4(u32::from(a)))
    }
}

/// A compiled `ip("…")` pattern.
#[derive(Clone, Debug)]
pub struct IpMatcher {
    /// Inclusive range; a single address or a prefix is a range too.
    lo: Addr,
    hi: Addr,
}

impl IpMatcher {
    /// Loki's `getMatcher`: address, then prefix, then range. Error text as Loki's.
    pub fn new(pattern: &str) -> Result<IpMatcher, String> {
        let invalid = || format!("ip: invalid pattern: {}", super::conv::go_quote(pattern));
        if let Some(a) = parse_addr(pattern) {
            return Ok(IpMatcher { lo: a, hi: a });
        }
        if let Some((addr, bits)) = pattern.split_once('/') {
            let a = parse_addr(addr).ok_or_else(invalid)?;
            if bits.is_empty() || !bits.bytes().all(|c| c.is_ascii_digit()) || (bits.len() > 1 && bits.starts_with('0'))
            {
                return Err(invalid());
            }
            let bits: u32 = bits.parse().map_err(|_| invalid())?;
            return match a {
                Addr::V4(v) if bits <= 32 => {
                    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                    Ok(IpMatcher { lo: Addr::V4(v & mask), hi: Addr::V4(v | !mask) })
                }
                Addr::V6(v) if bits <= 128 => {
                    let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                    Ok(IpMatcher { lo: Addr::V6(v & mask), hi: Addr::V6(v | !mask) })
                }
                _ => Err(invalid()),
            };
        }
        if let Some((from, to)) = pattern.split_once('-') {
            let (lo, hi) = (parse_addr(from).ok_or_else(invalid)?, parse_addr(to).ok_or_else(invalid)?);
            let same_family = matches!((lo, hi), (Addr::V4(_), Addr::V4(_)) | (Addr::V6(_), Addr::V6(_)));
            if same_family && lo <= hi {
                return Ok(IpMatcher { lo, hi });
            }
        }
        Err(invalid())
    }

    fn contains(&self, a: Addr) -> bool {
        match (self.lo, a, self.hi) {
            (Addr::V4(lo), Addr::V4(v), Addr::V4(hi)) => lo <= v && v <= hi,
            (Addr::V6(lo), Addr::V6(v), Addr::V6(hi)) => lo <= v && v <= hi,
            _ => false,
        }
    }

    /// Whether `text` contains an IP inside the pattern (Loki's scanning with IPv4/IPv6 hints).
    pub fn matches(&self, line: &[u8]) -> bool {
        let n = line.len();
        let at = |i: usize| if i < n { line[i] } else { 0 };
        let mut i = 0;
        while i < n {
            let span = if i + 3 < n && ipv4_hint(line[i], line[i + 1], line[i + 2], line[i + 3]) {
                Some(span_of(&line[i..], b"0123456789."))
            } else if ipv6_hint([at(i), at(i + 1), at(i + 2), at(i + 3), at(i + 4)]) {
                Some(span_of(&line[i..], b"0123456789abcdefABCDEF:."))
            } else {
                None
            };
            if let Some(len) = span {
                let found = std::str::from_utf8(&line[i..i + len]).ok().and_then(parse_addr);
                if found.is_some_and(|a| self.contains(a)) {
                    return true;
                }
                i += len;
            }
            i += 1;
        }
        false
    }
}

fn span_of(s: &[u8], accept: &[u8]) -> usize {
    s.iter().take_while(|c| accept.contains(c)).count()
}

fn ipv4_hint(a: u8, b: u8, c: u8, d: u8) -> bool {
    a.is_ascii_digit() && (b == b'.' || c == b'.' || d == b'.')
}

fn ipv6_hint(p: [u8; 5]) -> bool {
    let h = |c: u8| c.is_ascii_hexdigit();
    (p[0] == b':' && p[1] == b':' && h(p[2]))
        || (h(p[0]) && p[1] == b':')
        || (h(p[0]) && h(p[1]) && p[2] == b':')
        || (h(p[0]) && h(p[1]) && h(p[2]) && p[3] == b':')
        || (h(p[0]) && h(p[1]) && h(p[2]) && h(p[3]) && p[4] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_scanning() {
        let m = IpMatcher::new("192.168.0.0/16").unwrap();
        assert!(m.matches(b"from 192.168.4.5 to x"));
        assert!(!m.matches(b"from 10.0.0.1 to x"));
        let r = IpMatcher::new("10.0.1.1-10.0.1.200").unwrap();
        assert!(r.matches(b"10.0.1.174 - - [02/Feb/2026"));
        assert!(!r.matches(b"10.0.1.201 - -"));
        let one = IpMatcher::new("::1").unwrap();
        assert!(one.matches(b"addr ::1 here"));
        let v6 = IpMatcher::new("2001:db8::/32").unwrap();
        assert!(v6.matches(b"x 2001:db8::68 y"));
        assert!(!v6.matches(b"192.168.1.1"));
        assert_eq!(IpMatcher::new("nope").unwrap_err(), "ip: invalid pattern: \"nope\"");
        assert!(IpMatcher::new("10.0.0.5-10.0.0.1").is_err());
        assert!(!IpMatcher::new("1.2.3.4").unwrap().matches(b""));
    }
}
