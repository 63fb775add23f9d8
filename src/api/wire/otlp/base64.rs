//! Standard base64 (RFC 4648 §4, padded), as Go's `base64.StdEncoding`: OTLP renders
//! bytes values with it and OTLP JSON carries `bytesValue` in it.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encode_into(out: &mut String, data: &[u8]) {
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes padded or unpadded standard base64; `None` on any other character.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        for data in [&b""[..], b"h", b"hi", b"hi!", b"\xff\x00\x10hello"] {
            let mut s = String::new();
            super::encode_into(&mut s, data);
            assert_eq!(super::decode(&s).as_deref(), Some(data));
        }
        let mut s = String::new();
        super::encode_into(&mut s, b"hi");
        assert_eq!(s, "aGk=");
        assert_eq!(super::decode("a*k="), None);
    }
}
