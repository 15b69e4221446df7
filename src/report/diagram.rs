//! Header diagrams as inline SVG, in the layout of RFC 791 (IPv4), RFC 8200
//! (IPv6) and RFC 793 (TCP): rows of 32 bits, each field a box as wide as
//! its bits, each TCP option its own box. Drawn from the bytes of a crafted
//! (or re-crafted captured) SYN, so computed fields (lengths, checksums)
//! show what was on the wire. Each box knows the attributes it shows, so
//! the report can highlight the differences and mark the culprits.

use std::fmt::Write as _;

use super::html::Html;
use crate::model::{Attr, Field, OptionKind};

/// Pixels per bit: 32 bits make a 576-pixel row.
const BIT: u32 = 18;
const ROW: u32 = 38;
/// Room above the first row for the bit ruler.
const RULER: u32 = 16;

/// One field of a header.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderField {
    pub bits: u32,
    /// Shown in the box (`TTL`, `DF`, `MSS`).
    pub short: &'static str,
    /// The Wireshark name (or a description), for the tooltip.
    pub name: String,
    pub value: String,
    /// The attributes this box shows: a difference in any highlights it.
    pub attrs: Vec<Attr>,
}

/// A header: its title and fields in wire order.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub title: String,
    pub fields: Vec<HeaderField>,
}

fn field(bits: u32, short: &'static str, f: Field, value: impl ToString) -> HeaderField {
    HeaderField {
        bits,
        short,
        name: f.name().to_owned(),
        value: value.to_string(),
        attrs: vec![f.into()],
    }
}

