//! p0f v3 notions derived from a packet's attributes: the initial TTL guess,
//! the quirks, and the signature (`ver:ttl+dist:olen:mss:wsize,scale:olayout:quirks:pclass`).
//!
//! [`signature`] is p0f's `raw_sig` byte for byte (Debian's p0f 3.09b,
//! `fp_tcp.c` `dump_sig`; `tests/p0f_sig.rs` checks it against `p0f -r`):
//! the TTL as seen plus the guessed distance (`63+1`, or `70+?` when the guess
//! is more than 35 hops), the MSS (`0` without an MSS option), and the window
//! as a multiple of an MSS or MTU when p0f finds one (`mss*45` for 65160 with
//! MSS 1460 and timestamps: a multiple of MSS - 12). A SYN+ACK's window may be
//! a multiple of the SYN's MSS, so [`signature_of`] takes that MSS too (the
//! decoder passes it for a SYN+ACK the tracker matched to its SYN). Quirks
//! and signature are computed from typed [`Headers`].
//!
//! [`database_signature`] is the form a p0f.fp `sig =` line takes for a
//! profile: no distance, and a window written `mss*N` only when it is exactly
//! N times the MSS, so importing it gives the same SYN back.
//! See p0f's README section 5 ("Signature format").

use std::fmt::Write;

use crate::model::{Attributes, Field, OptionsParse, TcpFlags, Value};

/// p0f's `MAX_DIST`: a guessed distance above this prints as `?`.
const MAX_DIST: u64 = 35;
/// p0f-sendsyn's MSS; a SYN+ACK echoing it gets `*` as its MSS.
const SPECIAL_MSS: u64 = 1331;
/// IPv4 + TCP minimal headers (p0f's `MIN_TCP4`), and IPv6 + TCP (`MIN_TCP6`).
const MIN_TCP4: i32 = 40;
const MIN_TCP6: i32 = 60;

fn num(a: &Attributes, name: Field) -> Option<u64> {
    a.get(name).and_then(Value::as_u64)
}

fn flag(a: &Attributes, name: Field) -> bool {
    matches!(a.get(name), Some(Value::Bool(true)))
}

/// The TTL or hop limit as seen.
fn seen_ttl(a: &Attributes) -> Option<u64> {
    num(a, Field::IpTtl).or_else(|| num(a, Field::Ipv6Hlim))
}

/// p0f's guess of the initial TTL: the next of 32, 64, 128, 255 at or above
/// the TTL seen.
pub fn initial_ttl(a: &Attributes) -> Option<u64> {
    seen_ttl(a).map(guess_ittl)
}

