//! The Internet checksum (RFC 1071) through etherparse's summing, and the
//! pseudo-headers TCP and ICMPv6 add to it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::checksum::Sum16BitWords;

/// The ones' complement of the ones' complement sum of `bytes`, in the
/// byte order to write at the checksum's place.
pub fn of(bytes: &[u8]) -> [u8; 2] {
    Sum16BitWords::new()
        .add_slice(bytes)
        .ones_complement()
        .to_ne_bytes()
}

/// The addresses an upper-layer checksum covers, of one IP version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudoHeader {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl PseudoHeader {
    /// `None` when the addresses are not of one version.
    pub fn new(src: IpAddr, dst: IpAddr) -> Option<PseudoHeader> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(PseudoHeader::V4 { src, dst }),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(PseudoHeader::V6 { src, dst }),
            _ => None,
        }
    }

    /// The checksum of an upper-layer packet of `protocol` (its checksum
    /// field zero) behind this pseudo-header (RFC 793; RFC 8200 section
    /// 8.1), in the byte order to write.
    pub fn checksum(&self, protocol: u8, bytes: &[u8]) -> [u8; 2] {
        let sum = match self {
            PseudoHeader::V4 { src, dst } => Sum16BitWords::new()
                .add_slice(&src.octets())
                .add_slice(&dst.octets())
                .add_2bytes([0, protocol])
                .add_2bytes((bytes.len() as u16).to_be_bytes()),
            PseudoHeader::V6 { src, dst } => Sum16BitWords::new()
                .add_slice(&src.octets())
                .add_slice(&dst.octets())
                .add_slice(&(bytes.len() as u32).to_be_bytes())
                .add_slice(&[0, 0, 0, protocol]),
        };
        sum.add_slice(bytes).ones_complement().to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071's example words, and a header whose checksum verifies to 0.
    #[test]
    fn sums_fold_and_complement() {
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(u16::from_be_bytes(of(&words)), !0xddf2);
        let mut header = [
            0x45, 0, 0, 0x3c, 0x42, 0x42, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 130,
        ];
        let sum = of(&header);
        header[10..12].copy_from_slice(&sum);
        assert_eq!(of(&header), [0, 0]);
    }
}
