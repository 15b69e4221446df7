//! Crafting: from behavioural attributes (a profile, or a variant of one) back
//! to the bytes of a SYN, so that decoding the result gives the same
//! attributes. The inverse of `model::decode_frame`.
//!
//! Volatile values (addresses, ports, sequence number, IP ID, timestamps) are
//! not the profile's: the caller supplies them in [`Volatile`].

use std::net::{IpAddr, SocketAddr};

use etherparse::checksum::Sum16BitWords;
use thiserror::Error;

use crate::model::{Attributes, Value};

/// Per-connection values the caller chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volatile {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub ip_id: u16,
    pub flow_label: u32,
    pub tsval: u32,
    pub tsecr: u32,
}

/// Why a set of attributes cannot be turned into a packet. Such a variant is
/// `unresolved` in a search: never sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CraftError {
    #[error("attribute {name} has value {value}, which does not fit {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("the option layout lists {option} but attribute {name} is absent")]
    MissingOptionValue { option: String, name: &'static str },
    #[error("attribute {name} is set but the option layout ({layout}) has no {option}")]
    OptionNotInLayout {
        name: String,
        option: &'static str,
        layout: String,
    },
    #[error(
        "option layout token {0:?} is not p0f notation (mss, ws, sok, sack, ts, nop, eol+N, ?N)"
    )]
    BadLayoutToken(String),
    #[error("TCP options take {0} bytes; they must be a multiple of 4 and at most 40")]
    OptionsLength(usize),
    #[error("the source {src} and destination {dst} are not the same IP version")]
    MixedFamilies { src: IpAddr, dst: IpAddr },
    #[error("attribute {0} is required to build a SYN")]
    Missing(&'static str),
}

fn int(
    a: &Attributes,
    name: &str,
    max: u64,
    expected: &'static str,
) -> Result<Option<u64>, CraftError> {
    match a.get(name) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(CraftError::BadValue {
                name: name.into(),
                value: v.to_string(),
                expected,
            }),
        },
    }
}

fn flag(a: &Attributes, name: &str) -> Result<bool, CraftError> {
    Ok(int(a, name, 1, "a boolean")?.unwrap_or(0) == 1)
}

/// The bytes of an IP packet (IPv4 or IPv6 by the addresses) carrying the
/// TCP segment the attributes describe.
pub fn build_packet(a: &Attributes, v: &Volatile) -> Result<Vec<u8>, CraftError> {
    let options = build_options(a, v)?;
    let payload_len = int(a, "tcp.len", 1400, "a payload length up to 1400")?.unwrap_or(0) as usize;
    let tcp_len = 20 + options.len() + payload_len;
    let mut tcp = Vec::with_capacity(tcp_len);
    tcp.extend_from_slice(&v.src.port().to_be_bytes());
    tcp.extend_from_slice(&v.dst.port().to_be_bytes());
    tcp.extend_from_slice(&v.seq.to_be_bytes());
    tcp.extend_from_slice(&v.ack.to_be_bytes());
    let offset_flags = (((20 + options.len()) / 4) as u16) << 12 | tcp_flags(a)?;
    tcp.extend_from_slice(&offset_flags.to_be_bytes());
    let window = int(a, "tcp.window_size_value", 0xffff, "a 16-bit window")?
        .ok_or(CraftError::Missing("tcp.window_size_value"))?;
    tcp.extend_from_slice(&(window as u16).to_be_bytes());
    tcp.extend_from_slice(&[0, 0]); // checksum, below
    let urg = int(a, "tcp.urgent_pointer", 0xffff, "a 16-bit pointer")?.unwrap_or(0);
    tcp.extend_from_slice(&(urg as u16).to_be_bytes());
    tcp.extend_from_slice(&options);
    tcp.resize(tcp_len, 0);
    match (v.src.ip(), v.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let sum = Sum16BitWords::new()
                .add_slice(&s.octets())
                .add_slice(&d.octets())
                .add_2bytes([0, 6])
                .add_2bytes((tcp_len as u16).to_be_bytes());
            put_checksum(&mut tcp, sum);
            let mut ip = ipv4_header(a, v, tcp_len)?;
            ip.extend_from_slice(&tcp);
            Ok(ip)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let sum = Sum16BitWords::new()
                .add_slice(&s.octets())
                .add_slice(&d.octets())
                .add_slice(&(tcp_len as u32).to_be_bytes())
                .add_slice(&[0, 0, 0, 6]);
            put_checksum(&mut tcp, sum);
            let mut ip = ipv6_header(a, v, tcp_len)?;
            ip.extend_from_slice(&tcp);
            Ok(ip)
        }
        (src, dst) => Err(CraftError::MixedFamilies { src, dst }),
    }
}

