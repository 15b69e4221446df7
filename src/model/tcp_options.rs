//! TCP options: parsed in wire order, because the order itself is one of the
//! attributes that tells stacks apart (p0f's `olayout`).

/// One TCP option as it appeared on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list, and how many bytes of the header follow it.
    Eol {
        padding: usize,
    },
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(&'a [u8]),
    Timestamp {
        tsval: u32,
        tsecr: u32,
    },
    /// Any other kind, with its data (the bytes after kind and length).
    Other {
        kind: u8,
        data: &'a [u8],
    },
}

impl TcpOption<'_> {
    /// The option's name in p0f v3 `olayout` notation.
    pub fn p0f_name(&self) -> String {
        match self {
            TcpOption::Eol { padding } => format!("eol+{padding}"),
            TcpOption::Nop => "nop".into(),
            TcpOption::Mss(_) => "mss".into(),
            TcpOption::WindowScale(_) => "ws".into(),
            TcpOption::SackPermitted => "sok".into(),
            TcpOption::Sack(_) => "sack".into(),
            TcpOption::Timestamp { .. } => "ts".into(),
            TcpOption::Other { kind, .. } => format!("?{kind}"),
        }
    }
}

/// The result of walking an options area.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionsParse<'a> {
    pub options: Vec<TcpOption<'a>>,
    /// An option's length byte was wrong, or ran past the header (p0f's `bad`).
    pub malformed: bool,
    /// Bytes after an EOL were not all zero (p0f's `opt+`).
    pub nonzero_after_eol: bool,
    /// The capture ended inside the options area (snaplen); what came before is kept.
    pub truncated: bool,
}

/// Walk a TCP options area.
///
/// `area` is the options bytes that were captured and `declared_len` the
/// options length the header's data offset claims; when the capture holds
/// fewer bytes the walk stops at the cut and sets `truncated`, as tshark
/// marks "[Packet size limited during capture]".
pub fn parse_options(area: &[u8], declared_len: usize) -> OptionsParse<'_> {
    let mut out = OptionsParse {
        truncated: area.len() < declared_len,
        ..OptionsParse::default()
    };
    let end = area.len().min(declared_len);
    let area = &area[..end];
    let mut i = 0;
    while i < area.len() {
        let kind = area[i];
        match kind {
            0 => {
                let rest = &area[i + 1..];
                out.nonzero_after_eol = rest.iter().any(|&b| b != 0);
                out.options.push(TcpOption::Eol {
                    padding: declared_len - i - 1,
                });
                return out;
            }
            1 => {
                out.options.push(TcpOption::Nop);
                i += 1;
            }
            _ => match option_at(area, i, declared_len) {
                Step::Option(opt, len) => {
                    out.options.push(opt);
                    i += len;
                }
                Step::Cut => return out,
                Step::Malformed(opt) => {
                    out.malformed = true;
                    out.options.extend(opt);
                    return out;
                }
            },
        }
    }
    out
}

enum Step<'a> {
    Option(TcpOption<'a>, usize),
    /// The capture ends inside this option.
    Cut,
    /// A length that cannot be right; the option is kept when its kind is known.
    Malformed(Option<TcpOption<'a>>),
}

fn option_at(area: &[u8], i: usize, declared_len: usize) -> Step<'_> {
    let kind = area[i];
    let Some(&len) = area.get(i + 1) else {
        return if i + 1 < declared_len {
            Step::Cut
        } else {
            Step::Malformed(None)
        };
    };
    let len = usize::from(len);
    if len < 2 || i + len > declared_len {
        return Step::Malformed(Some(TcpOption::Other { kind, data: &[] }));
    }
    let Some(data) = area.get(i + 2..i + len) else {
        return Step::Cut;
    };
    let opt = match (kind, data.len()) {
        (2, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
        (3, 1) => TcpOption::WindowScale(data[0]),
        (4, 0) => TcpOption::SackPermitted,
        (5, _) => TcpOption::Sack(data),
        (8, 8) => TcpOption::Timestamp {
            tsval: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
            tsecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        },
        (2..=4 | 8, _) => {
            return Step::Malformed(Some(TcpOption::Other { kind, data }));
        }
        _ => TcpOption::Other { kind, data },
    };
    Step::Option(opt, len)
}

/// The option layout in p0f notation, e.g. `mss,sok,ts,nop,ws`.
pub(crate) fn layout(options: &[TcpOption<'_>]) -> String {
    options
        .iter()
        .map(TcpOption::p0f_name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn linux_layout() {
        let p = parse_options(&LINUX, 20);
        assert_eq!(layout(&p.options), "mss,sok,ts,nop,ws");
        assert_eq!(p.options[0], TcpOption::Mss(1460));
        assert_eq!(p.options[4], TcpOption::WindowScale(7));
        assert!(!p.malformed && !p.truncated && !p.nonzero_after_eol);
    }

    #[test]
    fn eol_padding_counts_bytes_after_eol() {
        let p = parse_options(&[2, 4, 5, 0xb4, 0, 0, 0, 0], 8);
        assert_eq!(layout(&p.options), "mss,eol+3");
        let p = parse_options(&[2, 4, 5, 0xb4, 0, 0, 9, 0], 8);
        assert!(p.nonzero_after_eol);
    }

    #[test]
    fn truncated_area_keeps_what_came_before() {
        let p = parse_options(&LINUX[..9], 20);
        assert!(p.truncated && !p.malformed);
        assert_eq!(layout(&p.options), "mss,sok");
    }

    #[test]
    fn bad_lengths_are_malformed_not_panics() {
        for area in [&[2u8, 0][..], &[2, 1], &[2, 9, 0, 0], &[3, 4, 0, 0], &[8]] {
            let p = parse_options(area, area.len());
            assert!(p.malformed, "{area:?}");
        }
    }

    #[test]
    fn unknown_kind_is_kept_with_data() {
        let p = parse_options(&[30, 4, 0xab, 0xcd], 4);
        assert_eq!(
            p.options,
            vec![TcpOption::Other {
                kind: 30,
                data: &[0xab, 0xcd]
            }]
        );
        assert_eq!(layout(&p.options), "?30");
    }
}