/// Bits `start..start + len` (from the first byte's high bit) as a number;
/// the caller has checked the bytes are there (0 when they are not).
fn bits(b: &[u8], start: usize, len: usize) -> u64 {
    (start..start + len).fold(0, |acc, i| {
        let bit = b.get(i / 8).map_or(0, |byte| (byte >> (7 - i % 8)) & 1);
        (acc << 1) | u64::from(bit)
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// The IP and TCP headers of an IP packet, or why they cannot be drawn.
pub fn headers(packet: &[u8]) -> Result<Vec<Header>, String> {
    let (ip, tcp_at) = match packet.first().map(|b| b >> 4) {
        Some(4) => ipv4(packet)?,
        Some(6) => ipv6(packet)?,
        Some(v) => return Err(format!("IP version {v}")),
        None => return Err("an empty packet".into()),
    };
    let tcp = tcp(packet.get(tcp_at..).unwrap_or_default())?;
    Ok(vec![ip, tcp])
}

fn ipv4(b: &[u8]) -> Result<(Header, usize), String> {
    if b.len() < 20 {
        return Err(format!("an IPv4 header of {} bytes", b.len()));
    }
    let ihl = usize::from(b[0] & 0xf) * 4;
    if ihl < 20 || ihl > b.len() {
        return Err(format!("an IPv4 header length of {ihl}"));
    }
    let v = |start, len| bits(b, start, len);
    let addr = |at: usize| format!("{}.{}.{}.{}", b[at], b[at + 1], b[at + 2], b[at + 3]);
    let mut fields = vec![
        field(4, "Version", Field::IpVersion, v(0, 4)),
        field(4, "IHL", Field::IpHdrLen, ihl),
        field(6, "DSCP", Field::IpDsfieldDscp, v(8, 6)),
        field(2, "ECN", Field::IpDsfieldEcn, v(14, 2)),
        field(16, "Total Length", Field::IpLen, v(16, 16)),
        field(16, "Identification", Field::IpId, v(32, 16)),
        field(1, "RB", Field::IpFlagsRb, v(48, 1)),
        field(1, "DF", Field::IpFlagsDf, v(49, 1)),
        field(1, "MF", Field::IpFlagsMf, v(50, 1)),
        field(13, "Fragment Offset", Field::IpFragOffset, v(51, 13)),
        field(8, "TTL", Field::IpTtl, v(64, 8)),
        field(8, "Protocol", Field::IpProto, v(72, 8)),
        field(
            16,
            "Header Checksum",
            Field::IpChecksum,
            format!("0x{:04x}", v(80, 16)),
        ),
        field(32, "Source", Field::IpSrc, addr(12)),
        field(32, "Destination", Field::IpDst, addr(16)),
    ];
    if ihl > 20 {
        fields.push(field(
            (ihl as u32 - 20) * 8,
            "Options",
            Field::SynlabIpOptions,
            hex(&b[20..ihl]),
        ));
    }
    let title = "IPv4 header (RFC 791)".to_owned();
    Ok((Header { title, fields }, ihl))
}

fn ipv6(b: &[u8]) -> Result<(Header, usize), String> {
    if b.len() < 40 {
        return Err(format!("an IPv6 header of {} bytes", b.len()));
    }
    let v = |start, len| bits(b, start, len);
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[at..at + 16]);
        std::net::Ipv6Addr::from(a).to_string()
    };
    let mut fields = vec![
        field(4, "Version", Field::Ipv6Version, v(0, 4)),
        field(6, "DSCP", Field::Ipv6TclassDscp, v(4, 6)),
        field(2, "ECN", Field::Ipv6TclassEcn, v(10, 2)),
        field(20, "Flow Label", Field::Ipv6Flow, v(12, 20)),
        field(16, "Payload Length", Field::Ipv6Plen, v(32, 16)),
        field(8, "Next Header", Field::Ipv6Nxt, v(48, 8)),
        field(8, "Hop Limit", Field::Ipv6Hlim, v(56, 8)),
        field(128, "Source", Field::Ipv6Src, addr(8)),
        field(128, "Destination", Field::Ipv6Dst, addr(24)),
    ];
    // Extension headers (each one box), up to the TCP header.
    let (mut next, mut at) = (b[6], 40usize);
    for _ in 0..16 {
        if next == 6 {
            break;
        }
        let len = match (next, b.get(at + 1)) {
            (44, _) => 8,
            (_, Some(&l)) => (usize::from(l) + 1) * 8,
            (_, None) => return Err(format!("an IPv6 extension header cut at byte {at}")),
        };
        let Some(ext) = b.get(at..at + len) else {
            return Err(format!(
                "an IPv6 extension header past the end at byte {at}"
            ));
        };
        fields.push(HeaderField {
            bits: len as u32 * 8,
            short: "Extension",
            name: format!("{} (next header {next})", Field::SynlabIpv6Ext.name()),
            value: hex(ext),
            attrs: vec![Field::SynlabIpv6Ext.into()],
        });
        next = ext[0];
        at += len;
    }
    if next != 6 {
        return Err(format!(
            "no TCP after the IPv6 headers (next header {next})"
        ));
    }
    let title = "IPv6 header (RFC 8200)".to_owned();
    Ok((Header { title, fields }, at))
}

fn tcp(t: &[u8]) -> Result<Header, String> {
    if t.len() < 20 {
        return Err(format!("a TCP header of {} bytes", t.len()));
    }
    let off = usize::from(t[12] >> 4) * 4;
    if off < 20 || off > t.len() {
        return Err(format!("a TCP data offset of {off} bytes"));
    }
    let v = |start, len| bits(t, start, len);
    let mut fields = vec![
        field(16, "Source Port", Field::TcpSrcport, v(0, 16)),
        field(16, "Destination Port", Field::TcpDstport, v(16, 16)),
        field(32, "Sequence Number", Field::TcpSeqRaw, v(32, 32)),
        field(32, "Acknowledgment Number", Field::TcpAckRaw, v(64, 32)),
        field(4, "Offset", Field::TcpHdrLen, off),
        field(3, "Rsv", Field::TcpFlagsRes, v(100, 3)),
        field(1, "AE", Field::TcpFlagsAe, v(103, 1)),
        field(1, "CWR", Field::TcpFlagsCwr, v(104, 1)),
        field(1, "ECE", Field::TcpFlagsEce, v(105, 1)),
        field(1, "URG", Field::TcpFlagsUrg, v(106, 1)),
        field(1, "ACK", Field::TcpFlagsAck, v(107, 1)),
        field(1, "PSH", Field::TcpFlagsPush, v(108, 1)),
        field(1, "RST", Field::TcpFlagsReset, v(109, 1)),
        field(1, "SYN", Field::TcpFlagsSyn, v(110, 1)),
        field(1, "FIN", Field::TcpFlagsFin, v(111, 1)),
        field(16, "Window", Field::TcpWindowSizeValue, v(112, 16)),
        field(
            16,
            "Checksum",
            Field::TcpChecksum,
            format!("0x{:04x}", v(128, 16)),
        ),
        field(16, "Urgent Pointer", Field::TcpUrgentPointer, v(144, 16)),
    ];
    fields.extend(options(&t[20..off]));
    Ok(Header {
        title: "TCP header (RFC 793), each option its own box".to_owned(),
        fields,
    })
}

/// Every attribute of a TCP option kind, and the layout (its place).
fn option_attrs(kind: u8) -> Vec<Attr> {
    let k = OptionKind::from_number(kind);
    let mut attrs: Vec<Attr> = Field::ALL
        .iter()
        .filter(|f| f.option() == Some(k))
        .map(|&f| f.into())
        .collect();
    if attrs.is_empty() {
        attrs.push(Attr::UnknownOption(kind));
    }
    attrs.push(Field::SynlabOptionsLayout.into());
    attrs
}

/// The options, one box each; a malformed rest is one box.
fn options(o: &[u8]) -> Vec<HeaderField> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < o.len() {
        let kind = o[i];
        let len = match kind {
            0 | 1 => 1,
            _ => match o.get(i + 1) {
                Some(&l) if l >= 2 && i + usize::from(l) <= o.len() => usize::from(l),
                _ => {
                    out.push(HeaderField {
                        bits: (o.len() - i) as u32 * 8,
                        short: "Malformed",
                        name: format!("option kind {kind}, bad length"),
                        value: hex(&o[i..]),
                        attrs: option_attrs(kind),
                    });
                    return out;
                }
            },
        };
        let data = &o[i..i + len];
        let num = |at: usize, n: usize| data.get(at..at + n).map_or(0, |d| bits(d, 0, n * 8));
        let (short, name, value): (&'static str, String, String) = match kind {
            0 => ("EOL", Field::TcpOptionsEol.name().into(), String::new()),
            1 => ("NOP", Field::TcpOptionsNop.name().into(), String::new()),
            2 => (
                "MSS",
                Field::TcpOptionsMssVal.name().into(),
                num(2, 2).to_string(),
            ),
            3 => (
                "WS",
                Field::TcpOptionsWscaleShift.name().into(),
                num(2, 1).to_string(),
            ),
            4 => (
                "SACK_PERM",
                Field::TcpOptionsSackPerm.name().into(),
                String::new(),
            ),
            5 => ("SACK", Field::TcpOptionsSack.name().into(), hex(&data[2..])),
            8 => (
                "TS",
                Field::TcpOptionsTimestamp.name().into(),
                format!("{} / {}", num(2, 4), num(6, 4)),
            ),
            _ => (
                "Option",
                format!("option kind {kind}"),
                format!("{kind}: {}", hex(data.get(2..).unwrap_or_default())),
            ),
        };
        out.push(HeaderField {
            bits: len as u32 * 8,
            short,
            name,
            value,
            attrs: option_attrs(kind),
        });
        i += len;
        if kind == 0 && i < o.len() {
            out.push(HeaderField {
                bits: (o.len() - i) as u32 * 8,
                short: "Padding",
                name: "after the end of the option list".into(),
                value: hex(&o[i..]),
                attrs: vec![Field::SynlabOptionsLayout.into()],
            });
            break;
        }
    }
    out
}

