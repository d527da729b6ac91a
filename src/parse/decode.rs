//! Bytes as found → text: charset selection and detection.
//!
//! Government sites still serve GB2312/GBK/GB18030 as often as UTF-8, frequently without
//! saying so. [`decode`] takes the raw bytes and an optional charset label (from an HTTP
//! header or the caller) and returns the text together with the name of the encoding used,
//! so the provenance can say how the bytes were read.
//!
//! Rules, in order:
//! 1. A caller-named charset is used as given (any label [`encoding_rs::Encoding::for_label`]
//!    knows; GBK and GB2312 labels decode as GB18030, their superset). A byte-order mark of
//!    the same encoding is removed. An unknown label is [`DecodeError::UnknownCharset`].
//! 2. Otherwise the encoding is detected: a byte-order mark (UTF-8, UTF-16LE, UTF-16BE);
//!    else valid UTF-8; else a `<meta charset=…>` / `content="text/html; charset=…"`
//!    declaration in the first 4 KiB; else GB18030.
//! 3. Input that looks binary — a NUL byte in the first 8 KiB (UTF-16 excepted), or more
//!    than 10% control characters after decoding — is [`DecodeError::Binary`].
//!
//! Decoding is linear in the input and never panics.

use encoding_rs::{Encoding, GB18030, GBK, REPLACEMENT, UTF_16BE, UTF_16LE, UTF_8};

/// Text decoded from bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text, without a byte-order mark.
    pub text: String,
    /// The encoding used, by its `encoding_rs` name: `"UTF-8"`, `"gb18030"`, `"UTF-16LE"`…
    pub encoding: &'static str,
    /// Whether malformed byte sequences were replaced by U+FFFD.
    pub had_errors: bool,
}

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The caller named a charset that `encoding_rs` does not know (or cannot decode).
    #[error("unknown charset {0:?}")]
    UnknownCharset(String),
    /// The input looks like binary data (NUL bytes or many control characters), not text.
    #[error("input looks like binary data, not text")]
    Binary,
}

/// How far into the input NUL bytes are looked for.
const NUL_SCAN_BYTES: usize = 8 << 10;
/// How far into the input an HTML charset declaration is looked for.
const META_SCAN_BYTES: usize = 4 << 10;
/// Control characters allowed per 100 characters before the text counts as binary.
const MAX_CONTROL_PERCENT: usize = 10;

/// Decodes `bytes` with the named `charset`, or with a detected one when `None`.
///
/// See the [module documentation](self) for the rules. Empty input decodes to empty text.
///
/// # Errors
///
/// [`DecodeError::UnknownCharset`] when `charset` names no encoding `encoding_rs` can
/// decode; [`DecodeError::Binary`] when the bytes look like binary data.
pub fn decode(bytes: &[u8], charset: Option<&str>) -> Result<Decoded, DecodeError> {
    let encoding = match charset {
        Some(label) => named_encoding(label)?,
        None => detect(bytes),
    };
    let is_utf16 = encoding == UTF_16LE || encoding == UTF_16BE;
    if !is_utf16 && bytes[..bytes.len().min(NUL_SCAN_BYTES)].contains(&0) {
        return Err(DecodeError::Binary);
    }
    let (text, had_errors) = decode_with(encoding, bytes);
    if looks_binary(&text) {
        return Err(DecodeError::Binary);
    }
    Ok(Decoded {
        text,
        encoding: encoding.name(),
        had_errors,
    })
}

/// The encoding for a caller's label. GBK and GB2312 (which `encoding_rs` maps to GBK) are
/// read as GB18030; the "replacement" encoding (labels of unsupported, dangerous charsets
/// such as ISO-2022-KR) counts as unknown, since it would decode everything to one U+FFFD.
fn named_encoding(label: &str) -> Result<&'static Encoding, DecodeError> {
    let trimmed = label.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    match Encoding::for_label(trimmed.as_bytes()) {
        Some(enc) if enc == REPLACEMENT => Err(DecodeError::UnknownCharset(label.to_owned())),
        Some(enc) if enc == GBK => Ok(GB18030),
        Some(enc) => Ok(enc),
        None => Err(DecodeError::UnknownCharset(label.to_owned())),
    }
}

/// Detects the encoding of unlabelled bytes: BOM, valid UTF-8, HTML declaration, GB18030.
fn detect(bytes: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return enc;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    if let Some(enc) = html_declared_encoding(&bytes[..bytes.len().min(META_SCAN_BYTES)]) {
        return enc;
    }
    GB18030
}

