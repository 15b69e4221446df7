//! Crafting: from behavioural attributes (a profile, or a variant of one) back
//! to the bytes of a SYN, so that decoding the result gives the same
//! attributes. The inverse of `model::decode_frame`: the layout and the
//! options come from the same types the decoder fills ([`Layout`],
//! [`TcpOption::emit`]), the flag bits from [`TcpFlags::FIELDS`].
//!
//! Volatile values (addresses, ports, sequence number, IP ID, timestamps) are
//! not the profile's: the caller supplies them in [`Volatile`]. Those a
//! sender chooses may also be given as attributes (`--set ip.id=0`): then
//! the packet carries the attribute's value, not the caller's.

use std::net::{IpAddr, SocketAddr};

use etherparse::checksum::Sum16BitWords;
use thiserror::Error;

use super::{
    Attr, Attributes, BadLayoutToken, Field, Layout, LayoutToken, TcpFlags, TcpOption, Value,
    ValueType,
};

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
        name: Attr,
        value: String,
        expected: String,
    },
    #[error("the option layout lists {option} but attribute {name} is absent")]
    MissingOptionValue { option: LayoutToken, name: Field },
    #[error("attribute {name} is set but the option layout ({layout}) has no {option}")]
    OptionNotInLayout {
        name: Attr,
        option: LayoutToken,
        layout: String,
    },
    #[error(transparent)]
    BadLayoutToken(#[from] BadLayoutToken),
    #[error("TCP options take {0} bytes; they must be a multiple of 4 and at most 40")]
    OptionsLength(usize),
    #[error("the source {src} and destination {dst} are not the same IP version")]
    MixedFamilies { src: IpAddr, dst: IpAddr },
    #[error("attribute {0} is required to build a SYN")]
    Missing(&'static str),
}

/// The largest payload a crafted SYN carries.
pub const MAX_PAYLOAD: u64 = 1400;

fn bad_value(name: impl Into<Attr>, value: &Value, expected: impl Into<String>) -> CraftError {
    CraftError::BadValue {
        name: name.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// A numeric attribute, checked against its type in the vocabulary.
fn int(a: &Attributes, field: Field) -> Result<Option<u64>, CraftError> {
    let (max, expected) = match field.value_type() {
        ValueType::Bool => (1, "a boolean".to_owned()),
        ValueType::Int(max) => (max, format!("an integer up to {max}")),
        ValueType::Text => (0, "text".to_owned()),
    };
    match a.get(field) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(bad_value(field, v, expected)),
        },
    }
}

fn flag(a: &Attributes, field: Field) -> Result<bool, CraftError> {
    Ok(int(a, field)?.unwrap_or(0) == 1)
}

/// A hex-string attribute (IP options, an unknown TCP option's data).
fn hex_bytes(a: &Attributes, attr: Attr) -> Result<Option<Vec<u8>>, CraftError> {
    match a.get(attr) {
        None => Ok(None),
        Some(Value::Str(h)) => unhex(h)
            .map(Some)
            .ok_or_else(|| bad_value(attr, &Value::Str(h.clone()), "hex")),
        Some(other) => Err(bad_value(attr, other, "a hex string")),
    }
}

/// The bytes of an IP packet (IPv4 or IPv6 by the addresses) carrying the
/// TCP segment the attributes describe.
pub fn build_packet(a: &Attributes, v: &Volatile) -> Result<Vec<u8>, CraftError> {
    let v = &chosen(a, v)?;
    let options = build_options(a, v)?;
    let payload_len = match int(a, Field::TcpLen)? {
        Some(n) if n > MAX_PAYLOAD => {
            return Err(bad_value(
                Field::TcpLen,
                &Value::Int(n),
                format!("a payload length up to {MAX_PAYLOAD}"),
            ))
        }
        n => n.unwrap_or(0) as usize,
    };
    let tcp_len = 20 + options.len() + payload_len;
    let mut tcp = Vec::with_capacity(tcp_len);
    tcp.extend_from_slice(&v.src.port().to_be_bytes());
    tcp.extend_from_slice(&v.dst.port().to_be_bytes());
    tcp.extend_from_slice(&v.seq.to_be_bytes());
    tcp.extend_from_slice(&v.ack.to_be_bytes());
    let offset_flags = (((20 + options.len()) / 4) as u16) << 12 | tcp_flags(a)?;
    tcp.extend_from_slice(&offset_flags.to_be_bytes());
    let window = int(a, Field::TcpWindowSizeValue)?
        .ok_or(CraftError::Missing(Field::TcpWindowSizeValue.name()))?;
    tcp.extend_from_slice(&(window as u16).to_be_bytes());
    tcp.extend_from_slice(&[0, 0]); // checksum, below
    let urg = int(a, Field::TcpUrgentPointer)?.unwrap_or(0);
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

/// The connection's values, with those the attributes give instead (a
/// value the user chose is sent, never silently replaced).
fn chosen(a: &Attributes, v: &Volatile) -> Result<Volatile, CraftError> {
    let mut v = *v;
    if let Some(n) = int(a, Field::IpId)? {
        v.ip_id = n as u16;
    }
    if let Some(n) = int(a, Field::TcpSrcport)? {
        v.src.set_port(n as u16);
    }
    if let Some(n) = int(a, Field::TcpSeqRaw)? {
        v.seq = n as u32;
    }
    if let Some(n) = int(a, Field::TcpAckRaw)? {
        v.ack = n as u32;
    }
    if let Some(n) = int(a, Field::Ipv6Flow)? {
        v.flow_label = n as u32;
    }
    Ok(v)
}

fn put_checksum(tcp: &mut [u8], pseudo: Sum16BitWords) {
    let sum = pseudo.add_slice(tcp).ones_complement().to_ne_bytes();
    tcp[16..18].copy_from_slice(&sum);
}

/// The flag bits, from the one flag table ([`TcpFlags::FIELDS`]). SYN is
/// set unless the attributes say otherwise; `tcp.flags.res` sets the lowest
/// reserved bit.
fn tcp_flags(a: &Attributes) -> Result<u16, CraftError> {
    let mut flags = 0;
    for (field, bits) in TcpFlags::FIELDS {
        let default = field == Field::TcpFlagsSyn && !a.contains(field);
        if default || flag(a, field)? {
            flags |= bits & bits.wrapping_neg();
        }
    }
    Ok(flags)
}

fn ipv4_header(a: &Attributes, v: &Volatile, tcp_len: usize) -> Result<Vec<u8>, CraftError> {
    let options = hex_bytes(a, Field::SynlabIpOptions.into())?.unwrap_or_default();
    if options.len() % 4 != 0 || options.len() > 40 {
        let value = a
            .get(Field::SynlabIpOptions)
            .cloned()
            .unwrap_or(Value::Int(0));
        return Err(bad_value(
            Field::SynlabIpOptions,
            &value,
            "hex, a multiple of 4 bytes, at most 40",
        ));
    }
    let hdr_len = 20 + options.len();
    let dscp = int(a, Field::IpDsfieldDscp)?.unwrap_or(0) as u8;
    let ecn = int(a, Field::IpDsfieldEcn)?.unwrap_or(0) as u8;
    let ttl = int(a, Field::IpTtl)?.unwrap_or(64) as u8;
    let mut flags = 0u8;
    if flag(a, Field::IpFlagsRb)? {
        flags |= 0x80;
    }
    if flag(a, Field::IpFlagsDf)? {
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
    let dscp = int(a, Field::Ipv6TclassDscp)?.unwrap_or(0) as u32;
    let ecn = int(a, Field::Ipv6TclassEcn)?.unwrap_or(0) as u32;
    let hlim = int(a, Field::Ipv6Hlim)?.unwrap_or(64) as u8;
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

/// The option layout the attributes give (empty when absent).
pub fn layout_of(a: &Attributes) -> Result<Layout, CraftError> {
    match a.get(Field::SynlabOptionsLayout) {
        None => Ok(Layout::default()),
        Some(Value::Str(s)) => Ok(s.parse()?),
        Some(other) => Err(bad_value(
            Field::SynlabOptionsLayout,
            other,
            "a p0f option layout string",
        )),
    }
}

/// The options area, in the order of `synlab.options.layout`.
fn build_options(a: &Attributes, v: &Volatile) -> Result<Vec<u8>, CraftError> {
    let layout = layout_of(a)?;
    check_values_have_options(a, &layout)?;
    let mut out = Vec::new();
    for &token in layout.tokens() {
        let data = match token {
            LayoutToken::Unknown(k) => hex_bytes(a, Attr::UnknownOption(k))?.unwrap_or_default(),
            _ => Vec::new(),
        };
        option(a, v, token, &data)?.emit(&mut out);
    }
    if out.len() % 4 != 0 || out.len() > 40 {
        return Err(CraftError::OptionsLength(out.len()));
    }
    Ok(out)
}

/// An option value without its option in the layout cannot be built: the
/// two move together (a wscale value needs a window-scale option).
fn check_values_have_options(a: &Attributes, layout: &Layout) -> Result<(), CraftError> {
    for name in a.keys() {
        match name.option() {
            Some(option) if !layout.contains(option) => {
                return Err(CraftError::OptionNotInLayout {
                    name,
                    option,
                    layout: layout.to_string(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// The option a layout token stands for, with its values from the
/// attributes (timestamps from the connection when the attributes have none).
fn option<'d>(
    a: &Attributes,
    v: &Volatile,
    token: LayoutToken,
    data: &'d [u8],
) -> Result<TcpOption<'d>, CraftError> {
    let need = |field: Field| {
        int(a, field)?.ok_or(CraftError::MissingOptionValue {
            option: token,
            name: field,
        })
    };
    Ok(match token {
        LayoutToken::Nop => TcpOption::Nop,
        LayoutToken::Mss => TcpOption::Mss(need(Field::TcpOptionsMssVal)? as u16),
        LayoutToken::Ws => TcpOption::WindowScale(need(Field::TcpOptionsWscaleShift)? as u8),
        LayoutToken::Sok => TcpOption::SackPermitted,
        LayoutToken::Sack => TcpOption::Sack(&[]),
        LayoutToken::Ts => TcpOption::Timestamp {
            tsval: int(a, Field::TcpOptionsTimestampTsval)?.map_or(v.tsval, |n| n as u32),
            tsecr: int(a, Field::TcpOptionsTimestampTsecr)?.map_or(v.tsecr, |n| n as u32),
        },
        LayoutToken::Eol(padding) => TcpOption::Eol { padding },
        LayoutToken::Unknown(kind) => TcpOption::Other { kind, data },
    })
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
/// integration tests and benchmarks craft from. A test fixture, not API:
/// built with `cfg(test)` or the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub fn linux_example() -> Attributes {
    let mut a = Attributes::new();
    a.insert(Field::IpTtl, 64u8);
    a.insert(Field::IpFlagsDf, true);
    a.insert(Field::TcpWindowSizeValue, 64240u16);
    a.insert(Field::TcpOptionsMssVal, 1460u16);
    a.insert(Field::TcpOptionsSackPerm, true);
    a.insert(Field::TcpOptionsWscaleShift, 7u8);
    a.insert(Field::SynlabOptionsLayout, "mss,sok,ts,nop,ws");
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
    match super::decode_frame(101, &bytes) {
        Ok(super::Decoded::Tcp(seg)) => Ok(seg.attributes()),
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
        assert_eq!(got.get(Field::SynlabQuirks), Some(&Value::from("df,id+")));
        assert_eq!(
            got.get(Field::TcpOptionsTimestampTsval),
            Some(&Value::Int(77))
        );
        assert_eq!(got.get(Field::IpLen), Some(&Value::Int(60)));
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
        a.remove(Field::IpTtl);
        a.remove(Field::IpFlagsDf);
        a.insert(Field::Ipv6Hlim, 64u8);
        let got = crafted_attributes(&a, &vol("[fd00::2]:40000", "[fd00::1]:80"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.get(Field::Ipv6Hlim), Some(&Value::Int(64)));
        assert_eq!(
            got.get(Field::SynlabOptionsLayout),
            Some(&Value::from("mss,sok,ts,nop,ws"))
        );
    }

    #[test]
    fn value_without_option_is_refused() {
        let mut a = linux();
        a.insert(Field::SynlabOptionsLayout, "mss,nop,nop,sok");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert!(
            matches!(err, Err(CraftError::OptionNotInLayout { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn unknown_option_data_without_its_token_is_refused() {
        let mut a = linux();
        a.insert(Attr::UnknownOption(30), "abcd");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert!(
            matches!(
                err,
                Err(CraftError::OptionNotInLayout {
                    option: LayoutToken::Unknown(30),
                    ..
                })
            ),
            "{err:?}"
        );
        a.insert(Field::SynlabOptionsLayout, "mss,sok,ts,nop,ws,?30");
        let got = crafted_attributes(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.get(Attr::UnknownOption(30)), Some(&Value::from("abcd")));
    }

    #[test]
    fn a_value_out_of_its_type_range_is_refused() {
        let mut a = linux();
        a.insert(Field::IpDsfieldEcn, 4u8);
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert_eq!(
            err.err().map(|e| e.to_string()).as_deref(),
            Some("attribute ip.dsfield.ecn has value 4, which does not fit an integer up to 3")
        );
    }

    // Regression (issue 8): `--set ip.id=0` and `--set tcp.srcport=…` were
    // ignored.
    #[test]
    fn chosen_volatile_values_are_sent() {
        let mut a = linux();
        a.insert(Field::IpId, 0u16);
        a.insert(Field::TcpSrcport, 1234u16);
        a.insert(Field::TcpSeqRaw, 99u32);
        a.insert(Field::TcpAckRaw, 5u32);
        a.insert(Field::TcpOptionsTimestampTsval, 7u32);
        let got = crafted_attributes(&a, &vol("198.18.0.2:40000", "198.18.0.130:80"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        for (field, want) in [
            (Field::IpId, Value::Int(0)),
            (Field::TcpSrcport, Value::Int(1234)),
            (Field::TcpSeqRaw, Value::Int(99)),
            (Field::TcpAckRaw, Value::Int(5)),
            (Field::TcpOptionsTimestampTsval, Value::Int(7)),
            (Field::IpFlagsDf, Value::Bool(true)),
        ] {
            assert_eq!(got.get(field), Some(&want), "{field}");
        }
        let mut b = linux();
        b.remove(Field::IpTtl);
        b.remove(Field::IpFlagsDf);
        b.insert(Field::Ipv6Flow, 0x12345u32);
        let got = crafted_attributes(&b, &vol("[fd00::2]:40000", "[fd00::1]:80"));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.get(Field::Ipv6Flow), Some(&Value::Int(0x12345)));
    }

    #[test]
    fn unaligned_options_are_refused() {
        let mut a = linux();
        a.insert(Field::SynlabOptionsLayout, "mss,sok,ts,ws");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert_eq!(err, Err(CraftError::OptionsLength(19)));
    }
}
