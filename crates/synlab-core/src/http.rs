//! HTTP/1 message heads at the start of a flow's byte stream: the request
//! line and the status line with the few headers that tell a hang and its
//! retry (`Content-Length`, `Range`, `Content-Range`).
//!
//! Sans-I/O and bounded: [`HeadReader`] keeps at most [`MAX_HEAD`] bytes of
//! one direction's first bytes and parses them once the blank line that ends
//! the head has arrived; anything that is not HTTP/1 is given up on at once.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Serialize;

/// The most bytes of a head that are kept; a longer head is not parsed.
pub const MAX_HEAD: usize = 4096;

/// Header values and request targets are cut to this many characters.
const MAX_TEXT: usize = 256;

/// A client's request line and its `Range:` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// The `Range:` header as sent, e.g. `bytes=123952-`.
    pub range: Option<String>,
}

/// A server's status line and the headers that say how long its body is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Response {
    pub status: u16,
    pub content_length: Option<u64>,
    /// The `Content-Range:` header of a `206`, e.g. `bytes 123952-262143/262144`.
    pub content_range: Option<String>,
    /// Bytes of the head, blank line included: the body starts here.
    pub head_len: u64,
}

/// Either head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    Request(Request),
    Response(Response),
}

/// Collects the first bytes of one direction until its head is complete.
#[derive(Clone, Debug, Default)]
pub struct HeadReader {
    buf: Vec<u8>,
    /// Parsed, or given up on: later bytes are not kept.
    done: bool,
}

impl HeadReader {
    /// Append the next in-order bytes of the stream. Returns the head once
    /// it is complete; `None` while more is needed, or after giving up
    /// (not HTTP/1, longer than [`MAX_HEAD`], or already parsed).
    pub fn push(&mut self, bytes: &[u8]) -> Option<Head> {
        if self.done {
            return None;
        }
        if self.buf.is_empty() {
            // The common case: the whole head in the first segment, read
            // where it lies instead of copied.
            let first = &bytes[..bytes.len().min(MAX_HEAD)];
            if !looks_like_http(first) {
                self.give_up();
                return None;
            }
            if let Some(end) = find_blank_line(first) {
                self.give_up();
                return parse_head(&first[..end + 4]);
            }
        }
        let room = MAX_HEAD - self.buf.len();
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if !looks_like_http(&self.buf) {
            self.give_up();
            return None;
        }
        let Some(end) = find_blank_line(&self.buf) else {
            if self.buf.len() == MAX_HEAD {
                self.give_up();
            }
            return None;
        };
        let head = parse_head(&self.buf[..end + 4]);
        self.give_up();
        head
    }

    /// Still collecting: neither parsed nor given up on.
    pub fn reading(&self) -> bool {
        !self.done
    }

    /// Stop collecting (a gap in the stream, or the head is done).
    pub fn give_up(&mut self) {
        self.done = true;
        self.buf = Vec::new();
    }
}

/// The length of the HTTP/1 head `payload` starts with, its blank line
/// included, when the whole head is there: what a capture cut by a
/// snapshot length must keep of the packet for the head (status,
/// `Content-Length`) to be read back from the file.
pub fn head_len(payload: &[u8]) -> Option<usize> {
    let first = &payload[..payload.len().min(MAX_HEAD)];
    if first.is_empty() || !looks_like_http(first) {
        return None;
    }
    find_blank_line(first).map(|end| end + 4)
}

/// The first bytes could still be an HTTP/1 request or status line.
fn looks_like_http(buf: &[u8]) -> bool {
    const STARTS: [&[u8]; 9] = [
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"HTTP/1.",
    ];
    STARTS.iter().any(|s| {
        let n = s.len().min(buf.len());
        buf[..n] == s[..n]
    })
}

/// Where a head's blank line starts (SIMD search: the first segment of a
/// response may carry a few KiB before it). The searcher is built once.
fn find_blank_line(hay: &[u8]) -> Option<usize> {
    static BLANK_LINE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\r\n\r\n"));
    BLANK_LINE.find(hay)
}

/// Where the first CR LF starts.
fn find_crlf(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'\r', &hay[from..]) {
        let at = from + i;
        if hay.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The lines of a head after its first: each up to the next CRLF, ending
/// at the first empty line (or the end of the bytes).
///
/// One scan for line feeds over the whole head (a CR before one ends the
/// line), not a search started again at each line (issue 25: the restarts
/// cost more than the bytes).
fn header_lines(rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut feeds = memchr::memchr_iter(b'\n', rest);
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let end = loop {
            match feeds.next() {
                Some(lf) if lf > start && rest[lf - 1] == b'\r' => break Some(lf - 1),
                Some(_) => continue,
                None => break None,
            }
        };
        let line = match end {
            Some(cr) => &rest[start..cr],
            None => {
                done = true;
                &rest[start..]
            }
        };
        if line.is_empty() {
            done = true;
            return None;
        }
        start = end.map_or(rest.len(), |cr| cr + 2);
        Some(line)
    })
}

