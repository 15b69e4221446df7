//! Several captures read as one stream: rotated files (`tcpdump -C/-G`,
//! `dumpcap -b`, `editcap -c`) and captures of two interfaces, merged by
//! packet time so that a flow crossing a file edge is one flow.
//!
//! The captures are named as files, directories (every regular file in
//! them that starts like a pcap or pcapng file, not recursive, not hidden;
//! the others, a README or a log beside the rotated files, are skipped
//! with a warning each) or `-`: standard input holding either a capture or
//! a list of paths, one a line (`find … | synlab handshakes -`), told apart
//! by its first bytes. A file named on its own is read whatever it holds,
//! so a wrong one is an error, not a skip.
//!
//! Files are ordered by their first packet's time, not their names, then
//! merged by timestamp: a k-way merge over readers that each stream, so
//! memory follows the files open at once, not their size. A file is opened
//! only when the merge reaches its first packet and closed at its end, so
//! rotated files (which do not overlap) are read one or two at a time and
//! only captures overlapping in time are open together: at most
//! [`MAX_OPEN`], past which reading stops with an error that says so.
//! Packets stamped alike keep the order of their files, and a file's own
//! packets always keep its order: a capture split at packet edges merges
//! back to itself whenever its stamps do not step back across an edge.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::capture_file::{CaptureError, CaptureReader, Frame};
pub use super::input::InputError;
use super::input::{is_stdin, LoadError, SkipReason, Warning};

/// Captures open at once, at most: the files whose packets overlap in time.
/// Far below the usual 1024 open-file limit, and a merge this wide is two
/// interfaces' captures many times over, not a rotation.
pub const MAX_OPEN: usize = 256;

/// Bits of a merged packet number that hold the packet's number in its
/// file; the bits above hold the file's place in the merge. A file of more
/// than 2^40 packets (petabytes) is beyond it.
pub const LOCAL_BITS: u32 = 40;

/// Files in one merge, at most (their place must fit above [`LOCAL_BITS`]).
pub const MAX_FILES: usize = 1 << 22;

/// A path list on standard input is far below this.
const MAX_PATH_LIST: u64 = 16 * 1024 * 1024;

/// What the command line named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inputs {
    /// One capture (or `-`, a capture on standard input): read as before.
    One(PathBuf),
    /// Several captures, to merge by time.
    Many(Vec<PathBuf>),
}

/// Gather the captures `args` name. One file (or `-` holding a capture)
/// is [`Inputs::One`], read exactly as before; more are [`Inputs::Many`].
/// Beside them, a warning for each file of a directory that was skipped
/// because it is no capture.
pub fn resolve(args: &[PathBuf]) -> Result<(Inputs, Vec<Warning>), LoadError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for arg in args {
        if is_stdin(arg) {
            match stdin_list()? {
                None if args.len() == 1 => return Ok((Inputs::One(arg.clone()), Vec::new())),
                None => return Err(InputError::StdinCaptureAmongOthers.into()),
                Some(list) if list.is_empty() => return Err(InputError::EmptyList.into()),
                Some(list) => files.extend(list),
            }
        } else if arg.is_dir() {
            files.extend(directory_files(arg, &mut skipped)?);
        } else {
            files.push(arg.clone());
        }
    }
    if files.len() > MAX_FILES {
        return Err(InputError::TooManyFiles {
            files: files.len(),
            limit: MAX_FILES,
        }
        .into());
    }
    let inputs = match <[PathBuf; 1]>::try_from(files) {
        Ok([one]) => Inputs::One(one),
        Err(many) => Inputs::Many(many),
    };
    Ok((inputs, skipped))
}

/// The paths listed on standard input, or `None` when it holds a capture
/// (its first bytes are a pcap or pcapng magic, or not text): peeked, not
/// consumed, so the capture reader still sees them.
fn stdin_list() -> Result<Option<Vec<PathBuf>>, LoadError> {
    super::input::check_stdin_unread()?;
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let head = lock
        .fill_buf()
        .map_err(|source| InputError::StdinList { source })?;
    if head.is_empty() || looks_like_capture(head) {
        return Ok(None);
    }
    super::input::take_stdin()?;
    let mut bytes = Vec::new();
    lock.take(MAX_PATH_LIST + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::StdinList { source })?;
    if bytes.len() as u64 > MAX_PATH_LIST {
        return Err(InputError::StdinListTooLarge { max: MAX_PATH_LIST }.into());
    }
    let list = path_list(&bytes);
    for path in &list {
        if let Err(source) = std::fs::metadata(path) {
            let line = path.clone();
            return Err(InputError::ListedMissing { line, source }.into());
        }
    }
    Ok(Some(list))
}

