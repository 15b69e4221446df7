//! Reading pcap and pcapng files, streamed in constant memory.
//!
//! The record and block framing is parsed here, by hand, so that every
//! length a file declares is checked before it is trusted: a record is
//! buffered only once it is known to be at most [`MAX_RECORD`] bytes, a
//! pcapng block over [`MAX_BLOCK`] is refused at once, and blocks synlab has
//! no use for are skipped by reading past them, never by buffering them.
//! Where tshark reads past an oddity (a captured length above the snapshot
//! length or the original length, FCS bits in the link-type word, a second
//! section in the other byte order, per-interface timestamp resolutions),
//! so does this reader; where tshark refuses a file, this reader returns an
//! error naming the file, the packet and what is wrong.
//!
//! A regular file is read through a memory map: the frames are lent where
//! they lie in the page cache instead of copied out by read(2) (issue 13:
//! the copy was a sixth of `handshakes` on a large download capture), and
//! the pages already passed are handed back as reading goes on, so the
//! resident size stays flat. Standard input and pipes are read into a
//! buffer, as is the in-memory reader ([`CaptureReader::new`]).
//!
//! The price of a map: if another process truncates the file while synlab
//! reads it, touching the lost pages kills synlab with SIGBUS (ripgrep takes
//! the same risk with `--mmap`). Captures are files that are written once,
//! and a file still being written only grows, which a map reads safely up to
//! the length it had when opened (the buffered reader would read on to the
//! length it has when it gets there). [`CaptureReader::open_buffered`]
//! reads a file without a map for a caller who cannot take that risk.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use memmap2::{Advice, Mmap, UncheckedAdvice};
use thiserror::Error;

/// The largest packet record accepted (tshark's and libpcap's maximum
/// snapshot length, 256 KiB). A record declaring more is an error: the
/// file is corrupt or hostile, and buffering it would let a file choose how
/// much memory synlab takes.
pub const MAX_RECORD: u32 = 262_144;
/// The largest pcapng block accepted (tshark's limit, 128 MiB). Blocks that
/// synlab does not read are skipped without being buffered, so this bounds
/// what a file may declare, not the memory used.
pub const MAX_BLOCK: u32 = 128 * 1024 * 1024;
/// The largest section header or interface description block buffered to
/// read its options (real ones are well under 1 KiB).
pub const MAX_DESCRIPTION_BLOCK: u32 = 1024 * 1024;
const CHUNK: usize = 1 << 16;
/// A mapped file's pages are handed back this many bytes at a time, once
/// read past (a power of two).
const RELEASE: usize = 1 << 22;

/// pcapng block types.
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// Interface descriptions kept per pcapng section. A capture names one per
/// device it listened on (a handful); 20 million identical blocks (2.7 MB
/// gzipped) took 599 MB before this cap (issue 22, item 6). At 16 bytes an
/// interface, the cap holds the table to 1 MiB.
pub const MAX_INTERFACES: usize = 65_536;

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
    #[error(
        "{path}: packet {number}: record truncated: the file ends {missing} bytes short of it"
    )]
    TruncatedRecord {
        path: PathBuf,
        number: u64,
        missing: u64,
    },
    #[error("{path}: packet {number}: captured length {caplen} is over the {MAX_RECORD}-byte limit for one packet")]
    RecordTooLarge {
        path: PathBuf,
        number: u64,
        caplen: u32,
    },
    #[error("{path}: packet {number}: pcapng block of type 0x{block_type:x} at byte {offset} declares {len} bytes, over the {limit}-byte limit")]
    BlockTooLarge {
        path: PathBuf,
        number: u64,
        block_type: u32,
        offset: u64,
        len: u32,
        limit: u32,
    },
    #[error("{path}: packet {number}: corrupt pcapng block of type 0x{block_type:x} at byte {offset}: {problem}")]
    CorruptBlock {
        path: PathBuf,
        number: u64,
        block_type: u32,
        offset: u64,
        problem: BlockProblem,
    },
    #[error("{path}: packet {number}: more than {MAX_INTERFACES} interface descriptions in one pcapng section")]
    TooManyInterfaces { path: PathBuf, number: u64 },
    #[error("{path}: packet {number}: refers to interface {interface}, which the file does not describe")]
    UnknownInterface {
        path: PathBuf,
        number: u64,
        interface: u32,
    },
}

/// What is wrong with a pcapng block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BlockProblem {
    #[error("its length {0} is not a multiple of 4")]
    Unaligned(u32),
    #[error("its length {len} is below the {min} bytes its type needs")]
    TooShort { len: u32, min: u32 },
    #[error("its captured length {caplen} does not fit in it ({len} bytes)")]
    DataPastEnd { caplen: u32, len: u32 },
    #[error("the length at its end ({trailer}) differs from the one at its start ({len})")]
    TrailerMismatch { len: u32, trailer: u32 },
    #[error("byte-order magic 0x{0:08x} is neither 0x1a2b3c4d nor 0x4d3c2b1a")]
    BadByteOrder(u32),
    #[error("option {code} of {len} bytes runs past its end")]
    OptionPastEnd { code: u16, len: u16 },
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

/// Byte order of a pcap file or of one pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        match self {
            Order::Little => u16::from_le_bytes(v),
            Order::Big => u16::from_be_bytes(v),
        }
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match self {
            Order::Little => u32::from_le_bytes(v),
            Order::Big => u32::from_be_bytes(v),
        }
    }
}

/// How a timestamp's units relate to seconds (pcapng `if_tsresol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    /// Units of 10^-n seconds (microseconds: 6, the default).
    Decimal(u8),
    /// Units of 2^-n seconds.
    Binary(u8),
}

impl TsResolution {
    /// The `if_tsresol` option byte: the high bit picks base 2.
    fn from_option(byte: u8) -> TsResolution {
        if byte & 0x80 != 0 {
            TsResolution::Binary(byte & 0x7f)
        } else {
            TsResolution::Decimal(byte)
        }
    }

