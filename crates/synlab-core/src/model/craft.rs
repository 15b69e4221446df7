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

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

use super::{
    Attr, Attributes, BadLayoutToken, Field, Layout, LayoutToken, OptionKind, TcpFlags, TcpOption,
    Value, ValueType,
};
use crate::wire::checksum::PseudoHeader;
use crate::wire::{ipv4, ipv6, link, tcp};

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
        option: OptionKind,
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

/// The IP layer of a crafted segment, as meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpRepr {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dscp: u8,
        ecn: u8,
        ttl: u8,
        df: bool,
        /// The reserved ("evil") bit.
        rb: bool,
        id: u16,
        /// Raw IPv4 options, a multiple of 4 bytes, at most 40.
        options: Vec<u8>,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        dscp: u8,
        ecn: u8,
        hlim: u8,
        flow_label: u32,
    },
}

/// A TCP segment (a SYN, for profiles) as meaning: what the decoder reads
/// out of bytes, and what [`SynRepr::emit`] writes back. Built from
/// attributes by [`SynRepr::from_attributes`], which does every check, so
/// emitting cannot fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynRepr<'a> {
    /// Addresses and the IP header's fields.
    pub ip: IpRepr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The 12 flag bits after the data offset.
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    /// In wire order; their bytes are a multiple of 4, at most 40.
    pub options: Vec<TcpOption<'a>>,
    /// Zero bytes of payload.
    pub payload_len: usize,
}

/// The bytes of an IP packet (IPv4 or IPv6 by the addresses) carrying the
/// TCP segment the attributes describe.
pub fn build_packet(a: &Attributes, v: &Volatile) -> Result<Vec<u8>, CraftError> {
    Ok(SynRepr::from_attributes(a, v)?.emit())
}

impl SynRepr<'static> {
    /// The segment the attributes describe, with the connection's volatile
    /// values; every value is checked against its type in the vocabulary.
    pub fn from_attributes(a: &Attributes, v: &Volatile) -> Result<Self, CraftError> {
        let v = &chosen(a, v)?;
        let options = options(a, v)?;
        let options_len: usize = options.iter().map(TcpOption::buffer_len).sum();
        if options_len % 4 != 0 || options_len > 40 {
            return Err(CraftError::OptionsLength(options_len));
        }
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
        let window = int(a, Field::TcpWindowSizeValue)?
            .ok_or(CraftError::Missing(Field::TcpWindowSizeValue.name()))?;
        Ok(SynRepr {
            ip: ip_repr(a, v)?,
            src_port: v.src.port(),
            dst_port: v.dst.port(),
            seq: v.seq,
            ack: v.ack,
            flags: tcp_flags(a)?,
            window: window as u16,
            urgent: int(a, Field::TcpUrgentPointer)?.unwrap_or(0) as u16,
            options,
            payload_len,
        })
    }
}