/// How a box is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Same,
    /// The sides differ in an attribute the box shows.
    Differs,
    /// …and that attribute is (in) a culprit set.
    Culprit,
}

/// A rectangle of a field: where it sits, in rows and bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    row: u32,
    col: u32,
    bits: u32,
    rows: u32,
}

/// A field at bit `start` cut into rectangles: a field of whole rows from
/// a row's start is one tall box (an address), others are cut at row ends.
fn pieces(start: u32, bits: u32) -> Vec<Piece> {
    if start % 32 == 0 && bits >= 64 && bits % 32 == 0 {
        return vec![Piece {
            row: start / 32,
            col: 0,
            bits: 32,
            rows: bits / 32,
        }];
    }
    let mut out = Vec::new();
    let (mut at, mut left) = (start, bits);
    while left > 0 {
        let col = at % 32;
        let take = left.min(32 - col);
        out.push(Piece {
            row: at / 32,
            col,
            bits: take,
            rows: 1,
        });
        at += take;
        left -= take;
    }
    out
}

/// Text cut to what fits in `px` pixels at about `char_px` per character.
fn fit(text: &str, px: u32, char_px: u32) -> String {
    let room = (px / char_px.max(1)) as usize;
    if text.chars().count() <= room {
        return text.to_owned();
    }
    if room <= 1 {
        return String::new();
    }
    let mut t: String = text.chars().take(room - 1).collect();
    t.push('…');
    t
}