    /// A raw timestamp in these units, plus whole seconds of offset
    /// (`if_tsoffset`), as a duration since the epoch. Saturates instead of
    /// overflowing on absurd values.
    pub fn to_duration(self, units: u64, offset_secs: i64) -> Duration {
        // Micro- and nanoseconds, nearly every capture: in u64, as the u128
        // path below gives them (10^9 = 10^n * 10^(9-n), so the seconds and
        // the rest split exactly), without its 128-bit division per packet.
        const POW10: [u64; 10] = [
            1,
            10,
            100,
            1_000,
            10_000,
            100_000,
            1_000_000,
            10_000_000,
            100_000_000,
            1_000_000_000,
        ];
        let decimal = match self {
            TsResolution::Decimal(n @ 0..=9) => {
                let n = usize::from(n);
                POW10.get(n).zip(POW10.get(9 - n))
            }
            _ => None,
        };
        if let Some((&per_sec, &scale)) = decimal {
            let nanos = (units % per_sec) * scale;
            let secs = (units / per_sec).saturating_add_signed(offset_secs);
            return Duration::new(secs, u32::try_from(nanos).unwrap_or(0));
        }
        const NANOS: u128 = 1_000_000_000;
        let units = u128::from(units);
        let nanos = match self {
            TsResolution::Decimal(n) if n <= 9 => units * 10u128.pow(9 - u32::from(n)),
            TsResolution::Decimal(n) => 10u128
                .checked_pow(u32::from(n) - 9)
                .map_or(0, |div| units / div),
            // units * 10^9 < 2^94: no overflow; a shift of 128 or more is 0.
            TsResolution::Binary(n) => (units * NANOS).checked_shr(u32::from(n)).unwrap_or(0),
        };
        let secs = u64::try_from(nanos / NANOS).unwrap_or(u64::MAX);
        let secs = secs.saturating_add_signed(offset_secs);
        Duration::new(secs, (nanos % NANOS) as u32)
    }
}

/// One pcapng interface description, as far as synlab needs it.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    resolution: TsResolution,
    offset_secs: i64,
}

enum Format {
    Pcap {
        linktype: u32,
        order: Order,
        nanos: bool,
    },
    PcapNg {
        order: Order,
        interfaces: Vec<Interface>,
    },
}

/// Where the bytes of the capture are held.
enum Bytes {
    /// Read from the source into a buffer that grows only to hold one
    /// record (at most [`MAX_RECORD`] plus its header) or one description
    /// block (at most [`MAX_DESCRIPTION_BLOCK`]).
    Buffered(Vec<u8>),
    /// The whole file, mapped: this reader's view of the one map that
    /// every reader of it shares ([`SharedMap`]).
    Mapped(MapView),
}

/// One mapping of a file that several threads read (`--threads`: the
/// leading reader and its followers, each through a [`MapView`]): each
/// page is faulted in once, and handed back once, when every one has read
/// past it. Handing pages back costs every other
/// core running one of the process's threads a TLB flush, so a map per
/// reader, each handing back its own, cost twice over.
struct SharedMap {
    map: Mmap,
    /// Per reader, what it has read past (at [`RELEASE`] steps, so the
    /// readers rarely write to these shared lines).
    read: Box<[AtomicUsize]>,
    /// The pages before this were handed back.
    released: AtomicUsize,
}

impl SharedMap {
    /// Reader `me`'s view of `shared`.
    fn view(shared: &Arc<SharedMap>, me: usize) -> MapView {
        MapView {
            map: Arc::clone(shared),
            me,
            published: 0,
        }
    }

    fn new(map: Mmap, readers: usize) -> Arc<SharedMap> {
        Arc::new(SharedMap {
            map,
            read: (0..readers.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            released: AtomicUsize::new(0),
        })
    }

    /// Reader `me` has read past `upto`: hand back the pages every reader
    /// has read past, if no other reader is doing so.
    fn read_past(&self, me: usize, upto: usize) {
        if let Some(slot) = self.read.get(me) {
            slot.store(upto, Ordering::Relaxed);
        }
        let passed = self
            .read
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        let from = self.released.load(Ordering::Relaxed);
        if passed <= from
            || self
                .released
                .compare_exchange(from, passed, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // SAFETY: MADV_DONTNEED on a read-only shared file mapping drops
        // the page-table entries only; a later access faults the same file
        // bytes back in, so no byte seen through the map ever changes, for
        // this reader or any other (each has read past these pages anyway).
        // A refusal only leaves the pages resident: memory, not data.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, from, passed - from)
        };
    }
}

/// One reader's view of a shared map: the file's bytes, and what this
/// reader has read past, so that the pages every reader has passed go
/// back. A mapped [`CaptureReader`] reads through one; the followers of
/// [`CaptureReader::leading`] read through theirs where the leading reader
/// found each packet.
pub struct MapView {
    map: Arc<SharedMap>,
    me: usize,
    published: usize,
}

impl MapView {
    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.map.map
    }

    /// Where the map is, to tell the offsets of the frames the leading
    /// reader returns (slices of this same map).
    pub fn span(&self) -> MapSpan {
        MapSpan {
            base: self.map.map.as_ptr() as usize,
            len: self.map.map.len(),
        }
    }

    /// This reader needs nothing before `upto` any more: the pages every
    /// reader has read past go back, [`RELEASE`] bytes at a time.
    pub fn read_past(&mut self, upto: usize) {
        let upto = upto & !(RELEASE - 1);
        if upto > self.published {
            self.published = upto;
            self.map.read_past(self.me, upto);
        }
    }
}

/// Where a shared map lies in memory ([`MapView::span`]).
#[derive(Clone, Copy, Debug)]
pub struct MapSpan {
    base: usize,
    len: usize,
}

impl MapSpan {
    /// The offset in the map of `data`, a frame's bytes; `None` when they
    /// are not in it.
    pub fn offset_of(&self, data: &[u8]) -> Option<usize> {
        let at = (data.as_ptr() as usize).checked_sub(self.base)?;
        (at.checked_add(data.len())? <= self.len).then_some(at)
    }
}

/// The input: unread bytes are `bytes[start..end]`. A mapped file is all
/// there from the start (`end` is its length, `eof` is set), so nothing is
/// ever read or moved; the checks on lengths are the same for both.
struct Input<R> {
    source: R,
    bytes: Bytes,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `bytes[start]`.
    offset: u64,
}

