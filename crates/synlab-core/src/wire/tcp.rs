//! TCP (RFC 9293): where the header is written, once.
//!
//! The view reads the fixed header and hands out the options area as
//! bytes; `model::TcpOption` parses and emits those (their order and
//! padding are attributes). [`Repr`] writes a segment: header, options
//! padded with NOPs to a 32-bit boundary, payload, and the checksum
//! behind the IP pseudo-header.

use super::checksum::PseudoHeader;
use super::{need, Bits, Error};

/// The header's fields, as RFC 9293 draws them.
pub mod field {
    use super::Bits;

    pub const SRC_PORT: Bits = Bits::new(0, 16);
    pub const DST_PORT: Bits = Bits::new(16, 16);
    pub const SEQ_NUM: Bits = Bits::new(32, 32);
    pub const ACK_NUM: Bits = Bits::new(64, 32);
    /// The header length in 32-bit words.
    pub const DATA_OFFSET: Bits = Bits::new(96, 4);
    /// All twelve flag bits, reserved ones first.
    pub const FLAGS: Bits = Bits::new(100, 12);
    pub const FLAG_RES: Bits = Bits::new(100, 3);
    /// AccECN (RFC 9768), formerly NS.
    pub const FLAG_AE: Bits = Bits::new(103, 1);
    pub const FLAG_CWR: Bits = Bits::new(104, 1);
    pub const FLAG_ECE: Bits = Bits::new(105, 1);
    pub const FLAG_URG: Bits = Bits::new(106, 1);
    pub const FLAG_ACK: Bits = Bits::new(107, 1);
    pub const FLAG_PSH: Bits = Bits::new(108, 1);
    pub const FLAG_RST: Bits = Bits::new(109, 1);
    pub const FLAG_SYN: Bits = Bits::new(110, 1);
    pub const FLAG_FIN: Bits = Bits::new(111, 1);
    pub const WINDOW: Bits = Bits::new(112, 16);
    pub const CHECKSUM: Bits = Bits::new(128, 16);
    pub const URGENT: Bits = Bits::new(144, 16);
    /// Options, up to the data offset.
    pub const OPTIONS: usize = 20;
}

/// The header without options.
pub const HEADER_LEN: usize = 20;
/// The most option bytes a header holds (data offset 15).
pub const MAX_OPTIONS_LEN: usize = 40;
/// The IP protocol number.
pub const PROTOCOL: u8 = 6;

/// A view over a TCP segment, possibly cut by the capture after its
/// fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over at least the fixed header. The data offset is not
    /// judged here: [`Packet::options`] and [`Packet::payload`] hand out
    /// what is there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The bytes the view was made over.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn get(&self, f: Bits) -> u64 {
        f.read(self.buffer.as_ref())
    }

    pub fn src_port(&self) -> u16 {
        self.get(field::SRC_PORT) as u16
    }
    pub fn dst_port(&self) -> u16 {
        self.get(field::DST_PORT) as u16
    }
    pub fn seq_number(&self) -> u32 {
        self.get(field::SEQ_NUM) as u32
    }
    pub fn ack_number(&self) -> u32 {
        self.get(field::ACK_NUM) as u32
    }
    /// The data offset field (32-bit words; below 5 is malformed).
    pub fn data_offset(&self) -> u8 {
        self.get(field::DATA_OFFSET) as u8
    }
    /// The header length in bytes the data offset says.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }
    /// The twelve flag bits (FIN is bit 0).
    pub fn flags(&self) -> u16 {
        self.get(field::FLAGS) as u16
    }
    pub fn window_len(&self) -> u16 {
        self.get(field::WINDOW) as u16
    }
    pub fn checksum(&self) -> u16 {
        self.get(field::CHECKSUM) as u16
    }
    pub fn urgent_at(&self) -> u16 {
        self.get(field::URGENT) as u16
    }
    /// The options area as captured: from the fixed header to the data
    /// offset or the end of the buffer, whichever comes first.
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = b.len().min(self.header_len()).max(field::OPTIONS);
        b.get(field::OPTIONS..end).unwrap_or_default()
    }
    /// What follows the header, as far as the buffer goes.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(self.header_len().max(HEADER_LEN)..)
            .unwrap_or_default()
    }
    /// The checksum is right for this whole buffer behind `pseudo`.
    pub fn verify_checksum(&self, pseudo: &PseudoHeader) -> bool {
        pseudo.checksum(PROTOCOL, self.buffer.as_ref()) == [0, 0]
    }
}