/// One header as an SVG, each box marked by `mark`.
pub fn svg(h: &mut Html, header: &Header, mark: &dyn Fn(&[Attr]) -> Mark) {
    let total: u32 = header.fields.iter().map(|f| f.bits).sum();
    let rows = total.div_ceil(32).max(1);
    let (width, height) = (32 * BIT + 2, RULER + rows * ROW + 2);
    let size = |n: u32| n.to_string();
    h.open(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("class", "header"),
            ("width", &size(width)),
            ("height", &size(height)),
            ("viewBox", &format!("0 0 {width} {height}")),
            ("role", "img"),
            ("aria-label", &header.title),
        ],
    );
    for b in [0u32, 8, 16, 24, 31] {
        let x = 1 + b * BIT + BIT / 2;
        h.elem(
            "text",
            &[("x", &size(x)), ("y", "11"), ("class", "ruler")],
            &b.to_string(),
        );
    }
    let mut at = 0;
    for f in &header.fields {
        let m = mark(&f.attrs);
        let class = match m {
            Mark::Same => "box",
            Mark::Differs => "box differs",
            Mark::Culprit => "box culprit",
        };
        let ps = pieces(at, f.bits);
        at += f.bits;
        h.open("g", &[("class", class)]);
        let tip = match (m, f.value.is_empty()) {
            (Mark::Culprit, _) => format!("{} = {} (culprit)", f.name, f.value),
            (Mark::Differs, _) => format!("{} = {} (differs)", f.name, f.value),
            (Mark::Same, true) => f.name.clone(),
            (Mark::Same, false) => format!("{} = {}", f.name, f.value),
        };
        h.elem("title", &[], &tip);
        for p in &ps {
            let (x, y) = (1 + p.col * BIT, RULER + 1 + p.row * ROW);
            h.empty(
                "rect",
                &[
                    ("x", &size(x)),
                    ("y", &size(y)),
                    ("width", &size(p.bits * BIT)),
                    ("height", &size(p.rows * ROW)),
                ],
            );
        }
        // The label in the widest piece (the first of equals); the other
        // pieces of a field cut at a row end say whose they are.
        let main = ps.iter().rev().max_by_key(|p| p.bits).copied();
        for p in ps.iter().filter(|p| Some(**p) != main) {
            let w = p.bits * BIT;
            let cx = 1 + p.col * BIT + w / 2;
            let y = RULER + 1 + p.row * ROW + 22;
            h.elem(
                "text",
                &[("x", &size(cx)), ("y", &size(y)), ("class", "cont")],
                &fit(&format!("({} cont.)", f.short), w, 6),
            );
        }
        if let Some(p) = main {
            let w = p.bits * BIT;
            let cx = 1 + p.col * BIT + w / 2;
            let top = RULER + 1 + p.row * ROW + (p.rows - 1) * ROW / 2;
            let label = if m == Mark::Culprit && w >= 60 {
                format!("★ {}", f.short)
            } else {
                f.short.to_owned()
            };
            // One-bit flags get the small type: `CWR` in 18 pixels.
            let (class, char_px) = if w < 40 {
                ("name tiny", 5)
            } else {
                ("name", 6)
            };
            h.elem(
                "text",
                &[("x", &size(cx)), ("y", &size(top + 14)), ("class", class)],
                &fit(&label, w, char_px),
            );
            h.elem(
                "text",
                &[("x", &size(cx)), ("y", &size(top + 30)), ("class", "value")],
                &fit(&f.value, w, 7),
            );
        }
        h.close();
    }
    h.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::{build_packet, linux_example};
    use crate::search::units::placeholder;

    #[test]
    fn a_linux_syn_has_rows_of_32_bits_and_one_box_per_option() {
        let bytes =
            build_packet(&linux_example(), &placeholder(false)).unwrap_or_else(|e| panic!("{e}"));
        let hs = headers(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let ip: u32 = hs[0].fields.iter().map(|f| f.bits).sum();
        assert_eq!(ip, 160);
        let tcp = &hs[1];
        let shorts: Vec<&str> = tcp.fields.iter().skip(18).map(|f| f.short).collect();
        assert_eq!(shorts, ["MSS", "SACK_PERM", "TS", "NOP", "WS"]);
        let bits: u32 = tcp.fields.iter().map(|f| f.bits).sum();
        assert_eq!(bits % 32, 0);
        let ttl = hs[0].fields.iter().find(|f| f.short == "TTL");
        assert_eq!(ttl.map(|f| f.value.as_str()), Some("64"));
        let mss = tcp.fields.iter().find(|f| f.short == "MSS");
        assert_eq!(mss.map(|f| f.value.as_str()), Some("1460"));
    }

    #[test]
    fn an_ipv6_syn_has_tall_addresses_and_the_same_tcp_header() {
        let mut a = linux_example();
        a.insert(Field::Ipv6Hlim, 64u8);
        let bytes = build_packet(&a, &placeholder(true)).unwrap_or_else(|e| panic!("{e}"));
        let hs = headers(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hs[0].title, "IPv6 header (RFC 8200)");
        let bits: u32 = hs[0].fields.iter().map(|f| f.bits).sum();
        assert_eq!(bits, 320);
        let src = hs[0].fields.iter().find(|f| f.short == "Source");
        assert_eq!(src.map(|f| f.value.as_str()), Some("fd00::2"));
        assert_eq!(hs[1].fields.len(), 18 + 5);
    }

    #[test]
    fn fields_are_cut_at_row_ends_and_addresses_are_tall() {
        assert_eq!(
            pieces(48, 32),
            [
                Piece {
                    row: 1,
                    col: 16,
                    bits: 16,
                    rows: 1
                },
                Piece {
                    row: 2,
                    col: 0,
                    bits: 16,
                    rows: 1
                }
            ]
        );
        assert_eq!(
            pieces(64, 128),
            [Piece {
                row: 2,
                col: 0,
                bits: 32,
                rows: 4
            }]
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bytes in [&[][..], &[0x45; 19], &[0x4f; 20], &[0x60; 39], &[0x70; 40]] {
            assert!(headers(bytes).is_err(), "{bytes:?}");
        }
        // Options whose length runs past the header: one malformed box.
        let o = options(&[2, 40, 1, 1]);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].short, "Malformed");
    }
}