impl<R: Read> Input<R> {
    fn buffered(source: R) -> Self {
        Input {
            source,
            bytes: Bytes::Buffered(vec![0; CHUNK]),
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
        }
    }

    /// A reader of a shared map, through its view.
    fn mapped(source: R, view: MapView) -> Self {
        Input {
            source,
            end: view.bytes().len(),
            bytes: Bytes::Mapped(view),
            start: 0,
            eof: true,
            offset: 0,
        }
    }

    fn avail(&self) -> &[u8] {
        let all: &[u8] = match &self.bytes {
            Bytes::Buffered(buf) => buf,
            Bytes::Mapped(view) => view.bytes(),
        };
        &all[self.start..self.end]
    }

    /// Make at least `n` unread bytes available; `Ok(false)` when the file
    /// ends first. Callers bound `n`.
    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            // A map holds the whole file already.
            let (false, Bytes::Buffered(buf)) = (self.eof, &mut self.bytes) else {
                return Ok(false);
            };
            if buf.len() - self.start < n {
                buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if buf.len() < n {
                    buf.resize(n.max(CHUNK), 0);
                }
            }
            self.read_more()?;
        }
        Ok(true)
    }

    /// Read once into the free space (the caller made some).
    fn read_more(&mut self) -> io::Result<()> {
        let Bytes::Buffered(buf) = &mut self.bytes else {
            // Mapped: the file has no more than the map.
            self.eof = true;
            return Ok(());
        };
        if self.end == buf.len() {
            buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.source.read(&mut buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Drop `n` bytes, buffered or not, without buffering them; returns how
    /// many were missing when the file ended first.
    fn skip(&mut self, mut n: u64) -> io::Result<u64> {
        loop {
            let here = (self.end - self.start).min(usize::try_from(n).unwrap_or(usize::MAX));
            self.start += here;
            self.offset += here as u64;
            n -= here as u64;
            if n == 0 {
                return Ok(0);
            }
            if self.eof {
                return Ok(n);
            }
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
    }

    /// Hand back the mapped pages read past, [`RELEASE`] bytes at a time,
    /// so that a long file does not stay resident (the page cache keeps
    /// them; only this process's mapping of them goes); with several
    /// readers of one map, those all have read past ([`SharedMap`]).
    fn release_read_pages(&mut self) {
        if let Bytes::Mapped(view) = &mut self.bytes {
            view.read_past(self.start);
        }
    }
}

/// A streaming reader over a pcap or pcapng file.
pub struct CaptureReader<R = File> {
    path: PathBuf,
    input: Input<R>,
    format: Format,
    number: u64,
    /// What the frame last returned still occupies: bytes to drop from the
    /// buffer, then bytes to skip after them (a pcapng block's options).
    pending: (usize, u64),
}

impl CaptureReader<File> {
    /// Open a capture file; the format is told by its magic number. A
    /// regular file is memory-mapped (see the module docs for the SIGBUS a
    /// truncation by another process would cause); anything else, or a file
    /// that cannot be mapped, is read into a buffer.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = open_file(path)?;
        match map_file(&file) {
            Some(map) => Self::with_input(
                path,
                Input::mapped(file, SharedMap::view(&SharedMap::new(map, 1), 0)),
            ),
            None => Self::new(path, file),
        }
    }

    /// This mapped file, mapped anew and shared (`--threads`): a reader of
    /// it, which frames the file, and `followers` views of the same map,
    /// through which the other shards read their packets where the reader
    /// found them. This reader's own map goes with it. `Err(self)` when it
    /// is not mapped, or cannot be mapped again.
    pub fn leading(self, followers: usize) -> Result<(Self, Vec<MapView>), Box<Self>> {
        if !matches!(self.input.bytes, Bytes::Mapped(_)) {
            return Err(Box::new(self));
        }
        let Some(map) = map_file(&self.input.source) else {
            return Err(Box::new(self));
        };
        let shared = SharedMap::new(map, followers + 1);
        let Ok(file) = self.input.source.try_clone() else {
            return Err(Box::new(self));
        };
        let own = Input::mapped(file, SharedMap::view(&shared, 0));
        let Ok(reader) = Self::with_input(&self.path, own) else {
            return Err(Box::new(self));
        };
        let views = (1..=followers)
            .map(|me| SharedMap::view(&shared, me))
            .collect();
        Ok((reader, views))
    }

    /// Open a capture file and read it into a buffer, never mapped: for a
    /// file that another process may truncate while it is read.
    pub fn open_buffered(path: &Path) -> Result<Self, CaptureError> {
        Self::new(path, open_file(path)?)
    }
}

fn open_file(path: &Path) -> Result<File, CaptureError> {
    File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_owned(),
        source,
    })
}

/// A read-only map of a regular, non-empty file (an empty one cannot be
/// mapped; it gets the buffered reader's "empty file" error). `None` sends
/// the file to the buffered reader, which reports any real read error.
fn map_file(file: &File) -> Option<Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    // SAFETY: the map is read-only and owned by this reader, which lends
    // its bytes only as `&[u8]` for one frame at a time. Another process
    // changing the file's bytes would change what is read (as it would for
    // read(2)); one truncating it raises SIGBUS, the documented risk.
    let map = unsafe { Mmap::map(file) }.ok()?;
    // Read-ahead hint only; the map works the same without it.
    let _ = map.advise(Advice::Sequential);
    Some(map)
}

/// A problem found inside a record or block, before the path and packet
/// number are attached.
enum Bad {
    Io(io::Error),
    Truncated(u64),
    TooLarge(u32),
    BlockTooLarge {
        block_type: u32,
        len: u32,
        limit: u32,
    },
    Corrupt {
        block_type: u32,
        problem: BlockProblem,
    },
    UnknownInterface(u32),
    TooManyInterfaces,
}

impl From<io::Error> for Bad {
    fn from(e: io::Error) -> Bad {
        Bad::Io(e)
    }
}

