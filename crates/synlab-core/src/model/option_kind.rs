//! The kinds of TCP option, by IANA number: a leaf both the vocabulary
//! (which attribute belongs to which option) and the option parser use, so
//! neither imports the other for it.

/// Option kind numbers (IANA).
pub(super) mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WS: u8 = 3;
    pub const SOK: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TS: u8 = 8;
    pub const MD5: u8 = 19;
    pub const AO: u8 = 29;
    pub const MPTCP: u8 = 30;
    pub const TFO: u8 = 34;
}

/// What an option is, whatever its value or padding: the kinds Wireshark
/// names (each has a presence attribute, `tcp.options.<name>`), and the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OptionKind {
    Eol,
    Nop,
    Mss,
    Ws,
    Sok,
    Sack,
    Ts,
    Md5,
    Ao,
    Mptcp,
    Tfo,
    /// A kind with no name here: its data is `synlab.tcp.option.<KIND>`.
    Other(u8),
}

impl OptionKind {
    pub fn from_number(n: u8) -> OptionKind {
        match n {
            kind::EOL => OptionKind::Eol,
            kind::NOP => OptionKind::Nop,
            kind::MSS => OptionKind::Mss,
            kind::WS => OptionKind::Ws,
            kind::SOK => OptionKind::Sok,
            kind::SACK => OptionKind::Sack,
            kind::TS => OptionKind::Ts,
            kind::MD5 => OptionKind::Md5,
            kind::AO => OptionKind::Ao,
            kind::MPTCP => OptionKind::Mptcp,
            kind::TFO => OptionKind::Tfo,
            other => OptionKind::Other(other),
        }
    }

    /// The kind number on the wire.
    pub fn number(self) -> u8 {
        match self {
            OptionKind::Eol => kind::EOL,
            OptionKind::Nop => kind::NOP,
            OptionKind::Mss => kind::MSS,
            OptionKind::Ws => kind::WS,
            OptionKind::Sok => kind::SOK,
            OptionKind::Sack => kind::SACK,
            OptionKind::Ts => kind::TS,
            OptionKind::Md5 => kind::MD5,
            OptionKind::Ao => kind::AO,
            OptionKind::Mptcp => kind::MPTCP,
            OptionKind::Tfo => kind::TFO,
            OptionKind::Other(n) => n,
        }
    }
}