/// Whether the first bytes of standard input start a capture (or are no
/// list of paths, so the capture reader should say what they are).
fn looks_like_capture(head: &[u8]) -> bool {
    let n = head.len().min(4);
    let text = |b: &u8| b.is_ascii_graphic() || matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    MAGICS.iter().any(|m| m[..n] == head[..n]) || !head[..n].iter().all(text)
}

/// The first four bytes of pcap (both byte orders, micro- and nanosecond)
/// and pcapng files.
const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// The file's first four bytes when they are no capture's magic; `None`
/// for a capture, and for a file that cannot be read (the reader says why
/// when it opens it, rather than the file being skipped unseen).
fn not_capture(path: &Path) -> Option<[u8; 4]> {
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(path).ok()?;
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    (got < head.len() || !MAGICS.contains(&head)).then_some(head)
}

/// One path a line; blank lines skipped, a trailing `\r` dropped.
fn path_list(bytes: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .map(|line| PathBuf::from(std::ffi::OsStr::from_bytes(line)))
        .collect()
}

/// A directory's regular files (symlinks followed) that start like
/// captures, hidden ones left out, by name: rotated captures have no
/// common extension (`x.pcap1`). The files that are no capture go into
/// `skipped`, a warning each.
fn directory_files(dir: &Path, skipped: &mut Vec<Warning>) -> Result<Vec<PathBuf>, InputError> {
    let list_err = |source| InputError::ListDir {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let path = entry.map_err(list_err)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
        if hidden || !path.is_file() {
            continue;
        }
        match not_capture(&path) {
            None => files.push(path),
            Some(head) => skipped.push(Warning {
                path,
                number: 0,
                why: SkipReason::NotCapture(head),
            }),
        }
    }
    if files.is_empty() {
        return Err(InputError::EmptyDir {
            path: dir.to_owned(),
        });
    }
    files.sort();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A frame copied out of its reader, waiting for its turn in the merge.
struct Head {
    number: u64,
    timestamp: Duration,
    linktype: u32,
    orig_len: u32,
    data: Vec<u8>,
}

impl Head {
    fn set(&mut self, f: &Frame<'_>) {
        self.number = f.number;
        self.timestamp = f.timestamp;
        self.linktype = f.linktype;
        self.orig_len = f.orig_len;
        self.data.clear();
        self.data.extend_from_slice(f.data);
    }
}

struct Open {
    reader: CaptureReader,
    head: Head,
}

/// One frame of the merge: the frame (its `number` is its number in its
/// file), the merged number the tracker is fed, and its file.
pub struct Merged<'a> {
    pub frame: Frame<'a>,
    pub id: u64,
    pub file: usize,
    pub pcapng: bool,
}

/// Several captures read as one, in time order (see the module docs).
pub struct Merge {
    files: Vec<PathBuf>,
    starts: Vec<Option<Duration>>,
    next_to_open: usize,
    open: Vec<Option<Open>>,
    /// (head time, file) of every open file.
    heap: BinaryHeap<Reverse<(Duration, usize)>>,
    /// The file whose head was handed out last: advanced on the next call.
    current: Option<usize>,
    open_count: usize,
    /// Bytes of the files already read to their end.
    done_bytes: u64,
    /// The first error that stopped one file; the others read on.
    error: Option<LoadError>,
}

impl Merge {
    /// Order `files` by their first packet's time (an empty capture first;
    /// alike, in the order given) and prepare to merge them. Opening errors
    /// (a missing file, a bad header) are returned.
    pub fn new(files: Vec<PathBuf>) -> Result<Merge, LoadError> {
        let mut keyed = Vec::with_capacity(files.len());
        for (given, path) in files.into_iter().enumerate() {
            keyed.push((first_time(&path)?, given, path));
        }
        keyed.sort_by_key(|(start, given, _)| (*start, *given));
        let starts = keyed.iter().map(|k| k.0).collect();
        let files: Vec<PathBuf> = keyed.into_iter().map(|k| k.2).collect();
        Ok(Merge {
            open: (0..files.len()).map(|_| None).collect(),
            files,
            starts,
            next_to_open: 0,
            heap: BinaryHeap::new(),
            current: None,
            open_count: 0,
            done_bytes: 0,
            error: None,
        })
    }

    /// The files in merge order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The file and the number in it of merged packet `id`.
    pub fn locate(&self, id: u64) -> (&Path, u64) {
        let file = usize::try_from(id >> LOCAL_BITS).unwrap_or(usize::MAX);
        let path = self
            .files
            .get(file)
            .map_or(Path::new("-"), PathBuf::as_path);
        (path, id & ((1 << LOCAL_BITS) - 1))
    }

