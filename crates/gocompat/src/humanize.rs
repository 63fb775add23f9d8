//! go-humanize byte sizes: `ParseBytes` (with its error texts) and `Bytes`.

use super::strconv::parse_float;

/// go-humanize `ParseBytes`: `"5 MiB"`, `"3k"`, `"1,000"`, `"10m"` (= 10 MB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let last = s.bytes().take_while(|c| c.is_ascii_digit() || *c == b'.' || *c == b',').count();
    let num: String = s[..last].chars().filter(|&c| c != ',').collect();
    let f = parse_float(&num)?;
    let extra = s[last..].trim().to_lowercase();
    let m: u64 = match extra.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1_000_000_000_000_000,
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1_000_000_000_000_000_000,
        "ei" | "eib" => 1 << 60,
        _ => return Err(format!("unhandled size name: {extra}")),
    };
    let v = f * m as f64;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(v as u64)
}

/// go-humanize `Bytes` (SI units: `20 kB`, `1.5 kB`, `5 B`).
pub fn bytes(v: u64) -> String {
    if v < 10 {
        return format!("{v} B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((v as f64).ln() / 1000f64.ln()).floor();
    let val = ((v as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let suffix = SIZES[e as usize];
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_humanize() {
        assert_eq!(parse_bytes("20KB").ok(), Some(20_000));
        assert_eq!(parse_bytes("1.5KiB").ok(), Some(1536));
        assert_eq!(parse_bytes("1M").ok(), Some(1_000_000));
        assert_eq!(parse_bytes("1K5").ok(), None);
        assert_eq!(parse_bytes("5 MiB"), Ok(5 << 20));
        assert_eq!(parse_bytes("3k"), Ok(3000));
        assert_eq!(parse_bytes("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_bytes("10m"), Ok(10_000_000));
        assert_eq!(parse_bytes("1,000"), Ok(1000));
        assert_eq!(parse_bytes("0B"), Ok(0));
        assert_eq!(parse_bytes("2 zz"), Err("unhandled size name: zz".into()));
        assert_eq!(parse_bytes("x"), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
    }

    #[test]
    fn bytes_like_humanize() {
        assert_eq!(bytes(1 << 24), "17 MB");
        assert_eq!(bytes(1500), "1.5 kB");
        assert_eq!(bytes(5), "5 B");
        assert_eq!(bytes(3_100_000), "3.1 MB");
        assert_eq!(bytes(512), "512 B");
    }
}
