//! Reading a file whole, for the small text files synlab is given by path:
//! profiles (and every `*.toml` of a profile directory), `--p0f-db`, survey
//! documents.
//!
//! A path is anyone's: `z.toml -> /dev/zero` grew synlab to 5.7 GB, a FIFO
//! named `x.toml` hung it (issue 22, item 7). Only a regular file is read
//! (a symlink to one is followed), opened without blocking so a FIFO is
//! refused rather than waited on, and never more than a cap the caller
//! gives, checked on the size and again while reading (a file that grows).
//! Captures are not read here: they stream, and a pipe is a fine capture.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::io::output::file_kind;

/// Why a file could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadFileError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: larger than the {max}-byte limit")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A profile, a p0f database or a survey is far below this.
pub const MAX_TEXT_FILE: u64 = 16 * 1024 * 1024;

/// The bytes of the regular file at `path`, at most `max` of them.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadFileError> {
    let open_err = |source| ReadFileError::Open {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if !meta.is_file() {
        return Err(ReadFileError::NotRegular {
            path: path.to_owned(),
            kind: file_kind(&meta.file_type()),
        });
    }
    let too_large = || ReadFileError::TooLarge {
        path: path.to_owned(),
        max,
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ReadFileError::Read {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, ReadFileError> {
    let bytes = read_regular(path, max)?;
    String::from_utf8(bytes).map_err(|e| ReadFileError::Read {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("synlab-read-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    /// Issue 22, item 7: `z.toml -> /dev/zero` was read until memory ran
    /// out, and a FIFO named `*.toml` hung the read.
    #[test]
    fn bug_devices_and_fifos_were_read_without_end() {
        let d = dir("special");
        let zero = d.join("z.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap_or_else(|e| panic!("{e}"));
        let fifo = d.join("f.toml");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: mkfifo reads a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for (path, kind) in [(&zero, "a character device"), (&fifo, "a FIFO")] {
            match read_text(path, MAX_TEXT_FILE) {
                Err(ReadFileError::NotRegular { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_file_over_the_cap_is_refused_and_one_under_it_read() {
        let d = dir("cap");
        let f = d.join("p.toml");
        std::fs::write(&f, "name = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_text(&f, 11).ok().as_deref(), Some("name = \"x\"\n"));
        assert!(matches!(
            read_text(&f, 10),
            Err(ReadFileError::TooLarge { max: 10, .. })
        ));
        let _ = std::fs::remove_dir_all(&d);
    }
}