/// Decodes with `encoding`, removing a byte-order mark of that encoding.
fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> (String, bool) {
    if encoding == UTF_8 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if let Ok(s) = std::str::from_utf8(body) {
            return (s.to_owned(), false);
        }
    }
    let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
    (text.into_owned(), had_errors)
}

/// The encoding named by an HTML charset declaration (`<meta charset="gbk">` or
/// `content="text/html; charset=gb2312"`) in `head`, when `encoding_rs` knows it.
/// UTF-16 declarations are ignored (bytes that reach this point are not UTF-16), and
/// GBK/GB2312 are read as GB18030.
fn html_declared_encoding(head: &[u8]) -> Option<&'static Encoding> {
    const KEY: &[u8] = b"charset";
    let mut i = 0;
    while i + KEY.len() <= head.len() {
        if !head[i..i + KEY.len()].eq_ignore_ascii_case(KEY) {
            i += 1;
            continue;
        }
        let mut j = i + KEY.len();
        i = j;
        while j < head.len() && head[j].is_ascii_whitespace() {
            j += 1;
        }
        if head.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < head.len() && (head[j].is_ascii_whitespace() || matches!(head[j], b'"' | b'\'')) {
            j += 1;
        }
        let start = j;
        while j < head.len()
            && (head[j].is_ascii_alphanumeric() || matches!(head[j], b'-' | b'_' | b'.' | b':'))
        {
            j += 1;
        }
        match Encoding::for_label(&head[start..j]) {
            Some(enc) if enc == GBK => return Some(GB18030),
            Some(enc) if enc == REPLACEMENT || enc == UTF_16LE || enc == UTF_16BE => {}
            Some(enc) => return Some(enc),
            None => {}
        }
    }
    None
}

