//! Reading pcap and pcapng files, streamed in constant memory.
//!
//! pcap-file parses the headers and records; this module owns the read
//! buffer so that a bad record can be diagnosed precisely (which packet, what
//! is wrong) instead of surfacing as a bare end-of-file, and so that packets
//! cut by snaplen (original length above the snapshot length) are accepted,
//! as libpcap accepts them.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{Endianness, PcapError, TsResolution};
use thiserror::Error;

/// Largest record synlab accepts when a file declares no snapshot length
/// (libpcap's maximum snapshot length).
const MAX_SNAPLEN: u32 = 262_144;
const CHUNK: usize = 1 << 20;

/// What went wrong reading a capture, with the file and packet it concerns.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: read error at packet {number}: {source}")]
    Read {
        path: PathBuf,
        number: u64,
        #[source]
        source: io::Error,
    },
    #[error("{path}: empty file, not a capture")]
    Empty { path: PathBuf },
    #[error("{path}: not a pcap or pcapng file (magic number 0x{magic:08x})")]
    BadMagic { path: PathBuf, magic: u32 },
    #[error("{path}: file header truncated ({len} bytes)")]
    TruncatedHeader { path: PathBuf, len: usize },
    #[error("{path}: bad file header: {source}")]
    BadHeader {
        path: PathBuf,
        #[source]
        source: PcapError,
    },
    #[error(
        "{path}: packet {number}: record truncated: the file ends {missing} bytes short of it"
    )]
    TruncatedRecord {
        path: PathBuf,
        number: u64,
        missing: usize,
    },
    #[error("{path}: packet {number}: captured length {caplen} is larger than the snapshot length {snaplen}")]
    CaplenOverSnaplen {
        path: PathBuf,
        number: u64,
        caplen: u32,
        snaplen: u32,
    },
    #[error("{path}: packet {number}: captured length {caplen} is larger than the original length {orig_len}")]
    CaplenOverOrigLen {
        path: PathBuf,
        number: u64,
        caplen: u32,
        orig_len: u32,
    },
    #[error("{path}: packet {number}: corrupt pcapng block: {source}")]
    CorruptBlock {
        path: PathBuf,
        number: u64,
        #[source]
        source: PcapError,
    },
    #[error("{path}: packet {number}: refers to interface {interface}, which the file does not describe")]
    UnknownInterface {
        path: PathBuf,
        number: u64,
        interface: u32,
    },
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based, as tshark's `frame.number`.
    pub number: u64,
    /// Since the Unix epoch.
    pub timestamp: Duration,
    /// The LINKTYPE_ of the interface it was captured on.
    pub linktype: u32,
    /// Length on the wire; larger than `data` when snaplen cut it.
    pub orig_len: u32,
    pub data: &'a [u8],
}

enum Format {
    Pcap {
        parser: PcapParser,
        linktype: u32,
        snaplen: u32,
        big_endian: bool,
        nanos: bool,
    },
    PcapNg(Box<PcapNgParser>),
}

/// The read buffer: unread bytes are `buf[start..end]`.
struct Input<R> {
    source: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

/// A streaming reader over a pcap or pcapng file.
pub struct CaptureReader<R = File> {
    path: PathBuf,
    input: Input<R>,
    format: Format,
    number: u64,
}

impl CaptureReader<File> {
    /// Open a capture file; the format is told by its magic number.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::new(path, file)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Read a capture from any byte source; `path` names it in errors.
    pub fn new(path: &Path, source: R) -> Result<Self, CaptureError> {
        let mut input = Input {
            source,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
        };
        input.fill().map_err(|source| CaptureError::Read {
            path: path.to_owned(),
            number: 1,
            source,
        })?;
        let format = read_file_header(path, &mut input)?;
        Ok(CaptureReader {
            path: path.to_owned(),
            input,
            format,
            number: 0,
        })
    }

    /// The path given at opening.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next frame, `None` at the end of the file. After an error the
    /// reader should not be used again.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        loop {
            if self.input.start == self.input.end {
                match self.fill() {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            match self.try_record() {
                Ok(Some(range)) => return Some(Ok(self.frame_at(range))),
                Ok(None) => continue,
                Err(Incomplete::Need(missing)) => match self.fill() {
                    Err(e) => return Some(Err(e)),
                    Ok(0) => {
                        return Some(Err(CaptureError::TruncatedRecord {
                            path: self.path.clone(),
                            number: self.number + 1,
                            missing,
                        }))
                    }
                    Ok(_) => continue,
                },
                Err(Incomplete::Fatal(e)) => return Some(Err(e)),
            }
        }
    }