    /// Bytes read so far, over every file.
    pub fn offset(&self) -> u64 {
        let open: u64 = self.open.iter().flatten().map(|o| o.reader.offset()).sum();
        self.done_bytes + open
    }

    /// The error that stopped one of the files, if any.
    pub fn take_error(&mut self) -> Option<LoadError> {
        self.error.take()
    }

    /// The next frame in time order; `None` when every file is read. An
    /// error is fatal (too many files overlap); a file's read error stops
    /// that file only, and is kept for [`Merge::take_error`].
    pub fn next_frame(&mut self) -> Option<Result<Merged<'_>, LoadError>> {
        if let Some(file) = self.current.take() {
            self.advance(file);
        }
        if let Err(e) = self.open_due() {
            return Some(Err(e));
        }
        let Reverse((_, file)) = self.heap.pop()?;
        self.current = Some(file);
        let open = self.open.get(file)?.as_ref()?;
        let h = &open.head;
        Some(Ok(Merged {
            frame: Frame {
                number: h.number,
                timestamp: h.timestamp,
                linktype: h.linktype,
                orig_len: h.orig_len,
                data: &h.data,
            },
            id: ((file as u64) << LOCAL_BITS) | h.number,
            file,
            pcapng: open.reader.is_pcapng(),
        }))
    }

    /// Open every file whose first packet the merge has reached (the next
    /// one, when nothing is open).
    fn open_due(&mut self) -> Result<(), LoadError> {
        while self.next_to_open < self.files.len() {
            let file = self.next_to_open;
            let due = match (self.heap.peek(), self.starts[file]) {
                (None, _) | (_, None) => true,
                (Some(Reverse((now, _))), Some(start)) => start <= *now,
            };
            if !due {
                break;
            }
            if self.open_count >= MAX_OPEN {
                return Err(InputError::TooManyOpen {
                    path: self.files[file].clone(),
                    open: self.open_count + 1,
                    limit: MAX_OPEN,
                }
                .into());
            }
            self.next_to_open += 1;
            match CaptureReader::open(&self.files[file]) {
                Ok(reader) => {
                    let head = Head {
                        number: 0,
                        timestamp: Duration::ZERO,
                        linktype: 0,
                        orig_len: 0,
                        data: Vec::new(),
                    };
                    self.open[file] = Some(Open { reader, head });
                    self.open_count += 1;
                    self.advance(file);
                }
                Err(e) => self.keep_error(e),
            }
        }
        Ok(())
    }

    /// Read file `file`'s next frame into its head and queue it, or close
    /// the file at its end or first error.
    fn advance(&mut self, file: usize) {
        let Some(open) = self.open.get_mut(file).and_then(Option::as_mut) else {
            return;
        };
        let ended = match open.reader.next_frame() {
            Some(Ok(frame)) => {
                open.head.set(&frame);
                self.heap.push(Reverse((open.head.timestamp, file)));
                None
            }
            Some(Err(e)) => Some(Some(e)),
            None => Some(None),
        };
        if let Some(error) = ended {
            if let Some(closed) = self.open[file].take() {
                self.done_bytes += closed.reader.offset();
                self.open_count -= 1;
            }
            if let Some(e) = error {
                self.keep_error(e);
            }
        }
    }

    fn keep_error(&mut self, e: CaptureError) {
        if self.error.is_none() {
            self.error = Some(e.into());
        }
    }
}

/// The time of a capture's first packet; `None` when it holds none (or
/// its first record is unreadable: reading it says why).
fn first_time(path: &Path) -> Result<Option<Duration>, LoadError> {
    let mut reader = CaptureReader::open_buffered(path)?;
    Ok(match reader.next_frame() {
        Some(Ok(frame)) => Some(frame.timestamp),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_magics_and_binary_are_captures_and_text_is_a_list() {
        assert!(looks_like_capture(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]));
        assert!(looks_like_capture(&[0x0a, 0x0d, 0x0d, 0x0a]));
        assert!(looks_like_capture(&[0x4d, 0x3c]));
        assert!(looks_like_capture(&[0x00, 0x01, 0x02, 0x03]));
        assert!(!looks_like_capture(b"captures/a.pcap\n"));
        assert!(!looks_like_capture(b"Mon/x.pcap\n"));
    }

    #[test]
    fn a_path_list_skips_blank_lines_and_carriage_returns() {
        let list = path_list(b"a.pcap\r\n\nb c.pcap\n");
        assert_eq!(
            list,
            vec![PathBuf::from("a.pcap"), PathBuf::from("b c.pcap")]
        );
    }
}
