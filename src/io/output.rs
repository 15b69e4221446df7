//! Every file synlab writes goes through here (`--parquet`, `--html`,
//! `--pcap`, `capture --out`, `craft --out`, profiles written out).
//!
//! synlab often runs as root in a directory other users can write, so a
//! writer must never be turned against a file the user did not name
//! (issue 22, items 2 and 3):
//! - an existing path that is not a regular file (a device, a FIFO, a
//!   symlink, a directory) is refused, not replaced or followed;
//! - the bytes go to a temporary file with a random name beside the target,
//!   opened `O_CREAT|O_EXCL|O_NOFOLLOW`, so nothing planted there (a
//!   symlink named like it) is written through;
//! - the temporary file is renamed over the target only by
//!   [`OutputFile::commit`], when the run succeeded: a failed run leaves
//!   the user's existing file as it was, and removes its temporary file.
//!
//! `-` means standard output where the caller says the format may stream
//! there and nothing else goes there ([`Output::create`]); elsewhere it is
//! refused, rather than written as a file named `-`.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why an output could not be opened or finished.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: is {kind}, not a regular file: refusing to replace it")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{what} cannot go to standard output (`-`): give a file name")]
    NoStdout { what: &'static str },
    #[error("{path}: cannot create a temporary file beside it: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot move the finished file into place: {source}")]
    Rename {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An output being written: standard output, or a file under a temporary
/// name until [`OutputFile::commit`].
pub enum Output {
    Stdout(io::Stdout),
    File(OutputFile),
}

impl Output {
    /// Open `path` for writing `what` (for errors: `--pcap`); `-` is
    /// standard output when `stdout_ok`.
    pub fn create(path: &Path, what: &'static str, stdout_ok: bool) -> Result<Output, OutputError> {
        if stdout_ok && path.as_os_str() == "-" {
            return Ok(Output::Stdout(io::stdout()));
        }
        OutputFile::create(path, what).map(Output::File)
    }

    /// Flush, and move a file into place.
    pub fn commit(self) -> Result<(), OutputError> {
        match self {
            Output::Stdout(mut s) => s.flush().map_err(|source| OutputError::Write {
                path: PathBuf::from("-"),
                source,
            }),
            Output::File(f) => f.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::File(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

/// A file written under a temporary name beside its target; dropped
/// without [`OutputFile::commit`], the temporary file is removed and the
/// target is untouched.
pub struct OutputFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    /// The target, opened at the start ([`OutputFile::create_held`]).
    held: Option<Held>,
}

/// A target opened before a live command drops its privileges: afterwards
/// root without `CAP_DAC_OVERRIDE` can neither rename into nor create in
/// another user's directory, so the finished bytes are copied into it.
struct Held {
    file: File,
    /// Made by this run (it did not exist): removed if the run fails.
    created: bool,
}

/// Tries at a fresh random name when one is taken.
const NAME_TRIES: usize = 16;

impl OutputFile {
    /// Check `path` (absent, or a regular file) and open a temporary file
    /// beside it, for `what` (`--html`, for errors). `-` is refused.
    pub fn create(path: &Path, what: &'static str) -> Result<OutputFile, OutputError> {
        if path.as_os_str() == "-" {
            return Err(OutputError::NoStdout { what });
        }
        let existing = check_target(path)?;
        let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
        for _ in 0..NAME_TRIES {
            let temp = temp_name(path);
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(existing.unwrap_or(0o666))
                .open(&temp);
            match opened {
                Ok(file) => {
                    return Ok(OutputFile {
                        path: path.to_owned(),
                        temp,
                        file: Some(file),
                        held: None,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(source) => {
                    return Err(OutputError::Create {
                        path: path.to_owned(),
                        source,
                    })
                }
            }
        }
        Err(OutputError::Create {
            path: path.to_owned(),
            source: last,
        })
    }

    /// [`OutputFile::create`] for a command that drops its privileges
    /// before it finishes (`probe`/`bisect --pcap`, `capture --out`): the
    /// target is opened now (created if absent, `O_NOFOLLOW`, not
    /// truncated, checked to be a regular file), the temporary file is
    /// unlinked at once (it needs no name), and [`OutputFile::commit`]
    /// copies the bytes into the target. A failed run leaves an existing
    /// target as it was, and removes one it created when it still may.
    pub fn create_held(path: &Path, what: &'static str) -> Result<OutputFile, OutputError> {
        let mut out = OutputFile::create(path, what)?;
        let held = open_held(path)?;
        let _ = std::fs::remove_file(&out.temp);
        out.temp = PathBuf::new();
        out.held = Some(held);
        Ok(out)
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush to disk and rename over the target. The target is checked
    /// again: replaced by something else meanwhile, it is refused.
    pub fn commit(mut self) -> Result<(), OutputError> {
        let write_err = |source| OutputError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(held) = self.held.take() {
            let mut stage = self
                .file
                .take()
                .ok_or_else(|| write_err(io::Error::other("no data")))?;
            return copy_into(&mut stage, held.file).map_err(write_err);
        }
        if let Some(mut file) = self.file.take() {
            file.flush().map_err(write_err)?;
            file.sync_all().map_err(write_err)?;
        }
        let moved = check_target(&self.path).and_then(|_| {
            std::fs::rename(&self.temp, &self.path).map_err(|source| OutputError::Rename {
                path: self.path.clone(),
                source,
            })
        });
        if moved.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        self.temp = PathBuf::new();
        moved
    }
}

impl OutputFile {
    /// Flush to disk and give the file the first name `name(n)`, from
    /// `n = first`, that is free: never replacing a file, even one another
    /// run makes meanwhile (the name is taken with a hard link, which fails
    /// on an existing name, then the temporary name is removed). For
    /// datasets appended to run after run, and by runs side by side.
    pub fn commit_unique(
        mut self,
        name: impl Fn(u32) -> PathBuf,
        first: u32,
    ) -> Result<PathBuf, OutputError> {
        let write_err = |source| OutputError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(mut file) = self.file.take() {
            file.flush().map_err(write_err)?;
            file.sync_all().map_err(write_err)?;
        }
        let mut n = first;
        loop {
            let target = name(n);
            match std::fs::hard_link(&self.temp, &target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.temp);
                    self.temp = PathBuf::new();
                    return Ok(target);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < u32::MAX => n += 1,
                Err(source) => {
                    return Err(OutputError::Rename {
                        path: target,
                        source,
                    })
                }
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for OutputFile {
    /// Not committed (an error, an interrupt, a panic): the temporary file
    /// goes, the target stays as it was.
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.temp);
        }
        if self.held.as_ref().is_some_and(|h| h.created) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Open (or create) the target of [`OutputFile::create_held`]: never
/// through a symlink, never blocking on a FIFO, never truncated here.
fn open_held(path: &Path) -> Result<Held, OutputError> {
    let open = |create_new: bool| {
        OpenOptions::new()
            .write(true)
            .create_new(create_new)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
    };
    let create_err = |source| OutputError::Create {
        path: path.to_owned(),
        source,
    };
    let (file, created) = match open(true) {
        Ok(file) => (file, true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            (open(false).map_err(create_err)?, false)
        }
        Err(e) => return Err(create_err(e)),
    };
    let meta = file.metadata().map_err(create_err)?;
    if !meta.is_file() {
        return Err(OutputError::NotRegular {
            path: path.to_owned(),
            kind: file_kind(&meta.file_type()),
        });
    }
    Ok(Held { file, created })
}

/// The staged bytes into the held target, replacing what it held.
fn copy_into(stage: &mut File, mut target: File) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    stage.flush()?;
    stage.seek(SeekFrom::Start(0))?;
    target.set_len(0)?;
    io::copy(stage, &mut target)?;
    target.sync_all()
}

/// Write `bytes` to `path` whole (through a temporary file).
pub fn write_whole(path: &Path, what: &'static str, bytes: &[u8]) -> Result<(), OutputError> {
    let mut out = OutputFile::create(path, what)?;
    out.write_all(bytes).map_err(|source| OutputError::Write {
        path: path.to_owned(),
        source,
    })?;
    out.commit()
}

/// `path` may be written: it does not exist, or it is a regular file (not
/// followed if a symlink). The mode of the existing file, to keep.
fn check_target(path: &Path) -> Result<Option<u32>, OutputError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OutputError::Create {
                path: path.to_owned(),
                source,
            })
        }
    };
    let kind = file_kind(&meta.file_type());
    if kind != "a regular file" {
        return Err(OutputError::NotRegular {
            path: path.to_owned(),
            kind,
        });
    }
    Ok(Some(meta.permissions().mode() & 0o777))
}

/// The kind of file, in words for an error.
pub fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a regular file"
    }
}

/// `.NAME.XXXXXXXXXXXXXXXX.tmp` beside `path`: hidden, random, and never a
/// name another run (or a user guessing it) can have prepared.
fn temp_name(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_else(|| "output".as_ref()));
    name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("synlab-output-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| {
                e.map_or_else(
                    |e| panic!("{e}"),
                    |e| e.file_name().to_string_lossy().into(),
                )
            })
            .collect();
        names.sort();
        names
    }

    /// Issue 22, item 2: a special file or a symlink at the path was
    /// replaced by a regular file (as root, `--parquet /dev/null`).
    #[test]
    fn bug_special_files_and_symlinks_were_replaced() {
        let d = dir("special");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap_or_else(|e| panic!("{e}"));
        let link = d.join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap_or_else(|e| panic!("{e}"));
        for (path, kind) in [
            (Path::new("/dev/null"), "a character device"),
            (link.as_path(), "a symbolic link"),
            (d.as_path(), "a directory"),
        ] {
            match OutputFile::create(path, "--parquet") {
                Err(OutputError::NotRegular { kind: k, .. }) => assert_eq!(k, kind),
                Err(e) => panic!("{}: {e}", path.display()),
                Ok(_) => panic!("{}: accepted", path.display()),
            }
        }
        assert_eq!(std::fs::read(&victim).ok(), Some(b"keep".to_vec()));
        assert_eq!(entries(&d), ["link", "victim"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Issue 22, item 3: the old fixed `OUT.partial` name, pre-created as a
    /// symlink by whoever can write the directory, was written through.
    #[test]
    fn bug_a_planted_partial_symlink_was_written_through() {
        let d = dir("planted");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap_or_else(|e| panic!("{e}"));
        let out = d.join("out.parquet");
        std::os::unix::fs::symlink(&victim, d.join("out.parquet.partial"))
            .unwrap_or_else(|e| panic!("{e}"));
        write_whole(&out, "--parquet", b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&victim).ok(), Some(b"keep".to_vec()));
        assert_eq!(std::fs::read(&out).ok(), Some(b"new".to_vec()));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// An uncommitted output leaves the existing file whole and no
    /// temporary file behind (`bisect --recorded /missing --html notes.txt`
    /// deleted notes.txt).
    #[test]
    fn bug_a_failed_run_truncated_or_deleted_the_existing_file() {
        let d = dir("failed");
        let notes = d.join("notes.txt");
        std::fs::write(&notes, b"my notes").unwrap_or_else(|e| panic!("{e}"));
        let mut out = OutputFile::create(&notes, "--html").unwrap_or_else(|e| panic!("{e}"));
        out.write_all(b"half a page")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(out);
        assert_eq!(std::fs::read(&notes).ok(), Some(b"my notes".to_vec()));
        assert_eq!(entries(&d), ["notes.txt"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A held output (live commands, which drop privileges before they
    /// finish) keeps the user's file until commit, and leaves no name.
    #[test]
    fn a_held_output_replaces_the_file_only_on_commit() {
        let d = dir("held");
        let out = d.join("out.pcap");
        std::fs::write(&out, b"old contents").unwrap_or_else(|e| panic!("{e}"));
        let mut o = OutputFile::create_held(&out, "--pcap").unwrap_or_else(|e| panic!("{e}"));
        o.write_all(b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries(&d), ["out.pcap"]);
        assert_eq!(std::fs::read(&out).ok(), Some(b"old contents".to_vec()));
        o.commit().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&out).ok(), Some(b"new".to_vec()));
        // Failed: an existing file stays, a new one goes.
        drop(OutputFile::create_held(&out, "--pcap"));
        assert_eq!(std::fs::read(&out).ok(), Some(b"new".to_vec()));
        let fresh = d.join("fresh.pcap");
        drop(OutputFile::create_held(&fresh, "--pcap"));
        assert_eq!(entries(&d), ["out.pcap"]);
        let link = d.join("link");
        std::os::unix::fs::symlink(&out, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            OutputFile::create_held(&link, "--pcap"),
            Err(OutputError::NotRegular { .. })
        ));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Issue 22, item 2: `--parquet -` and `--html -` wrote a file named `-`.
    #[test]
    fn bug_dash_was_written_as_a_file_named_dash() {
        match Output::create(Path::new("-"), "--html", false) {
            Err(e) => assert_eq!(
                e.to_string(),
                "--html cannot go to standard output (`-`): give a file name"
            ),
            Ok(_) => panic!("accepted"),
        }
        assert!(matches!(
            Output::create(Path::new("-"), "capture --out", true),
            Ok(Output::Stdout(_))
        ));
    }
}