fn put_checksum(tcp: &mut [u8], pseudo: Sum16BitWords) {
    let sum = pseudo.add_slice(tcp).ones_complement().to_ne_bytes();
    tcp[16..18].copy_from_slice(&sum);
}

fn tcp_flags(a: &Attributes) -> Result<u16, CraftError> {
    const BITS: [(&str, u16); 9] = [
        ("tcp.flags.fin", 0x001),
        ("tcp.flags.syn", 0x002),
        ("tcp.flags.reset", 0x004),
        ("tcp.flags.push", 0x008),
        ("tcp.flags.ack", 0x010),
        ("tcp.flags.urg", 0x020),
        ("tcp.flags.ece", 0x040),
        ("tcp.flags.cwr", 0x080),
        ("tcp.flags.ae", 0x100),
    ];
    let mut flags = 0;
    for (name, bit) in BITS {
        let default = name == "tcp.flags.syn" && !a.contains(name);
        if default || flag(a, name)? {
            flags |= bit;
        }
    }
    if flag(a, "tcp.flags.res")? {
        flags |= 0x200;
    }
    Ok(flags)
}

fn ipv4_header(a: &Attributes, v: &Volatile, tcp_len: usize) -> Result<Vec<u8>, CraftError> {
    let options = match a.get("synlab.ip.options") {
        None => Vec::new(),
        Some(Value::Str(h)) => unhex(h)
            .filter(|o| o.len() % 4 == 0 && o.len() <= 40)
            .ok_or_else(|| CraftError::BadValue {
                name: "synlab.ip.options".into(),
                value: h.clone(),
                expected: "hex, a multiple of 4 bytes, at most 40",
            })?,
        Some(other) => {
            return Err(CraftError::BadValue {
                name: "synlab.ip.options".into(),
                value: other.to_string(),
                expected: "a hex string",
            })
        }
    };
    let hdr_len = 20 + options.len();
    let dscp = int(a, "ip.dsfield.dscp", 63, "a 6-bit DSCP")?.unwrap_or(0) as u8;
    let ecn = int(a, "ip.dsfield.ecn", 3, "a 2-bit ECN")?.unwrap_or(0) as u8;
    let ttl = int(a, "ip.ttl", 255, "an 8-bit TTL")?.unwrap_or(64) as u8;
    let mut flags = 0u8;
    if flag(a, "ip.flags.rb")? {
        flags |= 0x80;
    }
    if flag(a, "ip.flags.df")? {
        flags |= 0x40;
    }
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (v.src.ip(), v.dst.ip()) else {
        return Err(CraftError::MixedFamilies {
            src: v.src.ip(),
            dst: v.dst.ip(),
        });
    };
    let mut h = Vec::with_capacity(hdr_len + tcp_len);
    h.push(0x40 | (hdr_len / 4) as u8);
    h.push(dscp << 2 | ecn);
    h.extend_from_slice(&((hdr_len + tcp_len) as u16).to_be_bytes());
    h.extend_from_slice(&v.ip_id.to_be_bytes());
    h.extend_from_slice(&[flags, 0, ttl, 6, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(&options);
    let sum = Sum16BitWords::new()
        .add_slice(&h)
        .ones_complement()
        .to_ne_bytes();
    h[10..12].copy_from_slice(&sum);
    Ok(h)
}

fn ipv6_header(a: &Attributes, v: &Volatile, tcp_len: usize) -> Result<Vec<u8>, CraftError> {
    let dscp = int(a, "ipv6.tclass.dscp", 63, "a 6-bit DSCP")?.unwrap_or(0) as u32;
    let ecn = int(a, "ipv6.tclass.ecn", 3, "a 2-bit ECN")?.unwrap_or(0) as u32;
    let hlim = int(a, "ipv6.hlim", 255, "an 8-bit hop limit")?.unwrap_or(64) as u8;
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (v.src.ip(), v.dst.ip()) else {
        return Err(CraftError::MixedFamilies {
            src: v.src.ip(),
            dst: v.dst.ip(),
        });
    };
    let word = 6 << 28 | (dscp << 2 | ecn) << 20 | (v.flow_label & 0xfffff);
    let mut h = Vec::with_capacity(40 + tcp_len);
    h.extend_from_slice(&word.to_be_bytes());
    h.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    h.extend_from_slice(&[6, hlim]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    Ok(h)
}

/// The most option bytes a TCP header holds (data offset 15 words, less the
/// 20-byte fixed header).
pub const MAX_OPTIONS_LEN: usize = 40;

/// The options area, in the order of `synlab.options.layout`.
fn build_options(a: &Attributes, v: &Volatile) -> Result<Vec<u8>, CraftError> {
    let layout = match a.get("synlab.options.layout") {
        None => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => {
            return Err(CraftError::BadValue {
                name: "synlab.options.layout".into(),
                value: other.to_string(),
                expected: "a p0f option layout string",
            })
        }
    };
    let tokens: Vec<&str> = layout.split(',').filter(|t| !t.is_empty()).collect();
    check_values_have_options(a, &tokens, &layout)?;
    let mut out = Vec::new();
    for token in &tokens {
        emit_option(a, v, token, &mut out)?;
        // Stop as soon as the area is too long, so the buffer stays small
        // whatever the layout (a million `nop`s).
        if out.len() > MAX_OPTIONS_LEN {
            return Err(CraftError::OptionsLength(out.len()));
        }
    }
    if out.len() % 4 != 0 || out.len() > MAX_OPTIONS_LEN {
        return Err(CraftError::OptionsLength(out.len()));
    }
    Ok(out)
}

/// An option value without its option in the layout cannot be built: the
/// two move together (a wscale value needs a window-scale option).
fn check_values_have_options(
    a: &Attributes,
    tokens: &[&str],
    layout: &str,
) -> Result<(), CraftError> {
    let pairs = [
        ("tcp.options.mss_val", "mss"),
        ("tcp.options.wscale.shift", "ws"),
        ("tcp.options.sack_perm", "sok"),
        ("tcp.options.timestamp.tsval", "ts"),
        ("tcp.options.timestamp.tsecr", "ts"),
    ];
    for (name, option) in pairs {
        if a.contains(name) && !tokens.contains(&option) {
            return Err(CraftError::OptionNotInLayout {
                name: name.into(),
                option,
                layout: layout.into(),
            });
        }
    }
    Ok(())
}

fn emit_option(
    a: &Attributes,
    v: &Volatile,
    token: &str,
    out: &mut Vec<u8>,
) -> Result<(), CraftError> {
    let need = |name: &'static str, max: u64, expected| {
        int(a, name, max, expected)?.ok_or(CraftError::MissingOptionValue {
            option: token.into(),
            name,
        })
    };
    match token {
        "nop" => out.push(1),
        "mss" => {
            let mss = need("tcp.options.mss_val", 0xffff, "a 16-bit MSS")?;
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&(mss as u16).to_be_bytes());
        }
        "ws" => {
            let shift = need("tcp.options.wscale.shift", 255, "an 8-bit shift")?;
            out.extend_from_slice(&[3, 3, shift as u8]);
        }
        "sok" => out.extend_from_slice(&[4, 2]),
        "sack" => out.extend_from_slice(&[5, 2]),
        "ts" => {
            let tsval = int(
                a,
                "tcp.options.timestamp.tsval",
                u32::MAX.into(),
                "a 32-bit TSval",
            )?
            .map_or(v.tsval, |n| n as u32);
            let tsecr = int(
                a,
                "tcp.options.timestamp.tsecr",
                u32::MAX.into(),
                "a 32-bit TSecr",
            )?
            .map_or(v.tsecr, |n| n as u32);
            out.extend_from_slice(&[8, 10]);
            out.extend_from_slice(&tsval.to_be_bytes());
            out.extend_from_slice(&tsecr.to_be_bytes());
        }
        t if t.starts_with("eol+") => {
            let pad: usize = t[4..]
                .parse()
                .map_err(|_| CraftError::BadLayoutToken(t.into()))?;
            // The padding is sized by the profile: refuse what cannot fit
            // before allocating (`eol+4000000000` would take 4 GB, and
            // `eol+18446744073709551615` wrap the length).
            let len = out
                .len()
                .checked_add(1)
                .and_then(|n| n.checked_add(pad))
                .filter(|&n| n <= MAX_OPTIONS_LEN)
                .ok_or(CraftError::OptionsLength(
                    out.len().saturating_add(1).saturating_add(pad),
                ))?;
            out.resize(len, 0);
        }
        t if t.starts_with('?') => {
            let kind: u8 = t[1..]
                .parse()
                .map_err(|_| CraftError::BadLayoutToken(t.into()))?;
            let name = format!("synlab.tcp.option.{kind}");
            let data = match a.get(&name) {
                None => Vec::new(),
                Some(Value::Str(h)) => unhex(h).ok_or_else(|| CraftError::BadValue {
                    name: name.clone(),
                    value: h.clone(),
                    expected: "hex",
                })?,
                Some(other) => {
                    return Err(CraftError::BadValue {
                        name,
                        value: other.to_string(),
                        expected: "a hex string",
                    })
                }
            };
            out.push(kind);
            out.push((data.len() + 2).min(255) as u8);
            out.extend_from_slice(&data);
        }
        t => return Err(CraftError::BadLayoutToken(t.into())),
    }
    Ok(())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// The behavioural SYN attributes of a Linux stack with default sysctls
/// (window scale 7, timestamps, SACK): the one example that unit tests,
/// integration tests and benchmarks craft from.
pub fn linux_example() -> Attributes {
    let mut a = Attributes::new();
    a.insert("ip.ttl", 64u8);
    a.insert("ip.flags.df", true);
    a.insert("tcp.window_size_value", 64240u16);
    a.insert("tcp.options.mss_val", 1460u16);
    a.insert("tcp.options.sack_perm", true);
    a.insert("tcp.options.wscale.shift", 7u8);
    a.insert("synlab.options.layout", "mss,sok,ts,nop,ws");
    a
}

/// Wrap an IP packet in an Ethernet II frame (for pcap files).
pub fn ethernet_frame(ip: &[u8], src_mac: [u8; 6], dst_mac: [u8; 6]) -> Vec<u8> {
    let ethertype: u16 = if ip.first().map(|b| b >> 4) == Some(6) {
        0x86dd
    } else {
        0x0800
    };
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

/// The attributes a crafted SYN actually carries: build, then decode. A
/// variant's derived attributes (quirks, p0f signature) come out right this way.
pub fn crafted_attributes(a: &Attributes, v: &Volatile) -> Result<Attributes, CraftError> {
    let bytes = build_packet(a, v)?;
    match crate::model::decode_frame(101, &bytes) {
        Ok(crate::model::Decoded::Tcp(seg)) => Ok(seg.attributes()),
        _ => Err(CraftError::Missing("a decodable packet")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(src: &str, dst: &str) -> Volatile {
        Volatile {
            src: src.parse().unwrap_or_else(|_| unreachable!()),
            dst: dst.parse().unwrap_or_else(|_| unreachable!()),
            seq: 1000,
            ack: 0,
            ip_id: 0x4242,
            flow_label: 0,
            tsval: 77,
            tsecr: 0,
        }
    }

    use super::linux_example as linux;

    #[test]
    fn linux_syn_round_trips() {
        let got = crafted_attributes(&linux(), &vol("198.18.0.2:40000", "198.18.0.130:80"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        for (k, v) in linux().iter() {
            assert_eq!(got.get(k), Some(v), "{k}");
        }
        assert_eq!(got.get("synlab.quirks"), Some(&Value::from("df,id+")));
        assert_eq!(
            got.get("tcp.options.timestamp.tsval"),
            Some(&Value::Int(77))
        );
        assert_eq!(got.get("ip.len"), Some(&Value::Int(60)));
    }

    #[test]
    fn checksums_verify() {
        let bytes = build_packet(&linux(), &vol("198.18.0.2:40000", "198.18.0.130:80"));
        let bytes = bytes.unwrap_or_else(|e| panic!("{e}"));
        let h = etherparse::Ipv4HeaderSlice::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
        let tcp =
            etherparse::TcpHeaderSlice::from_slice(&bytes[20..]).unwrap_or_else(|e| panic!("{e}"));
        let want = tcp
            .to_header()
            .calc_checksum_ipv4_raw(h.source(), h.destination(), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tcp.checksum(), want);
    }

    #[test]
    fn ipv6_round_trips() {
        let mut a = linux();
        a.remove("ip.ttl");
        a.remove("ip.flags.df");
        a.insert("ipv6.hlim", 64u8);
        let got = crafted_attributes(&a, &vol("[fd00::2]:40000", "[fd00::1]:80"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.get("ipv6.hlim"), Some(&Value::Int(64)));
        assert_eq!(
            got.get("synlab.options.layout"),
            Some(&Value::from("mss,sok,ts,nop,ws"))
        );
    }

    #[test]
    fn value_without_option_is_refused() {
        let mut a = linux();
        a.insert("synlab.options.layout", "mss,nop,nop,sok");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert!(
            matches!(err, Err(CraftError::OptionNotInLayout { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn unaligned_options_are_refused() {
        let mut a = linux();
        a.insert("synlab.options.layout", "mss,sok,ts,ws");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert_eq!(err, Err(CraftError::OptionsLength(19)));
    }
}
