//! What the client sends after the handshake, and how the response's end
//! is recognised.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The request of an exchange (`--exchange http:PATH` or `hex:BYTES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET PATH HTTP/1.1` with `Connection: close`; the response ends at
    /// its Content-Length, or at the server's FIN when it has none.
    Http { path: String },
    /// Any bytes; the response ends at the server's FIN.
    Raw(Vec<u8>),
}

/// Why an `--exchange` value is not a request.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BadRequest {
    #[error("{0:?} is neither http:PATH nor hex:BYTES")]
    UnknownKind(String),
    #[error("the HTTP path {0:?} must start with '/' and hold no spaces or control characters")]
    BadPath(String),
    #[error("{text:?} is not hex: {reason}")]
    BadHex { text: String, reason: &'static str },
    #[error("the request is empty")]
    Empty,
}

/// The longest request: it must fit the server's first window.
pub const MAX_REQUEST: usize = 16 * 1024;

impl FromStr for Request {
    type Err = BadRequest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("http:") {
            let ok = path.starts_with('/')
                && path.len() < 2048
                && !path.chars().any(|c| c.is_whitespace() || c.is_control());
            return match ok {
                true => Ok(Request::Http { path: path.into() }),
                false => Err(BadRequest::BadPath(path.into())),
            };
        }
        if let Some(hex) = s.strip_prefix("hex:") {
            let bytes = unhex(hex).map_err(|reason| BadRequest::BadHex {
                text: hex.into(),
                reason,
            })?;
            if bytes.is_empty() {
                return Err(BadRequest::Empty);
            }
            if bytes.len() > MAX_REQUEST {
                return Err(BadRequest::BadHex {
                    text: format!("{}…", hex.get(..16).unwrap_or(hex)),
                    reason: "longer than 16 KiB",
                });
            }
            return Ok(Request::Raw(bytes));
        }
        Err(BadRequest::UnknownKind(s.into()))
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, &'static str> {
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return Err("an odd number of digits");
    }
    s.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).map_err(|_| "not a hex digit")?;
            u8::from_str_radix(text, 16).map_err(|_| "not a hex digit")
        })
        .collect()
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Http { path } => write!(f, "http:{path}"),
            Request::Raw(bytes) => {
                f.write_str("hex:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl Request {
    /// The bytes to send to `host` (the server's address, for `Host:`).
    pub fn bytes(&self, host: &str) -> Vec<u8> {
        match self {
            Request::Http { path } => format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synlab\r\n\
                 Accept: */*\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
            Request::Raw(bytes) => bytes.clone(),
        }
    }

    pub fn is_http(&self) -> bool {
        matches!(self, Request::Http { .. })
    }
}

/// An HTTP response head, once it arrived whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: Option<u16>,
    /// Length of the head, up to and including the blank line.
    pub head_len: u64,
    pub content_length: Option<u64>,
}

/// The head of an HTTP response from the first bytes of the stream; None
/// while the blank line that ends it has not arrived.
pub(crate) fn response_head(stream: &[u8]) -> Option<ResponseHead> {
    let end = stream.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&stream[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|code| code.parse().ok());
    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok());
    Some(ResponseHead {
        status,
        head_len: end as u64,
        content_length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_and_hex_requests() {
        assert_eq!(
            "http:/big.bin".parse(),
            Ok(Request::Http {
                path: "/big.bin".into()
            })
        );
        assert_eq!("hex:0a0B".parse(), Ok(Request::Raw(vec![0x0a, 0x0b])));
        assert!(matches!(
            "http:big".parse::<Request>(),
            Err(BadRequest::BadPath(_))
        ));
        assert!(matches!(
            "http:/a b".parse::<Request>(),
            Err(BadRequest::BadPath(_))
        ));
        assert!(matches!(
            "hex:abc".parse::<Request>(),
            Err(BadRequest::BadHex { .. })
        ));
        assert!(matches!(
            "hex:zz".parse::<Request>(),
            Err(BadRequest::BadHex { .. })
        ));
        assert_eq!("hex:".parse::<Request>(), Err(BadRequest::Empty));
        assert!(matches!(
            "ftp:/x".parse::<Request>(),
            Err(BadRequest::UnknownKind(_))
        ));
        assert_eq!(
            "hex:00ff".parse::<Request>().map(|r| r.to_string()),
            Ok("hex:00ff".into())
        );
    }

    #[test]
    fn http_request_names_the_host_and_closes() {
        let r = Request::Http { path: "/x".into() };
        let text = String::from_utf8(r.bytes("198.18.0.130")).unwrap_or_default();
        assert!(text.starts_with("GET /x HTTP/1.1\r\nHost: 198.18.0.130\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn response_head_gives_status_and_length() {
        assert_eq!(response_head(b"HTTP/1.0 200 OK\r\nContent-Len"), None);
        let h = response_head(b"HTTP/1.0 200 OK\r\ncontent-length: 42\r\n\r\nbody");
        assert_eq!(
            h,
            Some(ResponseHead {
                status: Some(200),
                head_len: 39,
                content_length: Some(42)
            })
        );
        let h = response_head(b"garbage\r\n\r\n");
        assert_eq!(h.map(|h| (h.status, h.content_length)), Some((None, None)));
    }
}
