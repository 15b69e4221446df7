//! Header diagrams as inline SVG, in the layout of RFC 791 (IPv4), RFC 8200
//! (IPv6) and RFC 793 (TCP): rows of 32 bits, each field a box as wide as
//! its bits (the widths and places are the [`wire`] module's field
//! layouts, read through its views), each TCP option its own box. Drawn from the bytes of a crafted
//! (or re-crafted captured) SYN, so computed fields (lengths, checksums)
//! show what was on the wire. Each box knows the attributes it shows, so
//! the report can highlight the differences and mark the culprits.

use std::fmt::Write as _;

use super::html::Html;
use crate::model::{Attr, Field, OptionKind};
use crate::wire::{self, ipv4, ipv6, tcp, Bits};

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

fn field(at: Bits, short: &'static str, f: Field, value: impl ToString) -> HeaderField {
    HeaderField {
        bits: at.len as u32,
        short,
        name: f.name().to_owned(),
        value: value.to_string(),
        attrs: vec![f.into()],
    }
}

/// A field whose box shows the number in its bits.
fn number(b: &[u8], at: Bits, short: &'static str, f: Field) -> HeaderField {
    field(at, short, f, at.read(b))
}

/// A field whose box shows its bits in hex (a checksum).
fn hex16(b: &[u8], at: Bits, short: &'static str, f: Field) -> HeaderField {
    field(at, short, f, format!("0x{:04x}", at.read(b)))
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

/// The IPv4 header's boxes, in the order and widths of `wire::ipv4::field`.
fn ipv4(b: &[u8]) -> Result<(Header, usize), String> {
    use ipv4::field as at;
    let p = match ipv4::Packet::new_checked(b) {
        Ok(p) => p,
        Err(wire::Error::Truncated { len, need }) if need == ipv4::HEADER_LEN => {
            return Err(format!("an IPv4 header of {len} bytes"))
        }
        Err(_) => {
            let ihl = at::IHL.read(b) * 4;
            return Err(format!("an IPv4 header length of {ihl}"));
        }
    };
    let ihl = p.header_len();
    let mut fields = vec![
        number(b, at::VERSION, "Version", Field::IpVersion),
        field(at::IHL, "IHL", Field::IpHdrLen, ihl),
        number(b, at::DSCP, "DSCP", Field::IpDsfieldDscp),
        number(b, at::ECN, "ECN", Field::IpDsfieldEcn),
        number(b, at::TOTAL_LEN, "Total Length", Field::IpLen),
        number(b, at::IDENT, "Identification", Field::IpId),
        number(b, at::FLAG_RB, "RB", Field::IpFlagsRb),
        number(b, at::FLAG_DF, "DF", Field::IpFlagsDf),
        number(b, at::FLAG_MF, "MF", Field::IpFlagsMf),
        number(b, at::FRAG_OFFSET, "Fragment Offset", Field::IpFragOffset),
        number(b, at::TTL, "TTL", Field::IpTtl),
        number(b, at::PROTOCOL, "Protocol", Field::IpProto),
        hex16(b, at::CHECKSUM, "Header Checksum", Field::IpChecksum),
        field(at::SRC_ADDR, "Source", Field::IpSrc, p.src_addr()),
        field(at::DST_ADDR, "Destination", Field::IpDst, p.dst_addr()),
    ];
    if ihl > ipv4::HEADER_LEN {
        let options = Bits::new(at::OPTIONS * 8, (ihl - ipv4::HEADER_LEN) * 8);
        fields.push(field(
            options,
            "Options",
            Field::SynlabIpOptions,
            hex(p.options()),
        ));
    }
    let title = "IPv4 header (RFC 791)".to_owned();
    Ok((Header { title, fields }, ihl))
}

/// The IPv6 header's boxes (`wire::ipv6::field`), then each extension
/// header as one box, up to the TCP header.
fn ipv6(b: &[u8]) -> Result<(Header, usize), String> {
    use ipv6::field as at;
    let Ok(p) = ipv6::Packet::new_checked(b) else {
        return Err(format!("an IPv6 header of {} bytes", b.len()));
    };
    let mut fields = vec![
        number(b, at::VERSION, "Version", Field::Ipv6Version),
        number(b, at::DSCP, "DSCP", Field::Ipv6TclassDscp),
        number(b, at::ECN, "ECN", Field::Ipv6TclassEcn),
        number(b, at::FLOW_LABEL, "Flow Label", Field::Ipv6Flow),
        number(b, at::PAYLOAD_LEN, "Payload Length", Field::Ipv6Plen),
        number(b, at::NEXT_HEADER, "Next Header", Field::Ipv6Nxt),
        number(b, at::HOP_LIMIT, "Hop Limit", Field::Ipv6Hlim),
        field(at::SRC_ADDR, "Source", Field::Ipv6Src, p.src_addr()),
        field(at::DST_ADDR, "Destination", Field::Ipv6Dst, p.dst_addr()),
    ];
    // Extension headers (each one box), up to the TCP header.
    let (mut next, mut at) = (p.next_header(), ipv6::HEADER_LEN);
    for _ in 0..16 {
        if next == tcp::PROTOCOL {
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
    if next != tcp::PROTOCOL {
        return Err(format!(
            "no TCP after the IPv6 headers (next header {next})"
        ));
    }
    let title = "IPv6 header (RFC 8200)".to_owned();
    Ok((Header { title, fields }, at))
}

/// The TCP header's boxes (`wire::tcp::field`), each option its own.
fn tcp(t: &[u8]) -> Result<Header, String> {
    use tcp::field as at;
    let Ok(p) = tcp::Packet::new_checked(t) else {
        return Err(format!("a TCP header of {} bytes", t.len()));
    };
    let off = p.header_len();
    if off < tcp::HEADER_LEN || off > t.len() {
        return Err(format!("a TCP data offset of {off} bytes"));
    }
    let mut fields = vec![
        number(t, at::SRC_PORT, "Source Port", Field::TcpSrcport),
        number(t, at::DST_PORT, "Destination Port", Field::TcpDstport),
        number(t, at::SEQ_NUM, "Sequence Number", Field::TcpSeqRaw),
        number(t, at::ACK_NUM, "Acknowledgment Number", Field::TcpAckRaw),
        field(at::DATA_OFFSET, "Offset", Field::TcpHdrLen, off),
        number(t, at::FLAG_RES, "Rsv", Field::TcpFlagsRes),
        number(t, at::FLAG_AE, "AE", Field::TcpFlagsAe),
        number(t, at::FLAG_CWR, "CWR", Field::TcpFlagsCwr),
        number(t, at::FLAG_ECE, "ECE", Field::TcpFlagsEce),
        number(t, at::FLAG_URG, "URG", Field::TcpFlagsUrg),
        number(t, at::FLAG_ACK, "ACK", Field::TcpFlagsAck),
        number(t, at::FLAG_PSH, "PSH", Field::TcpFlagsPush),
        number(t, at::FLAG_RST, "RST", Field::TcpFlagsReset),
        number(t, at::FLAG_SYN, "SYN", Field::TcpFlagsSyn),
        number(t, at::FLAG_FIN, "FIN", Field::TcpFlagsFin),
        number(t, at::WINDOW, "Window", Field::TcpWindowSizeValue),
        hex16(t, at::CHECKSUM, "Checksum", Field::TcpChecksum),
        number(t, at::URGENT, "Urgent Pointer", Field::TcpUrgentPointer),
    ];
    fields.extend(options(p.options()));
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
        let num = |at: usize, n: usize| Bits::new(at * 8, n * 8).read(data);
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

    /// Each fixed box starts at the bit the wire layout gives its field:
    /// the widths come from there, and none is left out or doubled.
    #[test]
    fn boxes_sit_where_the_wire_layouts_put_them() {
        use crate::wire::{ipv4::field as v4, ipv6::field as v6, tcp::field as t};
        let mut a = linux_example();
        let v4_syn = build_packet(&a, &placeholder(false)).unwrap_or_else(|e| panic!("{e}"));
        a.insert(Field::Ipv6Hlim, 64u8);
        let v6_syn = build_packet(&a, &placeholder(true)).unwrap_or_else(|e| panic!("{e}"));
        let layouts: [(&[u8], usize, Vec<Bits>); 3] = [
            (
                &v4_syn,
                0,
                vec![
                    v4::VERSION,
                    v4::IHL,
                    v4::DSCP,
                    v4::ECN,
                    v4::TOTAL_LEN,
                    v4::IDENT,
                    v4::FLAG_RB,
                    v4::FLAG_DF,
                    v4::FLAG_MF,
                    v4::FRAG_OFFSET,
                    v4::TTL,
                    v4::PROTOCOL,
                    v4::CHECKSUM,
                    v4::SRC_ADDR,
                    v4::DST_ADDR,
                ],
            ),
            (
                &v6_syn,
                0,
                vec![
                    v6::VERSION,
                    v6::DSCP,
                    v6::ECN,
                    v6::FLOW_LABEL,
                    v6::PAYLOAD_LEN,
                    v6::NEXT_HEADER,
                    v6::HOP_LIMIT,
                    v6::SRC_ADDR,
                    v6::DST_ADDR,
                ],
            ),
            (
                &v4_syn,
                1,
                vec![
                    t::SRC_PORT,
                    t::DST_PORT,
                    t::SEQ_NUM,
                    t::ACK_NUM,
                    t::DATA_OFFSET,
                    t::FLAG_RES,
                    t::FLAG_AE,
                    t::FLAG_CWR,
                    t::FLAG_ECE,
                    t::FLAG_URG,
                    t::FLAG_ACK,
                    t::FLAG_PSH,
                    t::FLAG_RST,
                    t::FLAG_SYN,
                    t::FLAG_FIN,
                    t::WINDOW,
                    t::CHECKSUM,
                    t::URGENT,
                ],
            ),
        ];
        for (bytes, which, layout) in layouts {
            let hs = headers(bytes).unwrap_or_else(|e| panic!("{e}"));
            let mut at = 0;
            for (f, want) in hs[which].fields.iter().zip(&layout) {
                assert_eq!((at, f.bits as usize), (want.start, want.len), "{}", f.short);
                at += f.bits as usize;
            }
            assert_eq!(at % 32, 0, "{}", hs[which].title);
        }
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
