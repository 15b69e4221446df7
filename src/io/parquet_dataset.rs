//! `handshakes --parquet DIR --partition-by date[,vantage]`: the attempts
//! as a hive-partitioned Parquet dataset, appended to run after run:
//!
//! ```text
//! DIR/date=2026-12-07/vantage=fra1/part-0000.parquet
//! DIR/date=2026-12-07/vantage=fra1/part-0001.parquet   (the next run)
//! DIR/date=2026-12-08/vantage=fra1/part-0000.parquet
//! ```
//!
//! `date` is the UTC day of the attempt's first SYN, `vantage` the name
//! given with `--vantage` (where the capture was taken). They are in the
//! path only, as hive partitioning has it; DuckDB
//! (`read_parquet('DIR/**/*.parquet', hive_partitioning = true)`), Spark
//! (`spark.read.parquet("DIR")`) and pyarrow (`dataset(DIR,
//! partitioning="hive")`) read them back as columns. The files are those of
//! [`super::parquet_out`] (BOOLEAN, INT64, DOUBLE and UTF-8 strings only,
//! which the three read alike), in row groups of
//! [`super::parquet_out::ROW_GROUP_ROWS`] attempts.
//!
//! A run adds `part-N.parquet` files, `N` past the highest already in the
//! partition, and never replaces one: each file is written under a hidden
//! temporary name and takes its part name with a hard link, which fails on
//! a name taken meanwhile (by a run beside it: `xargs -P`), and the next
//! number is tried. Readers skip the hidden temporary files, so a dataset
//! read while a run writes to it holds whole files only.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::parquet_out::{ParquetOutError, ParquetSink};
use crate::handshake::Attempt;

/// Partitions written to at once; past it the least recently used one's
/// file is finished (a later attempt of it starts the next part), so a
/// capture whose clock wanders over years cannot hold a row group per day.
const OPEN_PARTITIONS: usize = 8;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error(transparent)]
    Parquet(#[from] ParquetOutError),
    #[error("{path}: cannot create the dataset directory: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A partition directory that is a symlink or a file: never written
    /// through (synlab may run as root in a directory others can write).
    #[error("{path}: is not a directory: refusing to write the dataset there")]
    NotDir { path: PathBuf },
}

/// A partition column, in the order given to `--partition-by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKey {
    /// The UTC day of the attempt's first SYN (`date=2026-12-07`).
    Date,
    /// Where the capture was taken (`vantage=NAME`, from `--vantage`).
    Vantage,
}

/// `--partition-by`: the keys, as given, each once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionBy(pub Vec<PartitionKey>);

impl std::str::FromStr for PartitionBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for word in s.split(',') {
            let key = match word.trim() {
                "date" => PartitionKey::Date,
                "vantage" => PartitionKey::Vantage,
                other => return Err(format!("unknown partition key `{other}` (date, vantage)")),
            };
            if keys.contains(&key) {
                return Err(format!("partition key `{}` given twice", word.trim()));
            }
            keys.push(key);
        }
        Ok(PartitionBy(keys))
    }
}

/// `--vantage NAME`: letters, digits, `.`, `_` and `-`, not starting with
/// `.` or `_` (readers skip such files and directories), at most 64 bytes,
/// so it is one path component that needs no escaping in a hive path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vantage(String);

/// The longest vantage name.
const VANTAGE_MAX: usize = 64;

impl std::str::FromStr for Vantage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.is_empty() || s.len() > VANTAGE_MAX {
            return Err(format!("a vantage name has 1 to {VANTAGE_MAX} characters"));
        }
        if s.starts_with(['.', '_']) {
            return Err("a vantage name cannot start with `.` or `_`".into());
        }
        match s.chars().find(|c| !allowed(*c)) {
            Some(c) => Err(format!(
                "{c:?} in a vantage name: use letters, digits, `.`, `_` and `-`"
            )),
            None => Ok(Vantage(s.to_owned())),
        }
    }
}

impl Vantage {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The partition directory of an attempt, relative to the dataset.
fn partition_of(keys: &[PartitionKey], vantage: Option<&Vantage>, a: &Attempt) -> PathBuf {
    let mut dir = PathBuf::new();
    for key in keys {
        match key {
            PartitionKey::Date => dir.push(format!("date={}", utc_date(a))),
            PartitionKey::Vantage => dir.push(format!(
                "vantage={}",
                vantage.map_or("unknown", Vantage::as_str)
            )),
        }
    }
    dir
}

/// `2026-12-07`: the UTC day of the attempt's first SYN.
fn utc_date(a: &Attempt) -> String {
    let text = crate::survey::rfc3339(a.first_syn_at().as_secs());
    text.get(..10).unwrap_or(&text).to_owned()
}

/// A part file's name.
fn part_name(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("part-{n:04}.parquet"))
}