/// Whether decoded text has more than [`MAX_CONTROL_PERCENT`]% control characters
/// (C0 other than tab, LF, CR and form feed; DEL; C1).
fn looks_binary(text: &str) -> bool {
    // A sample decides: binary data shows itself in its first 64 KiB.
    const SAMPLE: usize = 64 << 10;
    let mut end = text.len().min(SAMPLE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text[..end].chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c') {
            control += 1;
        }
    }
    control * 100 > total * MAX_CONTROL_PERCENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::corpus_file;

    /// Text after the first line (the corpus `# source:` line may differ between copies).
    fn after_first_line(s: &str) -> &str {
        s.split_once('\n').map_or("", |(_, rest)| rest)
    }

    #[test]
    fn gb18030_corpus_file_detected_without_hint() {
        let gbk = corpus_file("009_gbk.txt");
        let utf8 = corpus_file("009_pingtan_jingjifazhanju_2022.txt");
        let d = decode(&gbk, None).unwrap();
        assert_eq!(d.encoding, "gb18030");
        assert!(!d.had_errors);
        let expected = String::from_utf8(utf8).unwrap();
        assert_eq!(after_first_line(&d.text), after_first_line(&expected));
        assert!(d.text.contains("平潭综合实验区经济发展局"));
    }

    #[test]
    fn utf8_corpus_file_is_utf8() {
        let utf8 = corpus_file("009_pingtan_jingjifazhanju_2022.txt");
        let d = decode(&utf8, None).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        assert!(!d.had_errors);
        assert_eq!(d.text.as_bytes(), &utf8[..]);
    }

    #[test]
    fn named_gbk_and_gb2312_decode_as_gb18030() {
        let bytes = b"\xd5\xfe\xb8\xae\xd0\xc5\xcf\xa2\xb9\xab\xbf\xaa"; // 政府信息公开
        for label in ["gbk", "GB2312", " GB18030 ", "\"gbk\"", "x-gbk"] {
            let d = decode(bytes, Some(label)).unwrap();
            assert_eq!(d.text, "政府信息公开", "{label}");
            assert_eq!(d.encoding, "gb18030", "{label}");
            assert!(!d.had_errors);
        }
    }

    #[test]
    fn named_charset_wins_over_detection() {
        // Valid UTF-8 bytes read as the caller says (windows-1252 here).
        let d = decode("é".as_bytes(), Some("latin1")).unwrap();
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.text, "Ã©");
        // Named UTF-8 with a BOM: the BOM is removed.
        let d = decode(b"\xEF\xBB\xBFabc", Some("utf-8")).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("abc", "UTF-8"));
        // Named UTF-8 over GBK bytes: replacement characters, flagged.
        let d = decode(b"\xd5\xfe\xb8\xae", Some("utf8")).unwrap();
        assert!(d.had_errors);
        assert!(d.text.contains('\u{FFFD}'));
    }

    #[test]
    fn unknown_charset_is_an_error() {
        assert!(matches!(
            decode(b"abc", Some("klingon-8")),
            Err(DecodeError::UnknownCharset(l)) if l == "klingon-8"
        ));
        assert!(matches!(
            decode(b"abc", Some("iso-2022-kr")),
            Err(DecodeError::UnknownCharset(_))
        ));
        assert!(matches!(
            decode(b"abc", Some("")),
            Err(DecodeError::UnknownCharset(_))
        ));
    }

    #[test]
    fn boms_are_detected_and_removed() {
        let d = decode(b"\xEF\xBB\xBF\xe5\xb9\xb4\xe6\x8a\xa5", None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("年报", "UTF-8"));

        let mut le = vec![0xFF, 0xFE];
        le.extend("年报 ok\n".encode_utf16().flat_map(|u| u.to_le_bytes()));
        let d = decode(&le, None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("年报 ok\n", "UTF-16LE"));

        let mut be = vec![0xFE, 0xFF];
        be.extend("年报 ok".encode_utf16().flat_map(|u| u.to_be_bytes()));
        let d = decode(&be, None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("年报 ok", "UTF-16BE"));
        assert!(!d.had_errors);
    }

    #[test]
    fn html_meta_charset_is_honoured() {
        // Windows-1252 bytes that are not valid UTF-8, declared two ways.
        let page = b"<html><head><meta charset=\"windows-1252\"></head><body>caf\xe9</body></html>";
        let d = decode(page, None).unwrap();
        assert_eq!(d.encoding, "windows-1252");
        assert!(d.text.contains("café"));

        let page = b"<meta http-equiv=Content-Type content='text/html; CHARSET=iso-8859-2'>\xb1";
        let d = decode(page, None).unwrap();
        assert_eq!(d.encoding, "ISO-8859-2");
        assert!(d.text.ends_with('ą'));

        // A gb2312 declaration reads as GB18030.
        let page = b"<meta content=\"text/html; charset=gb2312\">\xc4\xea\xb1\xa8";
        let d = decode(page, None).unwrap();
        assert_eq!(d.encoding, "gb18030");
        assert!(d.text.ends_with("年报"));

        // An unknown declared charset falls back to GB18030.
        let page = b"<meta charset=bogus>\xc4\xea\xb1\xa8";
        assert_eq!(decode(page, None).unwrap().encoding, "gb18030");
    }

    #[test]
    fn valid_utf8_wins_over_a_wrong_declaration() {
        let page = "<meta charset=gbk><p>年报</p>";
        let d = decode(page.as_bytes(), None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (page, "UTF-8"));
    }

    #[test]
    fn binary_input_is_refused() {
        assert!(matches!(
            decode(b"PK\x03\x04\x00\x00abc", None),
            Err(DecodeError::Binary)
        ));
        assert!(matches!(
            decode(b"%PDF\x00", Some("utf-8")),
            Err(DecodeError::Binary)
        ));
        // No NUL, but mostly control characters.
        let junk: Vec<u8> = (0..200u32).map(|i| (i % 31 + 1) as u8).collect();
        assert!(matches!(decode(&junk, None), Err(DecodeError::Binary)));
        // A NUL after the first 8 KiB is not looked for; text with a few controls is fine.
        let mut late = vec![b'a'; NUL_SCAN_BYTES];
        late.push(0);
        assert!(decode(&late, None).is_ok());
        assert!(decode(b"a\x0cb\tc\r\nd\x07e and more text here", None).is_ok());
    }

    #[test]
    fn empty_input_is_empty_text() {
        let d = decode(b"", None).unwrap();
        assert_eq!(d.text, "");
        assert!(!d.had_errors);
        assert_eq!(d.encoding, "UTF-8");
        let d = decode(b"", Some("gbk")).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("", "gb18030"));
    }

    #[test]
    fn invalid_bytes_without_declaration_are_gb18030_with_errors_flagged() {
        // 0xFF is never valid in GB18030.
        let d = decode(b"\xc4\xea\xff", None).unwrap();
        assert_eq!(d.encoding, "gb18030");
        assert!(d.had_errors);
        assert!(d.text.starts_with('年'));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_u32;
        for len in [1usize, 2, 3, 7, 64, 1000, 5000] {
            for _ in 0..20 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        (state >> 24) as u8
                    })
                    .collect();
                let _ = decode(&bytes, None);
                let _ = decode(&bytes, Some("utf-16be"));
                let _ = decode(&bytes, Some("gbk"));
            }
        }
    }
}
