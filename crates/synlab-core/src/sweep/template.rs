//! A profile's SYN crafted once, then patched per probe: addresses, source
//! port, sequence number, IP ID (IPv4) or flow label (IPv6), and both
//! checksums. Crafting from attributes per probe is what `probe` does for
//! a handful of SYNs; a sweep sends hundreds of thousands a second, and
//! every probe of a profile differs from the others only in these fields.
//! The TCP timestamp stays the one crafted (a SYN to a listener is not
//! PAWS-checked).

use std::net::{IpAddr, SocketAddr};

use crate::model::craft::{self, CraftError, Volatile};
use crate::model::Attributes;
use crate::wire::checksum::{self, PseudoHeader};

/// Offsets in an IPv4 header.
const V4_ID: usize = 4;
const V4_CHECKSUM: usize = 10;
const V4_SRC: usize = 12;
const V4_DST: usize = 16;
/// The IPv6 header's fixed length and address offsets.
const V6_LEN: usize = 40;
const V6_SRC: usize = 8;
const V6_DST: usize = 24;
/// Offsets in a TCP header.
const TCP_SEQ: usize = 4;
const TCP_CHECKSUM: usize = 16;
const TCP_PROTOCOL: u8 = 6;

/// A crafted SYN and where its TCP header starts.
#[derive(Clone, Debug)]
pub struct SynTemplate {
    bytes: Vec<u8>,
    tcp: usize,
    v6: bool,
}

impl SynTemplate {
    /// Craft `attrs` once (the volatile fields are patched per probe).
    pub fn new(attrs: &Attributes, v: &Volatile) -> Result<Self, CraftError> {
        let bytes = craft::build_packet(attrs, v)?;
        let v6 = v.dst.is_ipv6();
        let tcp = match v6 {
            true => V6_LEN,
            false => usize::from(bytes.first().copied().unwrap_or(0x45) & 0x0f) * 4,
        };
        if bytes.len() < tcp + 20 {
            return Err(CraftError::Missing("a TCP header after the IP header"));
        }
        Ok(SynTemplate { bytes, tcp, v6 })
    }

    /// This probe's SYN, written into `out` (cleared first): the
    /// template with `src`, `dst` (address and port), `sport`, `seq` and
    /// the IP ID or flow label derived from `seq`, as `probe` derives them.
    pub fn fill(&self, out: &mut Vec<u8>, src: IpAddr, dst: SocketAddr, sport: u16, seq: u32) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        match (src, dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) if !self.v6 => {
                let id = ((seq >> 16) as u16 ^ seq as u16).max(1);
                out[V4_ID..V4_ID + 2].copy_from_slice(&id.to_be_bytes());
                out[V4_SRC..V4_SRC + 4].copy_from_slice(&s.octets());
                out[V4_DST..V4_DST + 4].copy_from_slice(&d.octets());
                out[V4_CHECKSUM..V4_CHECKSUM + 2].fill(0);
                let sum = checksum::of(&out[..self.tcp]);
                out[V4_CHECKSUM..V4_CHECKSUM + 2].copy_from_slice(&sum);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) if self.v6 => {
                let label = seq & 0xfffff;
                out[1] = (out[1] & 0xf0) | (label >> 16) as u8;
                out[2..4].copy_from_slice(&(label as u16).to_be_bytes());
                out[V6_SRC..V6_SRC + 16].copy_from_slice(&s.octets());
                out[V6_DST..V6_DST + 16].copy_from_slice(&d.octets());
            }
            // Another version than the template's: left as crafted.
            _ => return,
        }
        let t = self.tcp;
        out[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        out[t + 2..t + 4].copy_from_slice(&dst.port().to_be_bytes());
        out[t + TCP_SEQ..t + TCP_SEQ + 4].copy_from_slice(&seq.to_be_bytes());
        out[t + TCP_CHECKSUM..t + TCP_CHECKSUM + 2].fill(0);
        if let Some(ph) = PseudoHeader::new(src, dst.ip()) {
            let sum = ph.checksum(TCP_PROTOCOL, &out[t..]);
            out[t + TCP_CHECKSUM..t + TCP_CHECKSUM + 2].copy_from_slice(&sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::linux_example;
    use std::net::SocketAddr;

    fn vol(src: &str, dst: &str, seq: u32) -> Volatile {
        let src: SocketAddr = src.parse().unwrap_or_else(|e| panic!("{e}"));
        let dst: SocketAddr = dst.parse().unwrap_or_else(|e| panic!("{e}"));
        let id = ((seq >> 16) as u16 ^ seq as u16).max(1);
        Volatile {
            src,
            dst,
            seq,
            ack: 0,
            ip_id: id,
            flow_label: seq & 0xfffff,
            tsval: 1000,
            tsecr: 0,
        }
    }

    /// A patched template is byte for byte the SYN crafted with the same
    /// values, checksums included, for IPv4 and IPv6.
    #[test]
    fn a_patched_template_is_the_crafted_syn() {
        for (a, b, c) in [
            ("198.18.0.2:1", "198.18.0.130:80", "198.19.7.9:443"),
            ("[2001:2::2]:1", "[2001:2::9]:80", "[2001:2:0:5::77]:443"),
        ] {
            let attrs = crate::probe::for_family(&linux_example(), a.starts_with('['));
            let t = SynTemplate::new(&attrs, &vol(a, b, 1)).unwrap_or_else(|e| panic!("{e}"));
            let want_v = vol(&a.replace(":1", ":40123"), c, 0xdead_beef);
            let want = craft::build_packet(&attrs, &want_v).unwrap_or_else(|e| panic!("{e}"));
            let mut got = Vec::new();
            t.fill(&mut got, want_v.src.ip(), want_v.dst, 40123, 0xdead_beef);
            assert_eq!(got, want, "{c}");
        }
    }
}