/// The values of the first header named (ASCII case ignored) by each of
/// `names`, untrimmed; a line without a colon is no header.
fn find_headers<'h, const N: usize>(lines: &'h [u8], names: [&str; N]) -> [Option<&'h [u8]>; N] {
    let mut found = [None; N];
    for line in header_lines(lines) {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let key = &line[..colon];
        for (name, slot) in names.iter().zip(found.iter_mut()) {
            if slot.is_none() && key_is(key, name) {
                *slot = Some(&line[colon + 1..]);
            }
        }
    }
    found
}

/// Whether a header line's `key` (the bytes before its colon) names
/// `name` (ASCII, lower case), trimmed as `str::trim` trims its lossy
/// text (Unicode white space) and with ASCII case ignored. An ASCII key,
/// the common case, is compared as bytes without making text (issue 25:
/// the lossy copy of every key was a quarter of reading a head).
fn key_is(key: &[u8], name: &str) -> bool {
    // Trimming only shortens, and no byte beyond ASCII (nor U+FFFD from
    // one) equals a name's: a key no longer than the name matches only as
    // it is. Most header lines end here.
    if key.len() <= name.len() {
        return key.eq_ignore_ascii_case(name.as_bytes());
    }
    if !key.is_ascii() {
        let text = String::from_utf8_lossy(key);
        return text.trim().eq_ignore_ascii_case(name);
    }
    // The ASCII characters `char::is_whitespace` holds for (U+0009 to
    // U+000D and the space; `u8::is_ascii_whitespace` lacks U+000B).
    let white = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
    let start = key.iter().position(|b| !white(b)).unwrap_or(key.len());
    let end = key.iter().rposition(|b| !white(b)).map_or(start, |i| i + 1);
    key[start..end].eq_ignore_ascii_case(name.as_bytes())
}

/// Parse a complete head (up to and including its blank line).
///
/// Read as bytes where it lies: splitting at CR LF, colons and spaces
/// finds the same pieces in the bytes as in their lossy UTF-8 text (those
/// are ASCII, never part of a replaced sequence), so only the pieces kept
/// are turned into text (issue 13: this ran for every flow's first
/// segments, over a lossy copy of the whole head).
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let (first, rest) = match find_crlf(head) {
        Some(i) => (&head[..i], &head[i + 2..]),
        None => (head, &b""[..]),
    };
    let mut parts = first.splitn(3, |&b| b == b' ');
    let (a, b) = (parts.next()?, parts.next()?);
    if a.starts_with(b"HTTP/1.") {
        let status = std::str::from_utf8(b).ok()?.parse().ok()?;
        let [length, range] = find_headers(rest, ["content-length", "content-range"]);
        return Some(Head::Response(Response {
            status,
            content_length: length.and_then(|v| value(v).parse().ok()),
            content_range: range.map(|v| value(v).into_owned()),
            head_len: head.len() as u64,
        }));
    }
    if !parts.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    let [range] = find_headers(rest, ["range"]);
    Some(Head::Request(Request {
        method: cut(&String::from_utf8_lossy(a)).to_owned(),
        target: cut(&String::from_utf8_lossy(b)).to_owned(),
        range: range.map(|v| value(v).into_owned()),
    }))
}

/// A header value as text: trimmed, then cut to [`MAX_TEXT`] characters.
fn value(raw: &[u8]) -> Cow<'_, str> {
    match String::from_utf8_lossy(raw) {
        Cow::Borrowed(text) => Cow::Borrowed(cut(text.trim())),
        Cow::Owned(text) => Cow::Owned(cut(text.trim()).to_owned()),
    }
}