pub fn guess_ittl(ttl: u64) -> u64 {
    match ttl {
        0..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

/// What p0f reads of a packet's headers (its `packet_data`), typed. The
/// quirks and the signature are computed from this one type, built either
/// straight from a decoded segment (for every SYN and answer a capture
/// holds: looking ~25 attributes up by name was a tenth of `handshakes`,
/// issue 13) or from an attribute set (a profile's crafted SYN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    /// IPv4 (else IPv6).
    pub v4: bool,
    /// The TTL or hop limit as seen.
    pub ttl: Option<u64>,
    /// The IPv4 header's length, options included.
    pub ip_hdr_len: Option<u64>,
    /// IPv6 extension headers come before TCP.
    pub ipv6_ext: bool,
    pub df: bool,
    /// The IPv4 reserved ("evil") bit.
    pub rb: bool,
    pub ip_id: u64,
    /// The IP header's ECN bits.
    pub ecn: u64,
    pub flow_label: u64,
    pub flags: TcpFlags,
    pub seq: Option<u64>,
    pub ack: u64,
    pub urgent_pointer: u64,
    pub window: Option<u64>,
    pub tcp_hdr_len: Option<u64>,
    /// Payload bytes (`tcp.len`).
    pub tcp_len: u64,
    pub mss: Option<u64>,
    pub wscale: Option<u64>,
    pub tsval: Option<u64>,
    pub tsecr: Option<u64>,
}

impl Headers {
    /// The headers an attribute set states (absent fields stay `None`/0).
    pub fn of(a: &Attributes) -> Headers {
        let mut flags = TcpFlags::default();
        for (field, bits) in TcpFlags::FIELDS {
            if flag(a, field) {
                flags.0 |= bits;
            }
        }
        Headers {
            v4: a.contains(Field::IpVersion),
            ttl: seen_ttl(a),
            ip_hdr_len: num(a, Field::IpHdrLen),
            ipv6_ext: a.contains(Field::SynlabIpv6Ext),
            df: flag(a, Field::IpFlagsDf),
            rb: flag(a, Field::IpFlagsRb),
            ip_id: num(a, Field::IpId).unwrap_or(0),
            ecn: num(a, Field::IpDsfieldEcn)
                .or_else(|| num(a, Field::Ipv6TclassEcn))
                .unwrap_or(0),
            flow_label: num(a, Field::Ipv6Flow).unwrap_or(0),
            flags,
            seq: num(a, Field::TcpSeqRaw),
            ack: num(a, Field::TcpAckRaw).unwrap_or(0),
            urgent_pointer: num(a, Field::TcpUrgentPointer).unwrap_or(0),
            window: num(a, Field::TcpWindowSizeValue),
            tcp_hdr_len: num(a, Field::TcpHdrLen),
            tcp_len: num(a, Field::TcpLen).unwrap_or(0),
            mss: num(a, Field::TcpOptionsMssVal),
            wscale: num(a, Field::TcpOptionsWscaleShift),
            tsval: num(a, Field::TcpOptionsTimestampTsval),
            tsecr: num(a, Field::TcpOptionsTimestampTsecr),
        }
    }
}

/// p0f v3 quirks of a packet, in p0f's order (`process.c` `parse_packet`).
pub fn quirks(h: &Headers, opts: &OptionsParse<'_>) -> Vec<&'static str> {
    let mut q = Vec::new();
    let f = h.flags;
    let syn_only = f.has(TcpFlags::SYN) && !f.has(TcpFlags::ACK);
    if h.v4 {
        if h.df {
            q.push("df");
        }
        if h.df && h.ip_id != 0 {
            q.push("id+");
        }
        if !h.df && h.ip_id == 0 {
            q.push("id-");
        }
    }
    let tcp_ecn = f.has(TcpFlags::ECE | TcpFlags::CWR | TcpFlags::AE);
    if h.ecn != 0 || tcp_ecn {
        q.push("ecn");
    }
    if h.v4 && h.rb {
        q.push("0+");
    }
    if h.flow_label != 0 {
        q.push("flow");
    }
    if h.seq == Some(0) {
        q.push("seq-");
    }
    if f.has(TcpFlags::ACK) {
        if h.ack == 0 {
            q.push("ack-");
        }
    } else if p0f_sees_nonzero_ack(h.ack) && !f.has(TcpFlags::RST) {
        q.push("ack+");
    }
    let urg = f.has(TcpFlags::URG);
    if !urg && h.urgent_pointer != 0 {
        q.push("uptr+");
    }
    if urg {
        q.push("urgf+");
    }
    if f.has(TcpFlags::PSH) {
        q.push("pushf+");
    }
    if h.tsval == Some(0) {
        q.push("ts1-");
    }
    if syn_only && h.tsecr.unwrap_or(0) != 0 {
        q.push("ts2+");
    }
    if opts.nonzero_after_eol {
        q.push("opt+");
    }
    if h.wscale.unwrap_or(0) > 14 {
        q.push("exws");
    }
    if opts.malformed {
        q.push("bad");
    }
    q
}

/// Whether p0f reports `ack+` for this acknowledgment number on a packet
/// without ACK. p0f tests `RD32(tcp->ack) & !(flags & RST)`: a bitwise AND of
/// the number as read in host order with 1, which on the little-endian hosts
/// p0f runs on is bit 0 of the first byte on the wire, bit 24 of the number.
/// synlab reports what p0f reports, so `ack+` means "bit 24 set"; profiles
/// craft their non-zero acknowledgment numbers with that bit set.
pub fn p0f_sees_nonzero_ack(ack: u64) -> bool {
    ack & (1 << 24) != 0
}

/// What p0f's signature reads of a packet, with the option layout and
/// quirks it prints.
struct Packet<'a> {
    v4: bool,
    ttl: u64,
    /// IPv4 option bytes.
    olen: u64,
    /// 0 without an MSS option, as in p0f.
    mss: u64,
    win: u64,
    /// 0 without a window scale option.
    wscale: u64,
    /// The TSval, 0 without a timestamps option.
    tsval: u64,
    /// IP header (with options) plus TCP header (with options), in bytes.
    tot_hdr: u64,
    flags: TcpFlags,
    tcp_len: u64,
    layout: &'a str,
    quirks: &'a str,
}

impl<'a> Packet<'a> {
    fn of(h: &Headers, layout: &'a str, quirks: &'a str) -> Option<Packet<'a>> {
        let (ip_hdr, olen) = if h.v4 {
            let hdr = h.ip_hdr_len?;
            (hdr, hdr.saturating_sub(20))
        } else if h.ipv6_ext {
            // p0f reads TCP only right after the IPv6 header: it signs no
            // packet with extension headers.
            return None;
        } else {
            (40, 0)
        };
        Some(Packet {
            v4: h.v4,
            ttl: h.ttl?,
            olen,
            mss: h.mss.unwrap_or(0),
            win: h.window?,
            wscale: h.wscale.unwrap_or(0),
            tsval: h.tsval.unwrap_or(0),
            tot_hdr: ip_hdr + h.tcp_hdr_len?,
            flags: h.flags,
            tcp_len: h.tcp_len,
            layout,
            quirks,
        })
    }

    /// From an attribute set, with its layout and quirks.
    fn of_attributes(a: &'a Attributes) -> Option<Packet<'a>> {
        let text = |f| a.text(f).unwrap_or_default();
        Packet::of(
            &Headers::of(a),
            text(Field::SynlabOptionsLayout),
            text(Field::SynlabQuirks),
        )
    }

    /// A SYN+ACK (p0f's `tcp_type`: of SYN, ACK, FIN, RST exactly the first two).
    fn is_syn_ack(&self) -> bool {
        let f = self.flags;
        f.has(TcpFlags::SYN) && f.has(TcpFlags::ACK) && !f.has(TcpFlags::FIN | TcpFlags::RST)
    }
}

/// The unit a window is a multiple of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WinUnit {
    Mss,
    Mtu,
}

