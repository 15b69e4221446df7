//! p0f v3 notions derived from a packet's attributes: the initial TTL guess,
//! the quirks, and the signature string (`ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass`).
//! See p0f's README section 5 ("Signature format").

use super::attributes::{Attributes, Value};
use super::options::OptionsParse;
use super::vocab::Field;

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

/// p0f v3 quirks of a packet, in p0f's order.
pub fn quirks(a: &Attributes, opts: &OptionsParse<'_>) -> Vec<&'static str> {
    let mut q = Vec::new();
    let v4 = a.contains(Field::IpVersion);
    let syn_only = flag(a, Field::TcpFlagsSyn) && !flag(a, Field::TcpFlagsAck);
    if v4 {
        let df = flag(a, Field::IpFlagsDf);
        let id = num(a, Field::IpId).unwrap_or(0);
        if df {
            q.push("df");
        }
        if df && id != 0 {
            q.push("id+");
        }
        if !df && id == 0 {
            q.push("id-");
        }
    }
    let ip_ecn = num(a, Field::IpDsfieldEcn)
        .or_else(|| num(a, Field::Ipv6TclassEcn))
        .unwrap_or(0);
    let tcp_ecn = [Field::TcpFlagsEce, Field::TcpFlagsCwr, Field::TcpFlagsAe]
        .iter()
        .any(|&f| flag(a, f));
    if ip_ecn != 0 || tcp_ecn {
        q.push("ecn");
    }
    if v4 && flag(a, Field::IpFlagsRb) {
        q.push("0+");
    }
    if num(a, Field::Ipv6Flow).unwrap_or(0) != 0 {
        q.push("flow");
    }
    if num(a, Field::TcpSeqRaw) == Some(0) {
        q.push("seq-");
    }
    let ack = num(a, Field::TcpAckRaw).unwrap_or(0);
    if flag(a, Field::TcpFlagsAck) {
        if ack == 0 {
            q.push("ack-");
        }
    } else if ack != 0 {
        q.push("ack+");
    }
    let urg = flag(a, Field::TcpFlagsUrg);
    if !urg && num(a, Field::TcpUrgentPointer).unwrap_or(0) != 0 {
        q.push("uptr+");
    }
    if urg {
        q.push("urgf+");
    }
    if flag(a, Field::TcpFlagsPush) {
        q.push("pushf+");
    }
    if num(a, Field::TcpOptionsTimestampTsval) == Some(0) {
        q.push("ts1-");
    }
    if syn_only && num(a, Field::TcpOptionsTimestampTsecr).unwrap_or(0) != 0 {
        q.push("ts2+");
    }
    if opts.nonzero_after_eol {
        q.push("opt+");
    }
    if num(a, Field::TcpOptionsWscaleShift).unwrap_or(0) > 14 {
        q.push("exws");
    }
    if opts.malformed {
        q.push("bad");
    }
    q
}

/// The packet's p0f v3 signature, as p0f's `raw_sig`: the observed TTL
/// appears as `ITTL+DISTANCE`, the window as `mss*N` when it is a multiple of
/// the MSS.
pub fn signature(a: &Attributes) -> Option<String> {
    let ver = if a.contains(Field::IpVersion) { 4 } else { 6 };
    let ttl = seen_ttl(a)?;
    let ittl = guess_ittl(ttl);
    let olen = match a.get(Field::SynlabIpOptions) {
        Some(Value::Str(h)) => h.len() / 2,
        _ => 0,
    };
    let mss = num(a, Field::TcpOptionsMssVal);
    let win = num(a, Field::TcpWindowSizeValue)?;
    let wsize = match mss {
        Some(m) if m > 0 && win > 0 && win % m == 0 => format!("mss*{}", win / m),
        _ => win.to_string(),
    };
    let scale = num(a, Field::TcpOptionsWscaleShift).unwrap_or(0);
    let layout = match a.get(Field::SynlabOptionsLayout) {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let quirks = match a.get(Field::SynlabQuirks) {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let pclass = if num(a, Field::TcpLen).unwrap_or(0) == 0 {
        "0"
    } else {
        "+"
    };
    let mss = mss.map_or("*".to_string(), |m| m.to_string());
    Some(format!(
        "{ver}:{ittl}+{dist}:{olen}:{mss}:{wsize},{scale}:{layout}:{quirks}:{pclass}",
        dist = ittl - ttl
    ))
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

    #[test]
    fn linux_signature() {
        let mut a = Attributes::new();
        a.insert(Field::IpVersion, 4u8);
        a.insert(Field::IpTtl, 63u8);
        a.insert(Field::IpFlagsDf, true);
        a.insert(Field::IpId, 0x1234u16);
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
        let q = quirks(&a, &OptionsParse::default());
        assert_eq!(q, vec!["df", "id+"]);
        a.insert(Field::SynlabQuirks, q.join(","));
        assert_eq!(
            signature(&a).as_deref(),
            Some("4:64+1:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0")
        );
    }
}