/// One packet found: where its bytes sit in the unread buffer.
struct Record {
    timestamp: Duration,
    linktype: u32,
    orig_len: u32,
    caplen: usize,
    header: usize,
    /// Bytes of the block after the data (pcapng padding and options).
    trailer: u64,
}

impl<R: Read> CaptureReader<R> {
    /// Read a capture from any byte source; `path` names it in errors.
    pub fn new(path: &Path, source: R) -> Result<Self, CaptureError> {
        Self::with_input(path, Input::buffered(source))
    }

    fn with_input(path: &Path, mut input: Input<R>) -> Result<Self, CaptureError> {
        let read_error = |source| CaptureError::Read {
            path: path.to_owned(),
            number: 1,
            source,
        };
        input.ensure(24).map_err(read_error)?;
        let format = read_file_header(path, &mut input)?;
        Ok(CaptureReader {
            path: path.to_owned(),
            input,
            format,
            number: 0,
            pending: (0, 0),
        })
    }

    /// The path given at opening.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file may describe several interfaces (pcapng), each with
    /// its own link type; a pcap file has one link type for every packet.
    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::PcapNg { .. })
    }

    /// Bytes of the file read so far (for a progress bar).
    pub fn offset(&self) -> u64 {
        self.input.offset
    }

    /// The next frame, `None` at the end of the file. After an error the
    /// reader should not be used again.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        let number = self.number + 1;
        let (used, then_skip) = std::mem::take(&mut self.pending);
        self.input.start += used;
        self.input.offset += used as u64;
        self.input.release_read_pages();
        let whole = match then_skip {
            0 => self.whole_pcap_record(),
            _ => self.whole_packet_block(then_skip),
        };
        let result = match whole {
            Some(r) => Ok(Some(r)),
            None => match self.input.skip(then_skip) {
                Ok(0) => self.next_record(),
                Ok(missing) => Err(Bad::Truncated(missing)),
                Err(e) => Err(Bad::Io(e)),
            },
        };
        match result {
            Ok(None) => None,
            Ok(Some(r)) => {
                self.number = number;
                self.pending = (r.header + r.caplen, r.trailer);
                let data = &self.input.avail()[r.header..r.header + r.caplen];
                Some(Ok(Frame {
                    number,
                    timestamp: r.timestamp,
                    linktype: r.linktype,
                    orig_len: r.orig_len,
                    data,
                }))
            }
            Err(bad) => Some(Err(self.error(bad, number))),
        }
    }

    /// The error for a problem in the block that starts at the current
    /// offset.
    fn error(&self, bad: Bad, number: u64) -> CaptureError {
        let path = self.path.clone();
        let offset = self.input.offset;
        match bad {
            Bad::Io(source) => CaptureError::Read {
                path,
                number,
                source,
            },
            Bad::Truncated(missing) => CaptureError::TruncatedRecord {
                path,
                number,
                missing,
            },
            Bad::TooLarge(caplen) => CaptureError::RecordTooLarge {
                path,
                number,
                caplen,
            },
            Bad::BlockTooLarge {
                block_type,
                len,
                limit,
            } => CaptureError::BlockTooLarge {
                path,
                number,
                block_type,
                offset,
                len,
                limit,
            },
            Bad::Corrupt {
                block_type,
                problem,
            } => CaptureError::CorruptBlock {
                path,
                number,
                block_type,
                offset,
                problem,
            },
            Bad::UnknownInterface(interface) => CaptureError::UnknownInterface {
                path,
                number,
                interface,
            },
            Bad::TooManyInterfaces => CaptureError::TooManyInterfaces { path, number },
        }
    }

    /// Bytes that must be there: `Ok(false)` at a clean end of file (no
    /// byte of a new record), an error when the file ends inside one.
    fn need(&mut self, n: usize) -> Result<bool, Bad> {
        if self.input.ensure(n)? {
            return Ok(true);
        }
        match self.input.avail().len() {
            0 => Ok(false),
            have => Err(Bad::Truncated((n - have) as u64)),
        }
    }

    /// The first `n` bytes of a block of `len` bytes whose start is
    /// buffered; when the file ends first, says how short of the whole
    /// block it is.
    fn need_in_block(&mut self, n: usize, len: u32) -> Result<(), Bad> {
        if self.input.ensure(n)? {
            return Ok(());
        }
        let have = self.input.avail().len() as u64;
        Err(Bad::Truncated(u64::from(len).saturating_sub(have)))
    }

    fn next_record(&mut self) -> Result<Option<Record>, Bad> {
        match self.format {
            Format::Pcap {
                linktype,
                order,
                nanos,
            } => self.pcap_record(linktype, order, nanos),
            Format::PcapNg { .. } => self.pcapng_record(),
        }
    }

    /// A pcap record: a 16-byte header, then the captured bytes. A
    /// captured length above the snapshot length or the original length is
    /// read as tshark reads it; one above [`MAX_RECORD`] is refused before
    /// anything is buffered.
    fn pcap_record(
        &mut self,
        linktype: u32,
        order: Order,
        nanos: bool,
    ) -> Result<Option<Record>, Bad> {
        if !self.need(16)? {
            return Ok(None);
        }
        let h = &self.input.avail()[..16];
        let (secs, frac) = (order.u32(h, 0), order.u32(h, 4));
        let (caplen, orig_len) = (order.u32(h, 8), order.u32(h, 12));
        if caplen > MAX_RECORD {
            return Err(Bad::TooLarge(caplen));
        }
        if !self.need(16 + caplen as usize)? {
            return Err(Bad::Truncated(16 + u64::from(caplen)));
        }
        let resolution = TsResolution::Decimal(if nanos { 9 } else { 6 });
        Ok(Some(Record {
            timestamp: Duration::from_secs(u64::from(secs))
                + resolution.to_duration(u64::from(frac), 0),
            linktype,
            orig_len,
            caplen: caplen as usize,
            header: 16,
            trailer: 0,
        }))
    }

    /// The next pcap record when it is plainly well formed and wholly in
    /// hand (mapped, or buffered already): its header read in one step,
    /// without [`CaptureReader::pcap_record`]'s checks for the file's end
    /// and refusals, which give the same answer for such a record.
    ///
    /// Why: framing was a quarter of a bare read-and-decode loop, and with
    /// `--threads` every thread frames every record (issue 25). Anything
    /// else (pcapng, a record cut by the file's end, an oversized length, a
    /// fraction of a second out of range) returns `None` for the general
    /// path to read and report.
    #[inline]
    fn whole_pcap_record(&self) -> Option<Record> {
        let Format::Pcap {
            linktype,
            order: Order::Little,
            nanos,
        } = self.format
        else {
            return None;
        };
        let avail = self.input.avail();
        let h: &[u8; 16] = avail.get(..16)?.try_into().ok()?;
        let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let (secs, frac, caplen, orig_len) = (word(0), word(4), word(8), word(12));
        let nanos = match nanos {
            true if frac < 1_000_000_000 => frac,
            false if frac < 1_000_000 => frac * 1_000,
            _ => return None,
        };
        if caplen > MAX_RECORD || avail.len() - 16 < caplen as usize {
            return None;
        }
        Some(Record {
            timestamp: Duration::new(u64::from(secs), nanos),
            linktype,
            orig_len,
            caplen: caplen as usize,
            header: 16,
            trailer: 0,
        })
    }

    /// The block after the `skip` bytes left of the last one (its options
    /// and trailing length), when it is a little-endian enhanced packet
    /// block wholly in hand whose lengths all agree: framed in one step, as
    /// [`Self::whole_pcap_record`] frames a pcap record (dumpcap writes its
    /// rotated files as pcapng; framing them took 420 instructions a packet
    /// against 123 for pcap). Anything else (another block, a big-endian
    /// section, a length the general path would refuse, a block cut by the
    /// buffer's or the file's end) returns `None` for that path to read and
    /// report.
    #[inline]
    fn whole_packet_block(&self, skip: u64) -> Option<Record> {
        let Format::PcapNg {
            order: Order::Little,
            interfaces,
        } = &self.format
        else {
            return None;
        };
        let skip = usize::try_from(skip).ok()?;
        let block = self.input.avail().get(skip..)?;
        let h: &[u8; 28] = block.get(..28)?.try_into().ok()?;
        let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let (block_type, len, caplen, orig_len) = (word(0), word(4), word(20), word(24));
        let fits = len % 4 == 0 && (32..=MAX_BLOCK).contains(&len) && block.len() >= len as usize;
        if block_type != EPB || !fits || caplen > MAX_RECORD || caplen > len - 32 {
            return None;
        }
        let iface = interfaces.get(usize::try_from(word(8)).ok()?)?;
        let units = u64::from(word(12)) << 32 | u64::from(word(16));
        Some(Record {
            timestamp: iface.resolution.to_duration(units, iface.offset_secs),
            linktype: iface.linktype,
            orig_len,
            caplen: caplen as usize,
            header: skip + 28,
            trailer: u64::from(len - 28 - caplen),
        })
    }

    /// pcapng blocks up to the next packet. Section headers switch the byte
    /// order and forget the interfaces; interface descriptions are kept;
    /// every other block is skipped unread.
    fn pcapng_record(&mut self) -> Result<Option<Record>, Bad> {
        loop {
            if !self.need(12)? {
                return Ok(None);
            }
            let order = match self.format {
                Format::PcapNg { order, .. } => order,
                Format::Pcap { order, .. } => order,
            };
            let head = &self.input.avail()[..12];
            let block_type = order.u32(head, 0);
            let order = if block_type == SHB {
                section_order(head)?
            } else {
                order
            };
            let len = order.u32(head, 4);
            check_block_len(block_type, len)?;
            match block_type {
                SHB => self.section_header(order, len)?,
                IDB => self.interface_description(order, len)?,
                EPB | PB => return self.packet_block(order, block_type, len).map(Some),
                SPB => return self.simple_packet_block(order, len).map(Some),
                _ => match self.input.skip(u64::from(len))? {
                    0 => {}
                    missing => return Err(Bad::Truncated(missing)),
                },
            }
        }
    }

    /// Buffer a whole description block (section header, interface) and
    /// check its trailing length.
    fn description_block(&mut self, order: Order, block_type: u32, len: u32) -> Result<(), Bad> {
        if len > MAX_DESCRIPTION_BLOCK {
            return Err(Bad::BlockTooLarge {
                block_type,
                len,
                limit: MAX_DESCRIPTION_BLOCK,
            });
        }
        self.need_in_block(len as usize, len)?;
        let trailer = order.u32(self.input.avail(), len as usize - 4);
        if trailer != len {
            let problem = BlockProblem::TrailerMismatch { len, trailer };
            return Err(Bad::Corrupt {
                block_type,
                problem,
            });
        }
        Ok(())
    }

    fn section_header(&mut self, order: Order, len: u32) -> Result<(), Bad> {
        self.description_block(order, SHB, len)?;
        self.format = Format::PcapNg {
            order,
            interfaces: Vec::new(),
        };
        self.consume(len as usize);
        Ok(())
    }

    fn interface_description(&mut self, order: Order, len: u32) -> Result<(), Bad> {
        self.description_block(order, IDB, len)?;
        let block = &self.input.avail()[..len as usize];
        let interface = parse_interface(order, block).map_err(|problem| Bad::Corrupt {
            block_type: IDB,
            problem,
        })?;
        if let Format::PcapNg { interfaces, .. } = &mut self.format {
            if interfaces.len() >= MAX_INTERFACES {
                return Err(Bad::TooManyInterfaces);
            }
            interfaces.push(interface);
        }
        self.consume(len as usize);
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.input.start += n;
        self.input.offset += n as u64;
    }

    fn interface(&self, id: u32) -> Result<Interface, Bad> {
        match &self.format {
            Format::PcapNg { interfaces, .. } => interfaces.get(id as usize).copied(),
            Format::Pcap { .. } => None,
        }
        .ok_or(Bad::UnknownInterface(id))
    }

    /// Enhanced (6) and obsolete (2) packet blocks share a layout: interface,
    /// 64-bit timestamp, captured and original lengths, data, options.
    fn packet_block(&mut self, order: Order, block_type: u32, len: u32) -> Result<Record, Bad> {
        self.need_in_block(28, len)?;
        let h = &self.input.avail()[..28];
        let interface = if block_type == EPB {
            order.u32(h, 8)
        } else {
            u32::from(order.u16(h, 8))
        };
        let units = u64::from(order.u32(h, 12)) << 32 | u64::from(order.u32(h, 16));
        let (caplen, orig_len) = (order.u32(h, 20), order.u32(h, 24));
        if caplen > MAX_RECORD {
            return Err(Bad::TooLarge(caplen));
        }
        if u64::from(caplen) + 32 > u64::from(len) {
            let problem = BlockProblem::DataPastEnd { caplen, len };
            return Err(Bad::Corrupt {
                block_type,
                problem,
            });
        }
        let iface = self.interface(interface)?;
        self.need_in_block(28 + caplen as usize, len)?;
        Ok(Record {
            timestamp: iface.resolution.to_duration(units, iface.offset_secs),
            linktype: iface.linktype,
            orig_len,
            caplen: caplen as usize,
            header: 28,
            trailer: u64::from(len - 28 - caplen),
        })
    }

    /// A simple packet block: original length, then data cut to the
    /// interface's snapshot length (the block length tells how much).
    fn simple_packet_block(&mut self, order: Order, len: u32) -> Result<Record, Bad> {
        self.need_in_block(12, len)?;
        let orig_len = order.u32(self.input.avail(), 8);
        let caplen = orig_len.min(len - 16);
        if caplen > MAX_RECORD {
            return Err(Bad::TooLarge(caplen));
        }
        let iface = self.interface(0)?;
        self.need_in_block(12 + caplen as usize, len)?;
        Ok(Record {
            timestamp: Duration::ZERO,
            linktype: iface.linktype,
            orig_len,
            caplen: caplen as usize,
            header: 12,
            trailer: u64::from(len - 12 - caplen),
        })
    }
}