/// p0f's `detect_win_multi`: the first of its candidate divisors that divides
/// the window, as `(unit, multiple)`. `syn_mss` is the MSS of the SYN a
/// SYN+ACK answers (0 for a SYN). p0f's arithmetic is kept: the multiple is
/// truncated to 16 bits and only a positive one is written, and a divisor of
/// 0 (a peer MSS of 12, where p0f itself would fault) ends the search.
fn window_multiple(p: &Packet<'_>, syn_mss: u64) -> Option<(WinUnit, i16)> {
    use WinUnit::{Mss, Mtu};
    let win = i32::try_from(p.win).ok()?;
    let mss = i32::try_from(p.mss).ok()?;
    if win == 0 || mss < 100 {
        return None;
    }
    let tot_hdr = i32::try_from(p.tot_hdr).ok()?;
    let syn_mss = i32::try_from(syn_mss).ok()?;
    let (ts, v6, peer) = (p.tsval != 0, !p.v4, syn_mss != 0);
    // (divisor, unit, whether p0f tries it for this packet), in p0f's order.
    let divisors = [
        (mss, Mss, true),
        (mss - 12, Mss, ts),
        (1500 - MIN_TCP4, Mss, true),
        (1500 - MIN_TCP4 - 12, Mss, true),
        (1500 - MIN_TCP6, Mss, v6),
        (1500 - MIN_TCP6 - 12, Mss, v6),
        (mss + MIN_TCP4, Mtu, true),
        (mss + tot_hdr, Mtu, true),
        (mss + MIN_TCP6, Mtu, v6),
        (1500, Mtu, true),
        (syn_mss, Mss, peer),
        (syn_mss - 12, Mss, peer),
    ];
    let (div, unit, _) = divisors
        .into_iter()
        .filter(|(_, _, tried)| *tried)
        .take_while(|(div, _, _)| *div != 0)
        .find(|(div, _, _)| win % div == 0)?;
    // As p0f: the quotient is stored in an s16.
    let multiple = (win / div) as i16;
    (multiple > 0).then_some((unit, multiple))
}

