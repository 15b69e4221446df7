//! The TCP header's flags: the bits, and the one map between each bit and
//! its attribute (`tcp.flags.syn` …). In a file of its own so that what
//! reads flags without decoding (crafting, p0f's quirks) does not import
//! the decoder.

use super::vocab::Field;

/// TCP header flags, the 12 bits after the data offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
    pub const RESERVED: u16 = 0xe00;

    /// Each flag attribute and its bits: the one map between the two, for
    /// decoding and crafting. `tcp.flags.res` is true when any reserved bit
    /// is set; crafting sets the lowest.
    pub const FIELDS: [(Field, u16); 10] = [
        (Field::TcpFlagsRes, Self::RESERVED),
        (Field::TcpFlagsAe, Self::AE),
        (Field::TcpFlagsCwr, Self::CWR),
        (Field::TcpFlagsEce, Self::ECE),
        (Field::TcpFlagsUrg, Self::URG),
        (Field::TcpFlagsAck, Self::ACK),
        (Field::TcpFlagsPush, Self::PSH),
        (Field::TcpFlagsReset, Self::RST),
        (Field::TcpFlagsSyn, Self::SYN),
        (Field::TcpFlagsFin, Self::FIN),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    /// A connection-opening SYN (no ACK).
    pub fn is_syn(self) -> bool {
        self.has(Self::SYN) && !self.has(Self::ACK)
    }
    pub fn is_syn_ack(self) -> bool {
        self.has(Self::SYN) && self.has(Self::ACK)
    }
}