/// The part number after the highest in `dir` (0 in a new partition).
fn next_part(dir: &Path) -> Result<u32, DatasetError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DatasetError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let highest = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_prefix("part-")?
                .strip_suffix(".parquet")?
                .parse::<u32>()
                .ok()
        })
        .max();
    Ok(highest.map_or(0, |n| n.saturating_add(1)))
}

/// Make `dir` (one level) unless it is there; a symlink or a file there
/// is refused.
fn make_dir(dir: &Path) -> Result<(), DatasetError> {
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(DatasetError::Dir {
                path: dir.to_owned(),
                source,
            })
        }
    }
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        _ => Err(DatasetError::NotDir {
            path: dir.to_owned(),
        }),
    }
}

/// A partition's file being written.
struct Part {
    dir: PathBuf,
    first: u32,
    sink: ParquetSink,
}

/// Writes attempts into the partitions of a dataset.
pub struct DatasetSink {
    root: PathBuf,
    source: PathBuf,
    keys: Vec<PartitionKey>,
    vantage: Option<Vantage>,
    /// Least recently used first.
    open: Vec<(PathBuf, Part)>,
    rows: u64,
    files: Vec<PathBuf>,
}

impl DatasetSink {
    /// Start writing into the dataset at `root` (made if absent);
    /// `source` is the capture, the `file` column of every row.
    pub fn create(
        root: &Path,
        source: &Path,
        by: &PartitionBy,
        vantage: Option<Vantage>,
    ) -> Result<DatasetSink, DatasetError> {
        make_dir(root)?;
        Ok(DatasetSink {
            root: root.to_owned(),
            source: source.to_owned(),
            keys: by.0.clone(),
            vantage,
            open: Vec::new(),
            rows: 0,
            files: Vec::new(),
        })
    }

    /// Add attempt `index` to its partition.
    pub fn push(&mut self, index: usize, a: &Attempt) -> Result<(), DatasetError> {
        let rel = partition_of(&self.keys, self.vantage.as_ref(), a);
        let at = match self.open.iter().position(|(r, _)| *r == rel) {
            Some(at) => at,
            None => self.open_part(rel)?,
        };
        // Most recently used last.
        let entry = self.open.remove(at);
        self.open.push(entry);
        match self.open.last_mut() {
            Some((_, part)) => Ok(part.sink.push(index, a)?),
            None => Ok(()),
        }
    }

    /// Open a new part in partition `rel`, finishing the least recently
    /// used one past [`OPEN_PARTITIONS`]; its place in `open`.
    fn open_part(&mut self, rel: PathBuf) -> Result<usize, DatasetError> {
        if self.open.len() >= OPEN_PARTITIONS {
            let (_, oldest) = self.open.remove(0);
            self.finish_part(oldest)?;
        }
        let mut dir = self.root.clone();
        for level in rel.components() {
            dir.push(level);
            make_dir(&dir)?;
        }
        let first = next_part(&dir)?;
        let sink = ParquetSink::create(&part_name(&dir, first), &self.source)?;
        self.open.push((rel, Part { dir, first, sink }));
        Ok(self.open.len() - 1)
    }

    fn finish_part(&mut self, part: Part) -> Result<(), DatasetError> {
        let dir = part.dir;
        let (rows, path) = part
            .sink
            .finish_unique(|n| part_name(&dir, n), part.first)?;
        self.rows += rows;
        self.files.push(path);
        Ok(())
    }

    /// Finish every open part: the rows written, and the files made (in
    /// the order they were finished). A capture with no attempt makes no
    /// file.
    pub fn finish(mut self) -> Result<(u64, Vec<PathBuf>), DatasetError> {
        for (_, part) in std::mem::take(&mut self.open) {
            self.finish_part(part)?;
        }
        Ok((self.rows, self.files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keys_parse_in_order_and_once() {
        use PartitionKey::*;
        assert_eq!("date".parse(), Ok(PartitionBy(vec![Date])));
        assert_eq!("date,vantage".parse(), Ok(PartitionBy(vec![Date, Vantage])));
        assert_eq!(
            "vantage, date".parse(),
            Ok(PartitionBy(vec![Vantage, Date]))
        );
        assert!("date,date".parse::<PartitionBy>().is_err());
        assert!("hour".parse::<PartitionBy>().is_err());
    }

    #[test]
    fn vantage_names_are_one_plain_path_component() {
        for good in ["fra1", "ams-edge.2", "a_b"] {
            assert!(good.parse::<Vantage>().is_ok(), "{good}");
        }
        let long = "x".repeat(VANTAGE_MAX + 1);
        for bad in [
            "",
            ".hidden",
            "_meta",
            "a/b",
            "..",
            "a=b",
            "a b",
            "é",
            long.as_str(),
        ] {
            assert!(bad.parse::<Vantage>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_next_part_follows_the_highest() {
        let dir = std::env::temp_dir().join(format!("synlab-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(next_part(&dir).unwrap(), 0);
        for name in [
            "part-0000.parquet",
            "part-0007.parquet",
            ".part-0009.parquet.x.tmp",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        assert_eq!(next_part(&dir).unwrap(), 8);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
