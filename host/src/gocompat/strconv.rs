//! Go's `strconv` as users type it: `strconv.ParseBool` (REST query flags, `pinfold-ctl`'s
//! boolean flags, and under go-ipfs-cmds' converter the Kubo RPC options) and
//! `strconv.ParseInt`/`ParseUint` with base 0 (decimal, `0x`, `0o` or a leading `0`, `0b`
//! prefixes; `_` separators only where Go allows them), which Kubo's integer options and
//! `pinfold-ctl`'s integer flags use. Failures are `None`: every caller words its own error
//! (Kubo's `could not convert value`, urfave's `parse error`), as Go's callers do.

/// Go's `strconv.ParseBool`: exactly `1 t T TRUE true True` and `0 f F FALSE false False`.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let b = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    // saw: b'^' start, b'0' digit or prefix, b'_' underscore, b'!' other
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        let lc = c.to_ascii_lowercase();
        if c.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&lc)) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, bits)`.
pub fn parse_uint(s: &str, bits: u32) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits): (u64, &[u8]) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &b[2..]),
            Some(b'o') if b.len() >= 3 => (8, &b[2..]),
            Some(b'x') if b.len() >= 3 => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let max: u64 = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            c if c.is_ascii_alphabetic() => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(d)?;
        if n > max {
            return None;
        }
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, bits)`.
pub fn parse_int(s: &str, bits: u32) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    // ParseInt hands the unsigned part to ParseUint, but checks underscores on the whole.
    let un = parse_uint(rest, 64)?;
    if rest.contains('_') && !underscore_ok(s) {
        return None;
    }
    let cutoff: u64 = 1u64 << (bits.clamp(1, 64) - 1);
    if !neg && un >= cutoff {
        return None;
    }
    if neg && un > cutoff {
        return None;
    }
    if neg {
        Some((un as i64).wrapping_neg())
    } else {
        Some(un as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "TrUe", "on", " 1", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_int("010", 32), Some(8)); // leading zero is octal in Go base 0
        assert_eq!(parse_int("0b101", 32), Some(5));
        assert_eq!(parse_int("0o17", 32), Some(15));
        assert_eq!(parse_int("-2147483648", 32), Some(-2147483648));
        assert_eq!(parse_int("2147483648", 32), None);
        assert_eq!(parse_int("+7", 32), Some(7));
        assert_eq!(parse_int("9223372036854775807", 64), Some(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808", 64), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808", 64), None);
        for bad in [
            "", "-", "08", "0x", "1__0", "_1", "1_", "0x_", "1e3", " 1", "0b2", "1.5", "0x+1",
        ] {
            assert_eq!(parse_int(bad, 64), None, "{bad:?}");
        }
        assert_eq!(parse_int("0x_1f", 64), Some(31));
        assert_eq!(parse_int("0_1", 64), Some(1));
        assert_eq!(parse_int("0x1_0", 64), Some(16));
        assert_eq!(parse_int("1_000", 64), Some(1000));
        assert_eq!(parse_int("-1", 64), Some(-1));
        assert_eq!(parse_int("0", 64), Some(0));
        assert_eq!(parse_uint("+1", 64), None);
        assert_eq!(parse_uint("4294967295", 32), Some(u32::MAX as u64));
        assert_eq!(parse_uint("4294967296", 32), None);
        assert_eq!(parse_uint("18446744073709551615", 64), Some(u64::MAX));
        assert_eq!(parse_uint("18446744073709551616", 64), None);
    }
}
