//! What the client sends after the handshake, and how the response's end
//! is recognised.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The request of an exchange (`--exchange http:PATH`,
/// `http://HOST[:PORT]/PATH` or `hex:BYTES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET PATH HTTP/1.1` with `Connection: close`; the response ends at
    /// its Content-Length, or at the server's FIN when it has none. `host`
    /// is the URL's `HOST[:PORT]` when the request was given as a URL (the
    /// `Host:` header; the connection still goes to `--target`), else the
    /// server's address is.
    Http { path: String, host: Option<String> },
    /// Any bytes; the response ends at the server's FIN.
    Raw(Vec<u8>),
}

/// Why an `--exchange` value is not a request.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BadRequest {
    #[error("{0:?} is neither http:PATH, http://HOST[:PORT]/PATH nor hex:BYTES")]
    UnknownKind(String),
    #[error("the HTTP path {0:?} must start with '/' and hold no spaces or control characters")]
    BadPath(String),
    #[error("{url:?}: {reason}; the accepted forms are http:PATH and http://HOST[:PORT]/PATH")]
    BadUrl { url: String, reason: &'static str },
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
        if let Some(rest) = strip_prefix_ignore_case(s, "http://") {
            return http_url(s, rest);
        }
        if strip_prefix_ignore_case(s, "https://").is_some() {
            return Err(BadRequest::BadUrl {
                url: s.into(),
                reason: "HTTPS is not supported (the exchange speaks plain TCP)",
            });
        }
        if let Some(path) = s.strip_prefix("http:") {
            return Ok(Request::Http {
                path: checked_path(path)?,
                host: None,
            });
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

/// `s` without `prefix`, matched in any case (`HTTP://` as pasted).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// A path as the request line carries it: from '/', no spaces or control
/// characters, not absurdly long.
fn checked_path(path: &str) -> Result<String, BadRequest> {
    let ok = path.starts_with('/')
        && path.len() < 2048
        && !path.chars().any(|c| c.is_whitespace() || c.is_control());
    match ok {
        true => Ok(path.into()),
        false => Err(BadRequest::BadPath(path.into())),
    }
}

/// `http://HOST[:PORT]/PATH` (the part after `http://` is `rest`): the
/// path (`/` when there is none) and `HOST[:PORT]` for the `Host:` header.
/// Before, the URL was taken as the path `//HOST/PATH` (issue 21).
fn http_url(url: &str, rest: &str) -> Result<Request, BadRequest> {
    let bad = |reason| BadRequest::BadUrl {
        url: url.into(),
        reason,
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host_ok = |c: char| c.is_ascii_alphanumeric() || "-._:[]".contains(c);
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not supported"));
    }
    if !authority.chars().all(host_ok) {
        return Err(bad("the host holds characters a host name cannot"));
    }
    // The fragment stays with the client; a bare `?query` gets its '/'.
    let path = path.split('#').next().unwrap_or_default();
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('/') => checked_path(p)?,
        p => checked_path(&format!("/{p}"))?,
    };
    Ok(Request::Http {
        path,
        host: Some(authority.into()),
    })
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
            Request::Http { path, host: None } => write!(f, "http:{path}"),
            Request::Http {
                path,
                host: Some(host),
            } => write!(f, "http://{host}{path}"),
            Request::Raw(bytes) => {
                f.write_str("hex:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl Request {
    /// The bytes to send to `server` (the server as a `Host:` header names
    /// it, `[v6]:port` included: the header unless the URL named a host).
    pub fn bytes(&self, server: &str) -> Vec<u8> {
        match self {
            Request::Http { path, host } => format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: synlab\r\n\
                 Accept: */*\r\nConnection: close\r\n\r\n",
                host.as_deref().unwrap_or(server)
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
                path: "/big.bin".into(),
                host: None
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
        let r = Request::Http {
            path: "/x".into(),
            host: None,
        };
        let text = String::from_utf8(r.bytes("198.18.0.130")).unwrap_or_default();
        assert!(text.starts_with("GET /x HTTP/1.1\r\nHost: 198.18.0.130\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    /// Issue 21: `--exchange http://HOST/PATH`, as users paste a URL, was
    /// taken as the path `//HOST/PATH` (`GET //HOST/...`). It is a GET of
    /// PATH with `Host: HOST[:PORT]`; HTTPS and credentials are refused
    /// with the accepted forms.
    #[test]
    fn a_pasted_url_is_a_get_of_its_path_with_its_host() {
        let get = |s: &str| {
            let r: Request = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            let text = String::from_utf8(r.bytes("198.18.0.130")).unwrap_or_default();
            let head: Vec<String> = text.lines().take(2).map(str::to_owned).collect();
            (head, r.to_string())
        };
        let (head, shown) = get("http://example.com/big.bin");
        assert_eq!(head, ["GET /big.bin HTTP/1.1", "Host: example.com"]);
        assert_eq!(shown, "http://example.com/big.bin");
        let (head, _) = get("HTTP://198.18.0.130:8080/a/b?x=1#part");
        assert_eq!(head, ["GET /a/b?x=1 HTTP/1.1", "Host: 198.18.0.130:8080"]);
        assert_eq!(get("http://[2001:2::1]:80").0[0], "GET / HTTP/1.1");
        assert_eq!(get("http://h?q").0[0], "GET /?q HTTP/1.1");
        // The short form still names the server's address.
        assert_eq!(get("http:/f").0[1], "Host: 198.18.0.130");
        for bad in [
            "https://example.com/",
            "http://",
            "http:///x",
            "http://u:p@h/x",
            "http://a b/",
        ] {
            let err = bad.parse::<Request>();
            assert!(
                matches!(err, Err(BadRequest::BadUrl { .. })),
                "{bad}: {err:?}"
            );
            let text = err.map_or_else(|e| e.to_string(), |r| r.to_string());
            assert!(text.contains("http://HOST[:PORT]/PATH"), "{text}");
        }
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