    fn fill(&mut self) -> Result<usize, CaptureError> {
        self.input.fill().map_err(|source| CaptureError::Read {
            path: self.path.clone(),
            number: self.number + 1,
            source,
        })
    }

    fn frame_at(&self, r: RecordRange) -> Frame<'_> {
        Frame {
            number: self.number,
            timestamp: r.timestamp,
            linktype: r.linktype,
            orig_len: r.orig_len,
            data: &self.input.buf[r.data.0..r.data.1],
        }
    }

    /// Parse one record from the buffer. `Ok(None)` is a block that is not a
    /// packet (pcapng interface descriptions, statistics, …).
    fn try_record(&mut self) -> Result<Option<RecordRange>, Incomplete> {
        let base = self.input.start;
        let avail = &self.input.buf[self.input.start..self.input.end];
        let number = self.number + 1;
        let path = &self.path;
        let parsed = match &mut self.format {
            Format::Pcap {
                parser,
                linktype,
                snaplen,
                big_endian,
                nanos,
            } => pcap_record(parser, avail, *linktype, *snaplen, *big_endian, *nanos)
                .map_err(|e| e.with(path, number))?,
            Format::PcapNg(parser) => {
                pcapng_record(parser, avail).map_err(|e| e.with(path, number))?
            }
        };
        self.input.start += parsed.consumed;
        Ok(parsed.packet.map(|mut p| {
            self.number = number;
            p.data = (base + p.data.0, base + p.data.1);
            p
        }))
    }
}

fn read_file_header<R>(path: &Path, input: &mut Input<R>) -> Result<Format, CaptureError> {
    let head = &input.buf[..input.end];
    let truncated = || CaptureError::TruncatedHeader {
        path: path.to_owned(),
        len: head.len(),
    };
    if head.is_empty() {
        return Err(CaptureError::Empty {
            path: path.to_owned(),
        });
    }
    if head.len() < 4 {
        return Err(truncated());
    }
    let bad_header = |source| match source {
        PcapError::IncompleteBuffer => truncated(),
        source => CaptureError::BadHeader {
            path: path.to_owned(),
            source,
        },
    };
    let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let (rem_len, format) = match magic {
        0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 => {
            let (rem, parser) = PcapParser::new(head).map_err(bad_header)?;
            let h = parser.header();
            let format = Format::Pcap {
                linktype: u32::from(h.datalink),
                snaplen: if h.snaplen == 0 {
                    MAX_SNAPLEN
                } else {
                    h.snaplen
                },
                big_endian: h.endianness == Endianness::Big,
                nanos: h.ts_resolution == TsResolution::NanoSecond,
                parser,
            };
            (rem.len(), format)
        }
        0x0a0d0d0a => {
            let (rem, parser) = PcapNgParser::new(head).map_err(bad_header)?;
            (rem.len(), Format::PcapNg(Box::new(parser)))
        }
        _ => {
            return Err(CaptureError::BadMagic {
                path: path.to_owned(),
                magic,
            })
        }
    };
    input.start = input.end - rem_len;
    Ok(format)
}

