//! Go's URL percent-decoding (`url.QueryUnescape` and `url.PathUnescape`), shared by the
//! request parsing of the Kubo RPC API and by the multipart reader (file names and the
//! metadata in form-field names are URL-encoded by every IPFS client).
//!
//! Only `%XX` escapes are decoded; the result is bytes, since an escape may produce invalid
//! UTF-8 and each caller decides what that means. A `%` not followed by two hex digits is an
//! error worded as Go words it.

use super::goerror::go_quote;

/// A `%` not followed by two hex digits: Go's `invalid URL escape "%zz"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL escape {}", go_quote(.0))]
pub struct InvalidEscape(pub String);

/// Percent-decode like Go's `url.QueryUnescape` (`query == true`: `+` becomes a space) or
/// `url.PathUnescape`.
pub(crate) fn unescape(s: &str, query: bool) -> Result<Vec<u8>, InvalidEscape> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        let shown = String::from_utf8_lossy(&b[i..end]);
                        return Err(InvalidEscape(shown.into_owned()));
                    }
                }
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        assert_eq!(unescape("a%20b+c", true).unwrap(), b"a b c");
        assert_eq!(unescape("a%20b+c", false).unwrap(), b"a b+c");
        assert_eq!(unescape("%ff", false).unwrap(), [0xff]);
        assert_eq!(
            unescape("x%zz", true).unwrap_err().to_string(),
            "invalid URL escape \"%zz\""
        );
        assert_eq!(
            unescape("x%4", true).unwrap_err().to_string(),
            "invalid URL escape \"%4\""
        );
    }
}