/// `WINDOW,SCALE:OLAYOUT:QUIRKS:PCLASS`, the fields both forms share, after `window`.
fn write_tail(out: &mut String, p: &Packet<'_>) {
    let pclass = if p.tcp_len == 0 { '0' } else { '+' };
    out.push(',');
    push_num(out, p.wscale);
    out.push(':');
    out.push_str(p.layout);
    out.push(':');
    out.push_str(p.quirks);
    out.push(':');
    out.push(pclass);
}

/// Appends a number's digits. `itoa` rather than `write!`: the signature
/// is built for every SYN and answer, and the formatting machinery was a
/// visible share of `synlab handshakes` (issue 13).
fn push_num(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

fn raw_signature(p: &Packet<'_>, window: Option<(WinUnit, i16)>) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(if p.v4 { "4:" } else { "6:" });
    push_num(&mut out, p.ttl);
    out.push('+');
    let dist = guess_ittl(p.ttl) - p.ttl;
    if dist > MAX_DIST {
        out.push('?');
    } else {
        push_num(&mut out, dist);
    }
    out.push(':');
    push_num(&mut out, p.olen);
    out.push(':');
    if p.mss == SPECIAL_MSS && p.is_syn_ack() {
        out.push('*');
    } else {
        push_num(&mut out, p.mss);
    }
    out.push(':');
    match window {
        Some((WinUnit::Mss, n)) => {
            out.push_str("mss*");
            push_num(&mut out, n);
        }
        Some((WinUnit::Mtu, n)) => {
            out.push_str("mtu*");
            push_num(&mut out, n);
        }
        None => push_num(&mut out, p.win),
    }
    write_tail(&mut out, p);
    out
}

/// The packet's p0f v3 signature as p0f's `raw_sig` prints it for a SYN (or
/// for any packet taken on its own, with no SYN before it).
pub fn signature(a: &Attributes) -> Option<String> {
    let p = Packet::of_attributes(a)?;
    Some(raw_signature(&p, window_multiple(&p, 0)))
}

/// The signature of typed headers with their option layout and quirks as
/// text. `syn_mss` is the MSS of the SYN a SYN+ACK answers (0 for a SYN or
/// a packet on its own): p0f also tries the window as a multiple of it,
/// after every other divisor.
pub fn signature_of(h: &Headers, layout: &str, quirks: &str, syn_mss: u64) -> Option<String> {
    let p = Packet::of(h, layout, quirks)?;
    Some(raw_signature(&p, window_multiple(&p, syn_mss)))
}

/// The signature as a p0f.fp database line writes it for a profile: `ver`
/// `*` (a profile applies to both IP versions), the TTL as sent without a
/// distance, `*` for the MSS without an MSS option, and the window as `mss*N`
/// only when it is exactly N times the MSS, else the number; so that
/// importing it (`p0f::profile::import`) gives the same SYN back.
pub fn database_signature(a: &Attributes) -> Option<String> {
    let p = Packet::of_attributes(a)?;
    let mut out = String::with_capacity(64);
    let _ = write!(out, "*:{}:{}:", p.ttl, p.olen);
    let _ = match p.mss {
        0 => write!(out, "*:{}", p.win),
        m if p.win > 0 && p.win % m == 0 => write!(out, "{m}:mss*{}", p.win / m),
        m => write!(out, "{m}:{}", p.win),
    };
    write_tail(&mut out, &p);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ittl_steps() {
        assert_eq!(guess_ittl(1), 32);
        assert_eq!(guess_ittl(57), 64);
        assert_eq!(guess_ittl(127), 128);
        assert_eq!(guess_ittl(200), 255);
    }

    /// A Linux SYN one hop away, as decoded (with its quirks).
    fn linux_syn() -> Attributes {
        let mut a = Attributes::new();
        a.insert(Field::IpVersion, 4u8);
        a.insert(Field::IpHdrLen, 20u8);
        a.insert(Field::IpTtl, 63u8);
        a.insert(Field::IpFlagsDf, true);
        a.insert(Field::IpId, 0x1234u16);
        a.insert(Field::TcpHdrLen, 40u8);
        a.insert(Field::TcpFlagsSyn, true);
        a.insert(Field::TcpSeqRaw, 99u32);
        a.insert(Field::TcpAckRaw, 0u32);
        a.insert(Field::TcpWindowSizeValue, 64240u16);
        a.insert(Field::TcpOptionsMssVal, 1460u16);
        a.insert(Field::TcpOptionsWscaleShift, 7u8);
        a.insert(Field::TcpOptionsTimestampTsval, 5u32);
        a.insert(Field::TcpOptionsTimestampTsecr, 0u32);
        a.insert(Field::TcpLen, 0u32);
        a.insert(Field::SynlabOptionsLayout, "mss,sok,ts,nop,ws");
        with_quirks(a)
    }

    fn with_quirks(mut a: Attributes) -> Attributes {
        let q = quirks(&Headers::of(&a), &OptionsParse::default());
        a.insert(Field::SynlabQuirks, q.join(","));
        a
    }

    #[test]
    fn linux_signature_has_the_ttl_seen_and_the_distance() {
        let a = linux_syn();
        assert_eq!(a.get(Field::SynlabQuirks), Some(&Value::from("df,id+")));
        assert_eq!(
            signature(&a).as_deref(),
            Some("4:63+1:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0")
        );
        assert_eq!(
            database_signature(&a).as_deref(),
            Some("*:63:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0")
        );
    }

    /// Issue 15: synlab wrote 65160 and 5792 where p0f writes multiples of
    /// MSS - 12 (the timestamps option's room).
    #[test]
    fn window_is_a_multiple_of_mss_minus_12_with_timestamps() {
        let mut a = linux_syn();
        a.insert(Field::TcpWindowSizeValue, 65160u16);
        assert!(signature(&a).unwrap().contains(":mss*45,7:"));
        a.insert(Field::TcpWindowSizeValue, 5792u16);
        assert!(signature(&a).unwrap().contains(":mss*4,7:"));
        // without a TSval p0f does not try MSS - 12 (but still 1448, MTU 1500 - 52)
        a.insert(Field::TcpOptionsTimestampTsval, 0u32);
        a.insert(Field::TcpWindowSizeValue, 88u16 * 7);
        assert!(signature(&a).unwrap().contains(":616,7:"));
        // the database form keeps the number unless it is an exact MSS multiple
        a.insert(Field::TcpWindowSizeValue, 65160u16);
        assert!(database_signature(&a).unwrap().contains(":65160,7:"));
    }

    #[test]
    fn window_multiples_of_an_mtu() {
        let mut a = linux_syn();
        a.insert(Field::TcpWindowSizeValue, 1500u16 * 3);
        assert!(signature(&a).unwrap().contains(":mtu*3,7:"));
        a.insert(Field::TcpOptionsMssVal, 1000u16);
        a.insert(Field::TcpWindowSizeValue, 1060u16 * 2);
        assert!(
            signature(&a).unwrap().contains(":mtu*2,7:"),
            "mss + headers"
        );
    }

    /// Issue 15: without an MSS option p0f prints 0, synlab printed `*`.
    #[test]
    fn no_mss_option_is_0_and_the_window_a_number() {
        let mut a = linux_syn();
        a.remove(Field::TcpOptionsMssVal);
        a.insert(Field::SynlabOptionsLayout, "sok,ts,nop,ws");
        assert_eq!(
            signature(&a).as_deref(),
            Some("4:63+1:0:0:64240,7:sok,ts,nop,ws:df,id+:0")
        );
        assert!(database_signature(&a)
            .unwrap()
            .starts_with("*:63:0:*:64240,7:"));
    }

    #[test]
    fn ipv6_has_no_option_length_and_no_signature_behind_extension_headers() {
        let mut a = linux_syn();
        for v4_only in [
            Field::IpVersion,
            Field::IpHdrLen,
            Field::IpTtl,
            Field::IpFlagsDf,
            Field::IpId,
        ] {
            a.remove(v4_only);
        }
        a.insert(Field::Ipv6Version, 6u8);
        a.insert(Field::Ipv6Hlim, 64u8);
        let a = with_quirks(a);
        assert_eq!(
            signature(&a).as_deref(),
            Some("6:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws::0")
        );
        let mut ext = a.clone();
        ext.insert(Field::SynlabIpv6Ext, "hop");
        assert_eq!(signature(&ext), None);
    }

    #[test]
    fn a_distance_beyond_35_hops_is_a_question_mark() {
        let mut a = linux_syn();
        a.insert(Field::IpTtl, 70u8);
        assert!(signature(&a).unwrap().starts_with("4:70+?:"));
        a.insert(Field::IpTtl, 93u8);
        assert!(signature(&a).unwrap().starts_with("4:93+35:"));
    }

    #[test]
    fn a_syn_ack_window_may_be_a_multiple_of_the_syn_mss() {
        let mut reply = linux_syn();
        reply.insert(Field::TcpFlagsAck, true);
        reply.insert(Field::TcpAckRaw, 100u32);
        reply.insert(Field::TcpOptionsMssVal, 1400u16);
        reply.insert(Field::TcpWindowSizeValue, 1100u16 * 10);
        let reply = with_quirks(reply);
        let answering = |syn_mss| {
            let text = |f| reply.text(f).unwrap_or_default();
            let (layout, quirks) = (text(Field::SynlabOptionsLayout), text(Field::SynlabQuirks));
            signature_of(&Headers::of(&reply), layout, quirks, syn_mss).unwrap()
        };
        assert!(signature(&reply).unwrap().contains(":1400:11000,7:"));
        assert_eq!(
            answering(1460),
            signature(&reply).unwrap(),
            "1460 divides nothing"
        );
        assert!(answering(1100).contains(":1400:mss*10,7:"));
        // p0f-sendsyn's MSS echoed back is a wildcard
        let mut echo = reply.clone();
        echo.insert(Field::TcpOptionsMssVal, 1331u16);
        assert!(signature(&echo).unwrap().contains(":*:"));
    }

    /// p0f reads the acknowledgment number in host order and tests bit 0:
    /// bit 24 of the number on a little-endian host.
    #[test]
    fn ack_plus_follows_p0f() {
        let mut a = linux_syn();
        a.insert(Field::TcpAckRaw, 1u32);
        assert!(!with_quirks(a.clone())
            .get(Field::SynlabQuirks)
            .unwrap()
            .to_string()
            .contains("ack+"));
        a.insert(Field::TcpAckRaw, 0x0100_0000u32);
        assert_eq!(
            with_quirks(a).get(Field::SynlabQuirks),
            Some(&Value::from("df,id+,ack+"))
        );
    }
}
