//! Go's `encoding/hex` as Pinfold uses it: the cluster secret in `service.json`, the plugin
//! token keys and ids, salted digests. Encoding is lower case (as Go's); decoding takes
//! either case and refuses an odd length or a non-hex character with Go's messages
//! (`hex.DecodeString`; `pinfold-ctl --secret` prints them as Go does).

/// Go's `hex.EncodeToString`: two lower-case digits per byte.
pub(crate) fn encode(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for byte in b {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 0xf) as usize] as char);
    }
    out
}

/// Why a hex string was refused, with Go's messages (`encoding/hex`'s `ErrLength` and
/// `InvalidByteError`). The secret's callers word their own, which never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HexError {
    #[error("encoding/hex: odd length hex string")]
    OddLength,
    #[error("encoding/hex: invalid byte: {}", go_sharp_u(*.0))]
    InvalidByte(u8),
}

/// Go's `%#U` of a byte as a rune: `U+007A 'z'`, without the quoted form when Go's
/// `strconv.IsPrint` says the rune is not printable.
fn go_sharp_u(b: u8) -> String {
    let printable = matches!(b, 0x20..=0x7e | 0xa1..=0xff) && b != 0xad;
    if printable {
        format!("U+{:04X} '{}'", b, b as char)
    } else {
        format!("U+{:04X}", b)
    }
}

/// Go's `hex.DecodeString`: either case; an invalid byte is reported before an odd length,
/// as Go does.
pub(crate) fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::InvalidByte(c)),
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks(2) {
        if let [odd] = pair {
            nibble(*odd)?;
            return Err(HexError::OddLength);
        }
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        assert_eq!(encode(&[0x00, 0xab, 0x7f, 0xff]), "00ab7fff");
        assert_eq!(encode(&[]), "");
        assert_eq!(decode("00ab7fff"), Ok(vec![0x00, 0xab, 0x7f, 0xff]));
        assert_eq!(decode("0aFF"), Ok(vec![10, 255]));
        assert_eq!(decode(""), Ok(vec![]));
        for bad in ["a", "abc", "zz", "0g", "+1", " 1"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            decode("abc").unwrap_err().to_string(),
            "encoding/hex: odd length hex string"
        );
        assert_eq!(
            decode("zz").unwrap_err().to_string(),
            "encoding/hex: invalid byte: U+007A 'z'"
        );
        assert_eq!(decode("abz").unwrap_err(), HexError::InvalidByte(b'z'));
        assert_eq!(
            decode("\\0").unwrap_err().to_string(),
            "encoding/hex: invalid byte: U+005C '\\'"
        );
        assert_eq!(
            decode("0\n").unwrap_err().to_string(),
            "encoding/hex: invalid byte: U+000A"
        );
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)), Ok(all));
    }
}
