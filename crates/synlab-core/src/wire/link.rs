//! The link layers a capture can carry (tcpdump.org's LINKTYPE_ numbers)
//! and the fixed headers among them, read by the decoder's fast path and
//! its lax path alike; Ethernet II written for the pcap files synlab
//! makes.

/// Link-layer header types synlab reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    Null,
    Ethernet,
    /// Raw IPv4 or IPv6, version from the first nibble.
    Raw,
    /// OpenBSD loopback: 4-byte address family, network byte order.
    Loop,
    LinuxSll,
    LinuxSll2,
    Ipv4,
    Ipv6,
    /// ARCNET with Linux's header (source, destination, 2-byte offset, then
    /// the RFC 1201 or RFC 1051 header): old Linux captures use it.
    ArcnetLinux,
}

impl LinkType {
    /// The link type for a LINKTYPE_ number, if synlab reads it.
    pub fn from_linktype(n: u32) -> Option<LinkType> {
        Some(match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            129 => LinkType::ArcnetLinux,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            _ => return None,
        })
    }

    /// The LINKTYPE_ number a file of this type is written with.
    pub fn number(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::ArcnetLinux => 129,
            LinkType::LinuxSll2 => 276,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
        }
    }
}

/// A fixed-length link header: where its EtherType is, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkHeader {
    pub proto_at: usize,
    pub len: usize,
}

impl LinkHeader {
    /// The EtherType, when the header is there.
    pub fn ether_type(self, frame: &[u8]) -> Option<u16> {
        let b = frame.get(self.proto_at..self.proto_at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Ethernet II without VLAN tags (destination, source, EtherType).
pub const ETHERNET: LinkHeader = LinkHeader {
    proto_at: 12,
    len: 14,
};
/// Linux cooked capture v1: the protocol after 14 bytes of address data.
pub const LINUX_SLL: LinkHeader = LinkHeader {
    proto_at: 14,
    len: 16,
};
/// Linux cooked capture v2: the protocol first, 20 bytes in all.
pub const LINUX_SLL2: LinkHeader = LinkHeader {
    proto_at: 0,
    len: 20,
};

/// EtherTypes synlab writes.
pub const ETHER_TYPE_IPV4: u16 = 0x0800;
pub const ETHER_TYPE_IPV6: u16 = 0x86dd;

/// An IP packet in an Ethernet II frame, the EtherType from its version.
pub fn ethernet_frame(ip: &[u8], src_mac: [u8; 6], dst_mac: [u8; 6]) -> Vec<u8> {
    let ether_type = if ip.first().map(|b| b >> 4) == Some(6) {
        ETHER_TYPE_IPV6
    } else {
        ETHER_TYPE_IPV4
    };
    let mut f = Vec::with_capacity(ETHERNET.len + ip.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    static FRAME_BYTES: [u8; 16] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60, 0];

    #[test]
    fn ethernet_is_written_and_read_at_one_place() {
        let f = ethernet_frame(&[0x60, 0], [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]);
        assert_eq!(f, FRAME_BYTES);
        assert_eq!(ETHERNET.ether_type(&f), Some(ETHER_TYPE_IPV6));
        assert_eq!(LINUX_SLL.ether_type(&f), Some(0x6000));
        assert_eq!(LINUX_SLL.ether_type(&f[..15]), None);
    }

    #[test]
    fn numbers_round_trip() {
        for n in 0..300 {
            if let Some(link) = LinkType::from_linktype(n) {
                assert_eq!(LinkType::from_linktype(link.number()), Some(link));
            }
        }
        assert_eq!(LinkType::Raw.number(), 101);
    }
}