impl<R: Read> Input<R> {
    /// Move unread bytes to the front and read more; grow the buffer when a
    /// single record does not fit. Returns how many bytes were read.
    fn fill(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let mut total = 0;
        while self.end < self.buf.len() {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

/// Where a parsed record's data sits in the buffer, and its metadata.
struct RecordRange {
    timestamp: Duration,
    linktype: u32,
    orig_len: u32,
    data: (usize, usize),
}

struct Parsed {
    consumed: usize,
    packet: Option<RecordRange>,
}

enum Incomplete {
    /// More bytes needed (how many are known to be missing, 0 if unknown).
    Need(usize),
    Fatal(CaptureError),
}

/// A record-level problem before the file path and packet number are known.
enum RecordError {
    Need(usize),
    CaplenOverSnaplen { caplen: u32, snaplen: u32 },
    CaplenOverOrigLen { caplen: u32, orig_len: u32 },
    Corrupt(PcapError),
    UnknownInterface(u32),
}

impl RecordError {
    fn with(self, path: &Path, number: u64) -> Incomplete {
        let path = path.to_owned();
        Incomplete::Fatal(match self {
            RecordError::Need(n) => return Incomplete::Need(n),
            RecordError::CaplenOverSnaplen { caplen, snaplen } => CaptureError::CaplenOverSnaplen {
                path,
                number,
                caplen,
                snaplen,
            },
            RecordError::CaplenOverOrigLen { caplen, orig_len } => {
                CaptureError::CaplenOverOrigLen {
                    path,
                    number,
                    caplen,
                    orig_len,
                }
            }
            RecordError::Corrupt(source) => CaptureError::CorruptBlock {
                path,
                number,
                source,
            },
            RecordError::UnknownInterface(interface) => CaptureError::UnknownInterface {
                path,
                number,
                interface,
            },
        })
    }
}

fn pcap_record(
    parser: &PcapParser,
    avail: &[u8],
    linktype: u32,
    snaplen: u32,
    big_endian: bool,
    nanos: bool,
) -> Result<Parsed, RecordError> {
    // Check the lengths in the record header before asking for the data, so
    // a corrupt length is named as such rather than as a short file.
    if avail.len() >= 16 {
        let word = |at: usize| {
            let b = [avail[at], avail[at + 1], avail[at + 2], avail[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (caplen, orig_len) = (word(8), word(12));
        if caplen > snaplen {
            return Err(RecordError::CaplenOverSnaplen { caplen, snaplen });
        }
        if caplen > orig_len {
            return Err(RecordError::CaplenOverOrigLen { caplen, orig_len });
        }
        if avail.len() < 16 + caplen as usize {
            return Err(RecordError::Need(16 + caplen as usize - avail.len()));
        }
    }
    let (rem, raw) = match parser.next_raw_packet(avail) {
        Ok(ok) => ok,
        Err(PcapError::IncompleteBuffer) => {
            return Err(RecordError::Need(16 - avail.len().min(16)))
        }
        Err(e) => return Err(RecordError::Corrupt(e)),
    };
    let consumed = avail.len() - rem.len();
    let frac = if nanos {
        raw.ts_frac
    } else {
        raw.ts_frac.saturating_mul(1000)
    };
    let timestamp =
        Duration::from_secs(u64::from(raw.ts_sec)) + Duration::from_nanos(u64::from(frac));
    Ok(Parsed {
        consumed,
        packet: Some(RecordRange {
            timestamp,
            linktype,
            orig_len: raw.orig_len,
            data: (16, consumed),
        }),
    })
}

fn pcapng_record(parser: &mut PcapNgParser, avail: &[u8]) -> Result<Parsed, RecordError> {
    if avail.len() >= 8 {
        // The block's total length (its endianness is the section's; a
        // length below 12 or not a multiple of 4 is corrupt either way).
        let le = u32::from_le_bytes([avail[4], avail[5], avail[6], avail[7]]) as usize;
        let be = u32::from_be_bytes([avail[4], avail[5], avail[6], avail[7]]) as usize;
        let len = if parser.section().endianness == Endianness::Big {
            be
        } else {
            le
        };
        if len >= 12 && len % 4 == 0 && avail.len() < len {
            return Err(RecordError::Need(len - avail.len()));
        }
    }
    let (rem, block) = match parser.next_block(avail) {
        Ok(ok) => ok,
        Err(PcapError::IncompleteBuffer) => return Err(RecordError::Need(0)),
        Err(e) => return Err(RecordError::Corrupt(e)),
    };
    let consumed = avail.len() - rem.len();
    let data_range = |data: &[u8]| {
        let off = data.as_ptr() as usize - avail.as_ptr() as usize;
        (off, off + data.len())
    };
    let interface_linktype = |parser: &PcapNgParser, id: u32| {
        parser
            .interfaces()
            .get(id as usize)
            .map(|i| u32::from(i.linktype))
            .ok_or(RecordError::UnknownInterface(id))
    };
    let packet = match &block {
        Block::EnhancedPacket(epb) => {
            let caplen = epb.data.len() as u32;
            if caplen > epb.original_len {
                return Err(RecordError::CaplenOverOrigLen {
                    caplen,
                    orig_len: epb.original_len,
                });
            }
            Some(RecordRange {
                timestamp: epb.timestamp,
                linktype: interface_linktype(parser, epb.interface_id)?,
                orig_len: epb.original_len,
                data: data_range(&epb.data),
            })
        }
        Block::SimplePacket(spb) => Some(RecordRange {
            timestamp: Duration::ZERO,
            linktype: interface_linktype(parser, 0)?,
            orig_len: spb.original_len,
            data: data_range(&spb.data),
        }),
        Block::Packet(pb) => Some(RecordRange {
            timestamp: Duration::from_micros(pb.timestamp),
            linktype: interface_linktype(parser, u32::from(pb.interface_id))?,
            orig_len: pb.original_len,
            data: data_range(&pb.data),
        }),
        _ => None,
    };
    Ok(Parsed { consumed, packet })
}