/// The first [`MAX_TEXT`] characters.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s; // no more bytes, so no more characters
    }
    match s.char_indices().nth(MAX_TEXT) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_request_in_two_pieces() {
        let mut r = HeadReader::default();
        assert_eq!(r.push(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nran"), None);
        let head = r.push(b"ge: bytes=123952-\r\n\r\n");
        assert_eq!(
            head,
            Some(Head::Request(Request {
                method: "GET".into(),
                target: "/big.bin".into(),
                range: Some("bytes=123952-".into()),
            }))
        );
        assert_eq!(
            r.push(b"GET / HTTP/1.1\r\n\r\n"),
            None,
            "one head per reader"
        );
    }

    #[test]
    fn a_partial_content_response() {
        let raw = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\
                    Content-Range: bytes 5-14/15\r\n\r\nbody";
        let mut r = HeadReader::default();
        let Some(Head::Response(resp)) = r.push(raw) else {
            panic!("no response parsed");
        };
        assert_eq!(resp.status, 206);
        assert_eq!(resp.content_length, Some(10));
        assert_eq!(resp.content_range.as_deref(), Some("bytes 5-14/15"));
        assert_eq!(resp.head_len, raw.len() as u64 - 4);
    }

    /// The parser before issue 13 (a lossy copy of the whole head, split
    /// as text): the byte parser must answer exactly as it did.
    fn parse_head_as_text(head: &[u8]) -> Option<Head> {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let first = lines.next()?;
        let headers: Vec<(&str, &str)> = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.chars().take(MAX_TEXT).collect::<String>())
        };
        let mut parts = first.splitn(3, ' ');
        let (a, b) = (parts.next()?, parts.next()?);
        if a.starts_with("HTTP/1.") {
            return Some(Head::Response(Response {
                status: b.parse().ok()?,
                content_length: header("content-length").and_then(|v| v.parse().ok()),
                content_range: header("content-range"),
                head_len: head.len() as u64,
            }));
        }
        parts.next()?.starts_with("HTTP/1.").then(|| {
            Head::Request(Request {
                method: a.chars().take(MAX_TEXT).collect(),
                target: b.chars().take(MAX_TEXT).collect(),
                range: header("range"),
            })
        })
    }

    /// Pieces heads are made of, odd ones included: non-ASCII white space
    /// around names, invalid UTF-8, signs and leading zeros in numbers.
    const PIECES: [&[u8]; 24] = [
        b"GET",
        b"HTTP/1.1",
        b"HTTP/1.",
        b"HTTP/2",
        b" ",
        b"\r\n",
        b"\r\n\r\n",
        b"\r",
        b"\n",
        b":",
        b"Range",
        b"rAnGe",
        b"Content-Length",
        b"content-range",
        b"206",
        b"+12",
        b"00000000000000000000000000000007",
        b"bytes 5-14/15",
        b"\t",
        "\u{a0}".as_bytes(),
        "\u{3000}".as_bytes(),
        b"\xff\xfe",
        b"\xe2\x82",
        "\u{e9}".as_bytes(),
    ];

    const STARTS: [&[u8]; 3] = [b"", b"GET / HTTP/1.1\r\n", b"HTTP/1.1 206 OK\r\n"];

    proptest::proptest! {
        #[test]
        fn bytes_parse_as_the_text_parser_did(
            start in proptest::sample::select(&STARTS[..]),
            pieces in proptest::collection::vec(proptest::sample::select(&PIECES[..]), 0..40),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
        ) {
            let mut head = start.to_vec();
            head.extend(pieces.concat());
            head.extend_from_slice(&noise);
            proptest::prop_assert_eq!(parse_head(&head), parse_head_as_text(&head));
        }
    }

    /// The byte comparison of header names answers as trimming the lossy
    /// text did, for every ASCII white space and for keys that are not ASCII.
    #[test]
    fn header_names_compare_as_trimmed_text() {
        let pads: Vec<Vec<u8>> = (0u8..=0x20)
            .map(|b| vec![b])
            .chain([vec![0xc2, 0xa0], vec![0xe3, 0x80, 0x80], vec![0xff], vec![]])
            .collect();
        for name in ["range", "content-length"] {
            for key in [name.to_owned(), name.to_uppercase(), format!("{name}x")] {
                for before in &pads {
                    for after in &pads {
                        let raw = [&before[..], key.as_bytes(), &after[..]].concat();
                        let text = String::from_utf8_lossy(&raw);
                        let want = text.trim().eq_ignore_ascii_case(name);
                        assert_eq!(key_is(&raw, name), want, "{raw:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_values_are_cut_before_they_are_read() {
        let zeros = "0".repeat(300);
        for head in [
            format!("HTTP/1.1 200 OK\r\nContent-Length: {zeros}5\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length: 9\r\n\r\n".to_string(),
            format!(
                "GET /{} HTTP/1.1\r\n\u{a0}Range\u{a0}: \u{3000}x\r\n\r\n",
                "é".repeat(300)
            ),
        ] {
            assert_eq!(
                parse_head(head.as_bytes()),
                parse_head_as_text(head.as_bytes()),
                "{head}"
            );
        }
        let Some(Head::Response(r)) =
            parse_head(format!("HTTP/1.1 200 OK\r\nContent-Length: {zeros}5\r\n\r\n").as_bytes())
        else {
            panic!("no response");
        };
        assert_eq!(
            r.content_length,
            Some(0),
            "cut to {MAX_TEXT} characters, then read"
        );
    }

    #[test]
    fn not_http_or_too_long_is_given_up() {
        let mut r = HeadReader::default();
        assert_eq!(r.push(b"\x16\x03\x01 tls"), None);
        assert_eq!(r.push(b"GET / HTTP/1.1\r\n\r\n"), None);
        let mut r = HeadReader::default();
        let long = [b'a'; MAX_HEAD];
        assert_eq!(r.push(b"GET /"), None);
        assert_eq!(r.push(&long), None);
        assert_eq!(r.push(b"\r\n\r\n"), None);
        assert_eq!(parse_head(b"GET /\r\n\r\n"), None, "no version");
        assert_eq!(parse_head(b"HTTP/1.1 abc\r\n\r\n"), None, "no status");
    }
}