impl SynRepr<'_> {
    /// The options' layout in p0f notation.
    pub fn layout_tokens(&self) -> String {
        Layout::of(&self.options).to_string()
    }

    fn options_len(&self) -> usize {
        self.options.iter().map(TcpOption::buffer_len).sum()
    }

    fn tcp_len(&self) -> usize {
        tcp::HEADER_LEN + self.options_len() + self.payload_len
    }

    fn ip_header_len(&self) -> usize {
        match &self.ip {
            IpRepr::V4 { options, .. } => ipv4::HEADER_LEN + options.len(),
            IpRepr::V6 { .. } => ipv6::HEADER_LEN,
        }
    }

    /// Bytes of the whole IP packet.
    pub fn buffer_len(&self) -> usize {
        self.ip_header_len() + self.tcp_len()
    }

    /// The IP packet's bytes, checksums filled in: the headers are written
    /// by [`wire`](crate::wire)'s `Repr`s, the options by [`TcpOption::emit`].
    pub fn emit(&self) -> Vec<u8> {
        let mut options = Vec::with_capacity(self.options_len());
        for o in &self.options {
            o.emit(&mut options);
        }
        let payload = vec![0; self.payload_len];
        let segment = tcp::Repr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: self.urgent,
            options: &options,
            payload: &payload,
        };
        let mut out = Vec::with_capacity(self.buffer_len());
        let pseudo = self.emit_ip_header(segment.buffer_len(), &mut out);
        segment.emit(&pseudo, &mut out);
        out
    }

    /// Write the IP header for a segment of `tcp_len` bytes; the
    /// pseudo-header its checksum goes behind.
    fn emit_ip_header(&self, tcp_len: usize, out: &mut Vec<u8>) -> PseudoHeader {
        match &self.ip {
            IpRepr::V4 {
                src,
                dst,
                dscp,
                ecn,
                ttl,
                df,
                rb,
                id,
                options,
            } => {
                ipv4::Repr {
                    src: *src,
                    dst: *dst,
                    dscp: *dscp,
                    ecn: *ecn,
                    ident: *id,
                    rb: *rb,
                    df: *df,
                    ttl: *ttl,
                    protocol: tcp::PROTOCOL,
                    options,
                    payload_len: tcp_len,
                }
                .emit(out);
                PseudoHeader::V4 {
                    src: *src,
                    dst: *dst,
                }
            }
            IpRepr::V6 {
                src,
                dst,
                dscp,
                ecn,
                hlim,
                flow_label,
            } => {
                ipv6::Repr {
                    src: *src,
                    dst: *dst,
                    dscp: *dscp,
                    ecn: *ecn,
                    flow_label: *flow_label,
                    next_header: tcp::PROTOCOL,
                    hop_limit: *hlim,
                    payload_len: tcp_len,
                }
                .emit(out);
                PseudoHeader::V6 {
                    src: *src,
                    dst: *dst,
                }
            }
        }
    }
}

/// The flag bits, from the one flag table ([`TcpFlags::FIELDS`]). SYN is
/// set unless the attributes say otherwise; `tcp.flags.res` sets the lowest
/// reserved bit.
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

/// The IP layer for the addresses' version (IPv4 names for IPv4, IPv6
/// names for IPv6; the other version's attributes are not looked at).
fn ip_repr(a: &Attributes, v: &Volatile) -> Result<IpRepr, CraftError> {
    match (v.src.ip(), v.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
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
            Ok(IpRepr::V4 {
                src,
                dst,
                dscp: int(a, Field::IpDsfieldDscp)?.unwrap_or(0) as u8,
                ecn: int(a, Field::IpDsfieldEcn)?.unwrap_or(0) as u8,
                ttl: int(a, Field::IpTtl)?.unwrap_or(64) as u8,
                df: flag(a, Field::IpFlagsDf)?,
                rb: flag(a, Field::IpFlagsRb)?,
                id: v.ip_id,
                options,
            })
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => Ok(IpRepr::V6 {
            src,
            dst,
            dscp: int(a, Field::Ipv6TclassDscp)?.unwrap_or(0) as u8,
            ecn: int(a, Field::Ipv6TclassEcn)?.unwrap_or(0) as u8,
            hlim: int(a, Field::Ipv6Hlim)?.unwrap_or(64) as u8,
            flow_label: v.flow_label,
        }),
        (src, dst) => Err(CraftError::MixedFamilies { src, dst }),
    }
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

/// The options, in the order of `synlab.options.layout`.
fn options(a: &Attributes, v: &Volatile) -> Result<Vec<TcpOption<'static>>, CraftError> {
    let layout = layout_of(a)?;
    check_values_have_options(a, &layout)?;
    layout
        .tokens()
        .iter()
        .map(|&token| option(a, v, token))
        .collect()
}

/// After the layout was changed by hand (`--set synlab.options.layout=…`):
/// drop the presence attributes (`tcp.options.timestamp` …) of options the
/// new layout no longer has, except those in `keep` (set by hand too, so a
/// contradiction stays an error).
pub fn follow_layout(a: &mut Attributes, keep: &[Attr]) -> Result<(), CraftError> {
    let layout = layout_of(a)?;
    a.retain(|k, _| {
        let stale = k
            .option()
            .is_some_and(|o| o.presence().map(Attr::Field) == Some(k) && !layout.has_kind(o));
        !stale || keep.contains(&k)
    });
    Ok(())
}