/// A section header's byte order, from its byte-order magic.
fn section_order(head: &[u8]) -> Result<Order, Bad> {
    let magic = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    match magic {
        BYTE_ORDER_MAGIC => Ok(Order::Big),
        m if m.swap_bytes() == BYTE_ORDER_MAGIC => Ok(Order::Little),
        m => Err(Bad::Corrupt {
            block_type: SHB,
            problem: BlockProblem::BadByteOrder(m),
        }),
    }
}

/// A block's total length: aligned, at least its type's fixed part, at
/// most [`MAX_BLOCK`].
fn check_block_len(block_type: u32, len: u32) -> Result<(), Bad> {
    let min = match block_type {
        SHB => 28,
        IDB => 20,
        EPB | PB => 32,
        SPB => 16,
        _ => 12,
    };
    let problem = if len % 4 != 0 {
        BlockProblem::Unaligned(len)
    } else if len < min {
        BlockProblem::TooShort { len, min }
    } else if len > MAX_BLOCK {
        return Err(Bad::BlockTooLarge {
            block_type,
            len,
            limit: MAX_BLOCK,
        });
    } else {
        return Ok(());
    };
    Err(Bad::Corrupt {
        block_type,
        problem,
    })
}

/// An interface description: link type, and the options that change how
/// its timestamps read (`if_tsresol` 9, `if_tsoffset` 14). An option that
/// runs past the block makes it corrupt, as tshark judges it.
fn parse_interface(order: Order, block: &[u8]) -> Result<Interface, BlockProblem> {
    let mut iface = Interface {
        linktype: u32::from(order.u16(block, 8)),
        resolution: TsResolution::Decimal(6),
        offset_secs: 0,
    };
    let options = &block[16..block.len() - 4];
    let mut at = 0;
    while let Some(h) = options.get(at..at + 4) {
        let (code, declared) = (order.u16(h, 0), order.u16(h, 2));
        let len = usize::from(declared);
        let Some(value) = options.get(at + 4..at + 4 + len) else {
            return Err(BlockProblem::OptionPastEnd {
                code,
                len: declared,
            });
        };
        match (code, value) {
            (0, _) => break,
            (9, &[byte]) => iface.resolution = TsResolution::from_option(byte),
            (14, v) if v.len() == 8 => {
                let hi = order.u32(v, 0);
                let lo = order.u32(v, 4);
                let offset = match order {
                    Order::Big => u64::from(hi) << 32 | u64::from(lo),
                    Order::Little => u64::from(lo) << 32 | u64::from(hi),
                };
                iface.offset_secs = offset as i64;
            }
            _ => {}
        }
        at += 4 + len.next_multiple_of(4);
    }
    Ok(iface)
}