/// A TCP segment as meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The twelve flag bits after the data offset.
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    /// The options' bytes (`model::TcpOption::emit`), at most 40; padded
    /// with NOPs to a multiple of 4 when written.
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// The meaning of a segment: the options as captured, the payload
    /// after the data offset.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Repr<'a> {
        Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options: packet.options(),
            payload: packet.payload(),
        }
    }

    fn options_len(&self) -> usize {
        self.options.len().min(MAX_OPTIONS_LEN)
    }

    /// The header's length: the options rounded up to 32 bits.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len().next_multiple_of(4)
    }

    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Append the segment, its checksum behind `pseudo`.
    pub fn emit(&self, pseudo: &PseudoHeader, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let h = &mut out[start..];
        for (f, v) in [
            (field::SRC_PORT, u64::from(self.src_port)),
            (field::DST_PORT, u64::from(self.dst_port)),
            (field::SEQ_NUM, u64::from(self.seq)),
            (field::ACK_NUM, u64::from(self.ack)),
            (field::DATA_OFFSET, self.header_len() as u64 / 4),
            (field::FLAGS, u64::from(self.flags)),
            (field::WINDOW, u64::from(self.window)),
            (field::URGENT, u64::from(self.urgent)),
        ] {
            f.write(h, v);
        }
        out.extend_from_slice(&self.options[..self.options_len()]);
        out.resize(start + self.header_len(), 1);
        out.extend_from_slice(self.payload);
        let sum = pseudo.checksum(PROTOCOL, &out[start..]);
        out[start..][field::CHECKSUM.bytes()].copy_from_slice(&sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Linux SYN from 198.18.0.2:40000 to 198.18.0.130:80: MSS 1460,
    /// SACK permitted, timestamps, NOP, window scale 7.
    static SEGMENT_BYTES: [u8; 40] = [
        0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x1f, 0xa1, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    static OPTION_BYTES: [u8; 20] = [
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn pseudo() -> PseudoHeader {
        PseudoHeader::V4 {
            src: [198, 18, 0, 2].into(),
            dst: [198, 18, 0, 130].into(),
        }
    }

    fn repr() -> Repr<'static> {
        Repr {
            src_port: 40000,
            dst_port: 80,
            seq: 1000,
            ack: 0,
            flags: 0x002,
            window: 64240,
            urgent: 0,
            options: &OPTION_BYTES,
            payload: &[],
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&SEGMENT_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.src_port(), p.dst_port()), (40000, 80));
        assert_eq!((p.seq_number(), p.ack_number()), (1000, 0));
        assert_eq!(
            (p.data_offset(), p.header_len(), p.flags()),
            (10, 40, 0x002)
        );
        assert_eq!((p.window_len(), p.urgent_at()), (64240, 0));
        assert_eq!(p.checksum(), 0x1fa1);
        assert_eq!(p.options(), OPTION_BYTES);
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum(&pseudo()));
    }

    #[test]
    fn test_construct() {
        let mut out = Vec::new();
        repr().emit(&pseudo(), &mut out);
        assert_eq!(out, SEGMENT_BYTES);
        assert_eq!(out.len(), repr().buffer_len());
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&SEGMENT_BYTES[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Repr::parse(&p), repr());
    }

    #[test]
    fn test_emit_pads_options_with_nops_and_carries_the_payload() {
        let r = Repr {
            options: &[2, 4, 5, 0xb4, 4, 2],
            payload: b"GET /",
            flags: 0x018,
            ..repr()
        };
        let mut out = vec![0xee];
        r.emit(&pseudo(), &mut out);
        let p = Packet::new_checked(&out[1..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.options(), [2, 4, 5, 0xb4, 4, 2, 1, 1]);
        assert_eq!(p.payload(), b"GET /");
        assert_eq!(out.len(), 1 + r.buffer_len());
        assert!(p.verify_checksum(&pseudo()));
    }

    /// A capture cut inside the options: the view hands out what is there.
    #[test]
    fn cut_or_lying_headers_read_as_far_as_they_go() {
        let cut = Packet::new_checked(&SEGMENT_BYTES[..30]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cut.options(), &OPTION_BYTES[..10]);
        assert!(cut.payload().is_empty());
        let mut low = SEGMENT_BYTES;
        low[12] = 0x20;
        let low = Packet::new_unchecked(&low[..]);
        assert_eq!((low.header_len(), low.options().len()), (8, 0));
        assert_eq!(low.payload().len(), 20);
        assert_eq!(
            Packet::new_checked(&SEGMENT_BYTES[..19]).err(),
            Some(Error::Truncated { need: 20, len: 19 })
        );
    }

    /// The flag bits' places agree with the one mask of all twelve.
    #[test]
    fn flag_fields_are_bits_of_the_flags_field() {
        for (f, bit) in [
            (field::FLAG_FIN, 0x001),
            (field::FLAG_SYN, 0x002),
            (field::FLAG_RST, 0x004),
            (field::FLAG_PSH, 0x008),
            (field::FLAG_ACK, 0x010),
            (field::FLAG_URG, 0x020),
            (field::FLAG_ECE, 0x040),
            (field::FLAG_CWR, 0x080),
            (field::FLAG_AE, 0x100),
            (field::FLAG_RES, 0xe00),
        ] {
            let mut b = [0u8; 20];
            f.write(&mut b, u64::MAX);
            assert_eq!(Packet::new_unchecked(&b[..]).flags(), bit, "{f:?}");
        }
    }
}