/// An option value without its option in the layout cannot be built: the
/// two move together (a wscale value needs a window-scale option).
fn check_values_have_options(a: &Attributes, layout: &Layout) -> Result<(), CraftError> {
    for name in a.keys() {
        match name.option() {
            Some(option) if !layout.has_kind(option) => {
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
fn option(
    a: &Attributes,
    v: &Volatile,
    token: LayoutToken,
) -> Result<TcpOption<'static>, CraftError> {
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
        LayoutToken::Sack => TcpOption::Sack(Cow::Borrowed(&[])),
        LayoutToken::Ts => TcpOption::Timestamp {
            tsval: int(a, Field::TcpOptionsTimestampTsval)?.map_or(v.tsval, |n| n as u32),
            tsecr: int(a, Field::TcpOptionsTimestampTsecr)?.map_or(v.tsecr, |n| n as u32),
        },
        LayoutToken::Eol(padding) => TcpOption::Eol { padding },
        LayoutToken::Unknown(kind) => TcpOption::Other {
            kind,
            data: Cow::Owned(hex_bytes(a, Attr::UnknownOption(kind))?.unwrap_or_default()),
        },
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
    link::ethernet_frame(ip, src_mac, dst_mac)
}

/// The attributes a crafted SYN actually carries: build, then decode. A
/// variant's derived attributes (quirks, p0f signature) come out right this way.
pub fn crafted_attributes(a: &Attributes, v: &Volatile) -> Result<Attributes, CraftError> {
    let bytes = build_packet(a, v)?;
    match super::decode_frame(super::LinkType::Raw, &bytes) {
        super::Decoded::Tcp(seg) => Ok(seg.attributes()),
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
    fn repr_is_what_decoding_reads_back() {
        let v = vol("198.18.0.2:40000", "198.18.0.130:80");
        let repr = SynRepr::from_attributes(&linux(), &v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(repr.layout_tokens(), "mss,sok,ts,nop,ws");
        let bytes = repr.emit();
        assert_eq!(bytes.len(), repr.buffer_len());
        let crate::model::Decoded::Tcp(seg) =
            crate::model::decode_frame(crate::model::LinkType::Raw, &bytes)
        else {
            panic!("not TCP")
        };
        assert_eq!(seg.options().options, repr.options);
        assert_eq!(seg.flags.0, repr.flags);
        assert_eq!((seg.src, seg.dst), (v.src, v.dst));
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
                    option: OptionKind::Mptcp,
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
    fn presence_follows_a_layout_set_by_hand_unless_set_too() {
        let (src, dst) = ("198.18.0.2:1", "198.18.0.1:2");
        let full = crafted_attributes(&linux(), &vol(src, dst)).unwrap_or_else(|e| panic!("{e}"));
        let mut a = full.clone();
        a.retain(|k, _| k.is_bisectable());
        a.insert(Field::SynlabOptionsLayout, "mss,nop,nop,sok,nop,ws");
        assert!(matches!(
            build_packet(&a, &vol(src, dst)),
            Err(CraftError::OptionNotInLayout {
                option: OptionKind::Ts,
                ..
            })
        ));
        let mut kept = a.clone();
        follow_layout(&mut kept, &[Field::TcpOptionsTimestamp.into()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(kept.contains(Field::TcpOptionsTimestamp));
        follow_layout(&mut a, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!a.contains(Field::TcpOptionsTimestamp));
        assert!(a.contains(Field::TcpOptionsSackPerm));
        assert!(build_packet(&a, &vol(src, dst)).is_ok());
    }

    #[test]
    fn unaligned_options_are_refused() {
        let mut a = linux();
        a.insert(Field::SynlabOptionsLayout, "mss,sok,ts,ws");
        let err = build_packet(&a, &vol("1.2.3.4:1", "1.2.3.5:2"));
        assert_eq!(err, Err(CraftError::OptionsLength(19)));
    }
}