/// The file header: a 24-byte pcap header (its magic tells byte order and
/// timestamp resolution) or a pcapng section header, read as a block.
fn read_file_header<R: Read>(path: &Path, input: &mut Input<R>) -> Result<Format, CaptureError> {
    let head = input.avail();
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
    let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let (order, nanos) = match magic {
        0xa1b2c3d4 => (Order::Big, false),
        0xd4c3b2a1 => (Order::Little, false),
        0xa1b23c4d => (Order::Big, true),
        0x4d3cb2a1 => (Order::Little, true),
        SHB => {
            if head.len() < 12 {
                return Err(truncated());
            }
            // The section header is read as the first block.
            return Ok(Format::PcapNg {
                order: Order::Big,
                interfaces: Vec::new(),
            });
        }
        _ => {
            return Err(CaptureError::BadMagic {
                path: path.to_owned(),
                magic,
            })
        }
    };
    if head.len() < 24 {
        return Err(truncated());
    }
    // libpcap: the link type is the low 16 bits; the bits above may say an
    // FCS length, which tshark reads past (the decoder ignores trailers).
    let linktype = order.u32(head, 20) & 0xffff;
    input.start += 24;
    input.offset = 24;
    Ok(Format::Pcap {
        linktype,
        order,
        nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{decode_frame, Decoded, LinkType};
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use std::io::Cursor;

    #[test]
    fn timestamp_resolutions_convert_to_the_same_instant() {
        let at = Duration::new(1_700_000_003, 500_000_000);
        let cases = [
            (TsResolution::Decimal(6), 1_700_000_003_500_000u64),
            (TsResolution::Decimal(9), 1_700_000_003_500_000_000),
            (TsResolution::Decimal(3), 1_700_000_003_500),
            (TsResolution::Decimal(1), 17_000_000_035),
            (
                TsResolution::Binary(20),
                (1_700_000_003u64 << 20) | (1 << 19),
            ),
        ];
        for (resolution, units) in cases {
            assert_eq!(resolution.to_duration(units, 0), at, "{resolution:?}");
        }
        assert_eq!(
            TsResolution::Decimal(6).to_duration(0, 1_700_000_003),
            Duration::from_secs(1_700_000_003)
        );
    }

    #[test]
    fn absurd_resolutions_and_offsets_saturate_instead_of_overflowing() {
        for resolution in [
            TsResolution::Decimal(0),
            TsResolution::Decimal(127),
            TsResolution::Decimal(255),
            TsResolution::Binary(0),
            TsResolution::Binary(127),
        ] {
            for offset in [i64::MIN, 0, i64::MAX] {
                let _ = resolution.to_duration(u64::MAX, offset);
            }
        }
        assert_eq!(
            TsResolution::Decimal(0)
                .to_duration(u64::MAX, i64::MAX)
                .as_secs(),
            u64::MAX
        );
    }

    /// A little-endian pcapng block: type, length, body padded to 32 bits,
    /// length again.
    fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let len = u32::try_from(padded + 12).expect("block length");
        let mut b = [block_type.to_le_bytes(), len.to_le_bytes()].concat();
        b.extend_from_slice(body);
        b.resize(8 + padded, 0);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    /// An enhanced packet block: interface, time in its units, `data`
    /// (captured) of `orig_len`, then `options` (already padded).
    fn epb(interface: u32, units: u64, data: &[u8], orig_len: u32, options: &[u8]) -> Vec<u8> {
        let caplen = u32::try_from(data.len()).expect("caplen");
        let mut body = [
            interface,
            (units >> 32) as u32,
            units as u32,
            caplen,
            orig_len,
        ]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect::<Vec<u8>>();
        body.extend_from_slice(data);
        body.resize(20 + data.len().div_ceil(4) * 4, 0);
        body.extend_from_slice(options);
        block(EPB, &body)
    }

    /// Enhanced packet blocks framed in one step (`whole_packet_block`)
    /// read as the general path reads them: options and padding skipped,
    /// each interface's link type and time resolution, the captured and
    /// original lengths; an interface the file does not describe is still
    /// the general path's error, named as before.
    #[test]
    fn enhanced_packet_blocks_are_framed_whole() {
        let shb = [
            0x1a2b_3c4du32.to_le_bytes().as_slice(),
            &1u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &u64::MAX.to_le_bytes(),
        ]
        .concat();
        let mut bytes = block(SHB, &shb);
        // Interface 0: Ethernet, microseconds; 1: raw IP, nanoseconds.
        bytes.extend(block(IDB, &[1, 0, 0, 0, 0, 0, 4, 0]));
        let tsresol = [9u8, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend(block(
            IDB,
            &[[101, 0, 0, 0, 0, 0, 4, 0].as_slice(), &tsresol].concat(),
        ));
        let comment = [
            1u8, 0, 5, 0, b'h', b'e', b'l', b'l', b'o', 0, 0, 0, 0, 0, 0, 0,
        ];
        bytes.extend(epb(0, 1_500_000, b"abcde", 60, &comment));
        bytes.extend(epb(1, 2_000_000_007, b"12345678", 8, &[]));
        bytes.extend(epb(0, 3_000_001, b"xyz", 3, &[]));
        bytes.extend(epb(7, 4_000_000, b"lost", 4, &[]));
        let frames = frames_of(CaptureReader::new(Path::new("t"), Cursor::new(&bytes[..])));
        let want = |number, secs, nanos, linktype, orig_len, data: &[u8]| {
            let frame = Frame {
                number,
                timestamp: Duration::new(secs, nanos),
                linktype,
                orig_len,
                data,
            };
            format!("{frame:?}")
        };
        assert_eq!(frames[0], want(1, 1, 500_000_000, 1, 60, b"abcde"));
        assert_eq!(frames[1], want(2, 2, 7, 101, 8, b"12345678"));
        assert_eq!(frames[2], want(3, 3, 1_000, 1, 3, b"xyz"));
        assert!(
            frames[3].contains("packet 4") && frames[3].contains("interface 7"),
            "{frames:?}"
        );
        // The same from a map, where every block is in hand.
        let path = std::env::temp_dir().join(format!("synlab-epb-{}.pcapng", std::process::id()));
        std::fs::write(&path, &bytes).expect("write");
        let mapped = frames_of(CaptureReader::open(&path));
        std::fs::remove_file(&path).expect("remove");
        let named = |f: &String| f.replace(&path.display().to_string(), "t");
        assert_eq!(mapped.iter().map(named).collect::<Vec<_>>(), frames);
    }

    /// Read every frame of `bytes` and decode it, as `load` does; count them.
    fn read_all(bytes: &[u8]) -> u64 {
        let Ok(mut r) = CaptureReader::new(Path::new("mutant"), Cursor::new(bytes)) else {
            return 0;
        };
        let mut n = 0;
        while let Some(Ok(frame)) = r.next_frame() {
            n += 1;
            let link = LinkType::try_from(frame.linktype);
            if let Ok(Decoded::Tcp(seg)) = link.map(|link| decode_frame(link, frame.data)) {
                let _ = seg.attributes();
            }
        }
        n
    }

    /// Everything a reader yields: each frame, and how it ends.
    fn frames_of<R: Read>(reader: Result<CaptureReader<R>, CaptureError>) -> Vec<String> {
        let mut r = match reader {
            Ok(r) => r,
            Err(e) => return vec![e.to_string()],
        };
        let mut out = Vec::new();
        while let Some(frame) = r.next_frame() {
            match frame {
                Ok(f) => out.push(format!("{f:?}")),
                Err(e) => {
                    out.push(e.to_string());
                    break;
                }
            }
        }
        out.push(format!("offset {}", r.offset()));
        out
    }

    fn is_mapped<R>(r: &CaptureReader<R>) -> bool {
        matches!(r.input.bytes, Bytes::Mapped(_))
    }

    /// The mapped reader yields exactly what the buffered one does, frame
    /// for frame and error for error, on every capture the tests keep
    /// (hostile ones included) and on cuts of a real one at every kind of
    /// place (inside the file header, a record header, a record's data).
    #[test]
    fn mapped_files_read_as_buffered_ones_do() {
        let mut files = Vec::new();
        for dir in [
            "captures",
            "tests/hostile",
            "tests/data",
            "tests/data/real-syns",
            "tests/fuzz-regressions/capture",
        ] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.expect("directory entry").path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 40, "{files:?}");
        let tmp = std::env::temp_dir().join(format!("synlab-mmap-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let whole = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/linux-default.pcapng"),
        )
        .expect("capture");
        for cut in [1, 3, 11, 30, 200, 333, 1000, whole.len() - 5] {
            let path = tmp.join(format!("cut-{cut}.pcapng"));
            std::fs::write(&path, &whole[..cut]).expect("write cut");
            files.push(path);
        }
        let empty = tmp.join("empty.pcap");
        std::fs::write(&empty, b"").expect("write empty");
        files.push(empty);
        for path in &files {
            let mapped = CaptureReader::open(path);
            if let Ok(r) = &mapped {
                assert!(is_mapped(r), "{} not mapped", path.display());
            }
            let buffered = CaptureReader::open_buffered(path);
            assert_eq!(frames_of(mapped), frames_of(buffered), "{}", path.display());
        }
        std::fs::remove_dir_all(&tmp).expect("remove temp dir");
    }

    /// A pcap of 1,000-byte records, at least three [`RELEASE`] chunks long,
    /// written to a temporary file named for `what`: its path, its length
    /// and how many records it holds.
    fn chunked_capture(what: &str) -> (PathBuf, usize, usize) {
        let tmp = std::env::temp_dir().join(format!("synlab-{what}-{}.pcap", std::process::id()));
        let mut bytes = include_bytes!("../../captures/linux-default.pcap")[..24].to_vec();
        let record = [
            [0u8; 8].as_slice(),
            &1000u32.to_le_bytes(),
            &1000u32.to_le_bytes(),
            &[0; 1000],
        ]
        .concat();
        while bytes.len() < 3 * RELEASE {
            bytes.extend_from_slice(&record);
        }
        std::fs::write(&tmp, &bytes).expect("write");
        (tmp, bytes.len(), (bytes.len() - 24) / record.len())
    }

    /// Read every frame of `r` (each of 1,000 bytes): how many.
    fn count_frames(r: &mut CaptureReader<File>) -> usize {
        let mut n = 0;
        while let Some(frame) = r.next_frame() {
            assert_eq!(frame.expect("frame").data.len(), 1000);
            n += 1;
        }
        n
    }

    /// The bytes a mapped reader's map has handed back.
    fn released(r: &CaptureReader<File>) -> usize {
        match &r.input.bytes {
            Bytes::Mapped(view) => view.map.released.load(Ordering::Relaxed),
            Bytes::Buffered(_) => panic!("not mapped"),
        }
    }

    /// A mapped file gives its pages back as it is read: a file of many
    /// [`RELEASE`]-sized chunks is read with every whole chunk released.
    #[test]
    fn read_pages_of_a_mapped_file_are_released() {
        let (tmp, len, frames) = chunked_capture("release");
        let mut r = CaptureReader::open(&tmp).expect("open");
        std::fs::remove_file(&tmp).expect("remove");
        assert_eq!(count_frames(&mut r), frames);
        assert_eq!(
            released(&r),
            len / RELEASE * RELEASE,
            "all whole chunks read past"
        );
    }

    /// A leading reader and a follower's view of one map (`--threads`):
    /// the follower finds each frame's bytes where the reader says they
    /// are; the pages go back only once both have read past them, and all
    /// of them by the end.
    #[test]
    fn a_follower_reads_the_leaders_frames_and_pages_go_back_once_both_passed() {
        let (tmp, len, frames) = chunked_capture("lead");
        let reader = CaptureReader::open(&tmp).expect("open");
        let Ok((mut reader, mut views)) = reader.leading(1) else {
            panic!("a mapped file can be led");
        };
        std::fs::remove_file(&tmp).expect("remove");
        let mut view = views.pop().expect("one view");
        let span = view.span();
        let mut read = 0;
        while let Some(frame) = reader.next_frame() {
            let frame = frame.expect("frame");
            let at = span.offset_of(frame.data).expect("in the map");
            assert_eq!(
                view.bytes().get(at..at + frame.data.len()),
                Some(frame.data)
            );
            read += 1;
        }
        assert_eq!(read, frames);
        assert_eq!(released(&reader), 0, "the follower has read nothing");
        view.read_past(len);
        assert_eq!(released(&reader), len / RELEASE * RELEASE);
        assert_eq!(span.offset_of(&[0u8; 4]), None, "not in the map");
    }

    /// Random byte edits of real captures: never a panic, never an endless
    /// loop (each file is at most its bytes' worth of frames).
    #[test]
    fn mutated_captures_never_panic_or_loop() {
        let seeds: [&[u8]; 2] = [
            include_bytes!("../../captures/linux-default.pcap"),
            include_bytes!("../../captures/linux-default.pcapng"),
        ];
        let mut rng = StdRng::seed_from_u64(10);
        for good in seeds {
            assert!(read_all(good) > 30);
            for _ in 0..1500 {
                let mut bytes = good.to_vec();
                for _ in 0..rng.gen_range(1..8) {
                    let at = rng.gen_range(0..bytes.len());
                    bytes[at] = match rng.gen_range(0..3) {
                        0 => rng.gen(),
                        1 => 0xff,
                        _ => 0,
                    };
                }
                bytes.truncate(rng.gen_range(1..=bytes.len()));
                assert!(read_all(&bytes) <= bytes.len() as u64 / 12);
            }
        }
    }
}
