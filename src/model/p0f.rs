//! p0f v3 notions derived from a packet's attributes: the initial TTL guess,
//! the quirks, and the signature string (`ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass`).
//! See p0f's README section 5 ("Signature format").

use super::attributes::{Attributes, Value};
use super::tcp_options::OptionsParse;

fn num(a: &Attributes, name: &str) -> Option<u64> {
    a.get(name).and_then(Value::as_u64)
}

fn flag(a: &Attributes, name: &str) -> bool {
    matches!(a.get(name), Some(Value::Bool(true)))
}

/// The TTL or hop limit as seen.
fn seen_ttl(a: &Attributes) -> Option<u64> {
    num(a, "ip.ttl").or_else(|| num(a, "ipv6.hlim"))
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
    let v4 = a.contains("ip.version");
    let syn_only = flag(a, "tcp.flags.syn") && !flag(a, "tcp.flags.ack");
    if v4 {
        let df = flag(a, "ip.flags.df");
        let id = num(a, "ip.id").unwrap_or(0);
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
    let ip_ecn = num(a, "ip.dsfield.ecn")
        .or_else(|| num(a, "ipv6.tclass.ecn"))
        .unwrap_or(0);
    let tcp_ecn = ["tcp.flags.ece", "tcp.flags.cwr", "tcp.flags.ae"]
        .iter()
        .any(|f| flag(a, f));
    if ip_ecn != 0 || tcp_ecn {
        q.push("ecn");
    }
    if v4 && flag(a, "ip.flags.rb") {
        q.push("0+");
    }
    if num(a, "ipv6.flow").unwrap_or(0) != 0 {
        q.push("flow");
    }
    if num(a, "tcp.seq_raw") == Some(0) {
        q.push("seq-");
    }
    let ack = num(a, "tcp.ack_raw").unwrap_or(0);
    if flag(a, "tcp.flags.ack") {
        if ack == 0 {
            q.push("ack-");
        }
    } else if ack != 0 {
        q.push("ack+");
    }
    let urg = flag(a, "tcp.flags.urg");
    if !urg && num(a, "tcp.urgent_pointer").unwrap_or(0) != 0 {
        q.push("uptr+");
    }
    if urg {
        q.push("urgf+");
    }
    if flag(a, "tcp.flags.push") {
        q.push("pushf+");
    }
    if num(a, "tcp.options.timestamp.tsval") == Some(0) {
        q.push("ts1-");
    }
    if syn_only && num(a, "tcp.options.timestamp.tsecr").unwrap_or(0) != 0 {
        q.push("ts2+");
    }
    if opts.nonzero_after_eol {
        q.push("opt+");
    }
    if num(a, "tcp.options.wscale.shift").unwrap_or(0) > 14 {
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
    let ver = if a.contains("ip.version") { 4 } else { 6 };
    let ttl = seen_ttl(a)?;
    let ittl = guess_ittl(ttl);
    let olen = match a.get("synlab.ip.options") {
        Some(Value::Str(h)) => h.len() / 2,
        _ => 0,
    };
    let mss = num(a, "tcp.options.mss_val");
    let win = num(a, "tcp.window_size_value")?;
    let wsize = match mss {
        Some(m) if m > 0 && win > 0 && win % m == 0 => format!("mss*{}", win / m),
        _ => win.to_string(),
    };
    let scale = num(a, "tcp.options.wscale.shift").unwrap_or(0);
    let layout = match a.get("synlab.options.layout") {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let quirks = match a.get("synlab.quirks") {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let pclass = if num(a, "tcp.len").unwrap_or(0) == 0 {
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
        a.insert("ip.version", 4u8);
        a.insert("ip.ttl", 63u8);
        a.insert("ip.flags.df", true);
        a.insert("ip.id", 0x1234u16);
        a.insert("tcp.flags.syn", true);
        a.insert("tcp.seq_raw", 99u32);
        a.insert("tcp.ack_raw", 0u32);
        a.insert("tcp.window_size_value", 64240u16);
        a.insert("tcp.options.mss_val", 1460u16);
        a.insert("tcp.options.wscale.shift", 7u8);
        a.insert("tcp.options.timestamp.tsval", 5u32);
        a.insert("tcp.options.timestamp.tsecr", 0u32);
        a.insert("tcp.len", 0u32);
        a.insert("synlab.options.layout", "mss,sok,ts,nop,ws");
        let q = quirks(&a, &OptionsParse::default());
        assert_eq!(q, vec!["df", "id+"]);
        a.insert("synlab.quirks", q.join(","));
        assert_eq!(
            signature(&a).as_deref(),
            Some("4:64+1:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0")
        );
    }
}
