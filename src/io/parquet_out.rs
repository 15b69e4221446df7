//! `handshakes --parquet OUT`: one row per attempt in a Parquet file, for
//! archives bigger than one machine's patience. synlab is the per-file
//! mapper; DuckDB, Spark or Trino read a directory of these files as one
//! table (`SELECT … FROM 'archive/*.parquet'`).
//!
//! The columns are [`crate::columns`]' (the same as `--fields`), under
//! Parquet names: the attempt's facts by their short names (`outcome`,
//! `rtt_ms`), the SYN's attributes as `syn.NAME`, the SYN-ACK's as
//! `syn_ack.NAME`, the flow's as `synlab.flow.NAME`, and the capture's path
//! as `file`. Each is typed by the vocabulary (BOOLEAN, INT64, DOUBLE or a
//! UTF-8 string) and OPTIONAL: absent is null.
//!
//! Rows are buffered column by column and written as a row group every
//! [`ROW_GROUP_ROWS`] attempts, so memory stays flat however long the
//! capture. The file is written through [`crate::io::output`] (a temporary
//! file renamed when complete): a run that fails leaves no file a reader
//! would take for whole, and any file already at the path untouched.
//! Only the low-level column writer of the `parquet` crate is used (no
//! arrow, no compression codecs), which keeps synlab's build short.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use thiserror::Error;

use crate::columns::{all_columns, Cell, CellType, Column};
use crate::handshake::Attempt;
use crate::io::output::{OutputError, OutputFile};
use crate::model::Source;

/// Attempts per row group. An attempt is about 1 KB across its ~190
/// columns, so a row group is some 16 MB buffered: flat memory, and row
/// groups of the size Parquet readers parallelise over.
pub const ROW_GROUP_ROWS: usize = 16_384;

#[derive(Debug, Error)]
pub enum ParquetOutError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{path}: writing Parquet: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    /// A value whose type is not its column's (a decoder bug, reported
    /// rather than written as something else).
    #[error("{path}: attempt {index}: column {column} holds a {found}")]
    Type {
        path: PathBuf,
        index: usize,
        column: String,
        found: &'static str,
    },
}

/// A column's name in the Parquet file.
pub fn parquet_name(c: Column) -> String {
    match c {
        Column::Attempt(a) => a.name().to_owned(),
        Column::Syn(attr) if attr.source() == Source::Flow => attr.name().to_owned(),
        Column::Syn(attr) => format!("syn.{attr}"),
        Column::SynAck(attr) => format!("syn_ack.{attr}"),
    }
}

/// One column's values of the row group being filled.
enum Values {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(Vec<ByteArray>),
}

/// A column being buffered: present values, and one definition level per
/// row (1 present, 0 null).
pub(crate) struct Buffer {
    column: Option<Column>,
    values: Values,
    defs: Vec<i16>,
}

impl Buffer {
    pub(crate) fn new(column: Option<Column>, ty: CellType) -> Buffer {
        let values = match ty {
            CellType::Bool => Values::Bool(Vec::new()),
            CellType::Int => Values::Int(Vec::new()),
            CellType::Float => Values::Float(Vec::new()),
            CellType::Text => Values::Text(Vec::new()),
        };
        Buffer {
            column,
            values,
            defs: Vec::new(),
        }
    }

    /// Add one row's value; `Err` names the type found when it does not fit.
    pub(crate) fn push(&mut self, cell: Option<Cell>) -> Result<(), &'static str> {
        let Some(cell) = cell else {
            self.defs.push(0);
            return Ok(());
        };
        match (&mut self.values, cell) {
            (Values::Bool(v), Cell::Bool(b)) => v.push(b),
            (Values::Int(v), Cell::Int(n)) => v.push(i64::try_from(n).unwrap_or(i64::MAX)),
            (Values::Int(v), Cell::Bool(b)) => v.push(i64::from(b)),
            (Values::Float(v), Cell::Float(x)) => v.push(x),
            (Values::Text(v), Cell::Text(s)) => v.push(ByteArray::from(s.into_bytes())),
            (_, Cell::Bool(_)) => return Err("boolean"),
            (_, Cell::Int(_)) => return Err("number"),
            (_, Cell::Float(_)) => return Err("decimal number"),
            (_, Cell::Text(_)) => return Err("text"),
        }
        self.defs.push(1);
        Ok(())
    }

    /// Write the buffered values to the row group's next column and empty
    /// the buffer (its capacity is kept for the next row group).
    pub(crate) fn drain_into(&mut self, w: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
        let defs = Some(&self.defs[..]);
        match (&mut self.values, w) {
            (Values::Bool(v), ColumnWriter::BoolColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            (Values::Int(v), ColumnWriter::Int64ColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            (Values::Float(v), ColumnWriter::DoubleColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            (Values::Text(v), ColumnWriter::ByteArrayColumnWriter(w)) => {
                w.write_batch(v, defs, None)?;
                v.clear();
            }
            _ => {
                return Err(ParquetError::General(
                    "a column's buffer does not match its schema type".into(),
                ))
            }
        }
        self.defs.clear();
        Ok(())
    }
}

/// Drain every column buffer, in schema order, into one new row group:
/// the one loop both Parquet writers (attempts here, sweep rows in
/// `parquet_rows`) end a row group with.
pub(crate) fn write_row_group(
    writer: &mut SerializedFileWriter<OutputFile>,
    buffers: &mut [Buffer],
) -> Result<(), ParquetError> {
    let mut group = writer.next_row_group()?;
    for b in buffers {
        let Some(mut col) = group.next_column()? else {
            return Err(ParquetError::General(
                "fewer columns in the schema than buffered".into(),
            ));
        };
        b.drain_into(col.untyped())?;
        col.close()?;
    }
    group.close()?;
    Ok(())
}

/// The schema field of a column.
pub(crate) fn field(name: &str, ty: CellType) -> Result<Arc<Type>, ParquetError> {
    let (physical, logical) = match ty {
        CellType::Bool => (Physical::BOOLEAN, None),
        CellType::Int => (Physical::INT64, None),
        CellType::Float => (Physical::DOUBLE, None),
        CellType::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
    };
    Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical)
        .build()
        .map(Arc::new)
}

/// Writes attempts to a Parquet file, a row group at a time.
pub struct ParquetSink {
    path: PathBuf,
    file_name: String,
    writer: Option<SerializedFileWriter<OutputFile>>,
    /// The `file` column first, then [`all_columns`].
    buffers: Vec<Buffer>,
    buffered: usize,
    group_rows: usize,
    rows: u64,
}

impl ParquetSink {
    /// Start `path` (written under a temporary name until [`Self::finish`]);
    /// `source` is the capture's path, the `file` column of every row.
    pub fn create(path: &Path, source: &Path) -> Result<ParquetSink, ParquetOutError> {
        Self::with_row_groups(path, source, ROW_GROUP_ROWS)
    }

    /// [`Self::create`] with row groups of `rows` attempts (at least 1).
    pub fn with_row_groups(
        path: &Path,
        source: &Path,
        rows: usize,
    ) -> Result<ParquetSink, ParquetOutError> {
        let write_err = |source| ParquetOutError::Write {
            path: path.to_owned(),
            source,
        };
        let mut buffers = vec![Buffer::new(None, CellType::Text)];
        let mut fields = vec![field("file", CellType::Text).map_err(write_err)?];
        for c in all_columns() {
            fields.push(field(&parquet_name(c), c.cell_type()).map_err(write_err)?);
            buffers.push(Buffer::new(Some(c), c.cell_type()));
        }
        let schema = Type::group_type_builder("synlab_attempt")
            .with_fields(fields)
            .build()
            .map_err(write_err)?;
        let props = WriterProperties::builder()
            .set_max_row_group_size(rows.max(1))
            .set_created_by(format!("synlab {}", env!("CARGO_PKG_VERSION")))
            .build();
        let file = OutputFile::create(path, "Parquet")?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
            .map_err(write_err)?;
        Ok(ParquetSink {
            path: path.to_owned(),
            file_name: source.display().to_string(),
            writer: Some(writer),
            buffers,
            buffered: 0,
            group_rows: rows.max(1),
            rows: 0,
        })
    }

    /// Add attempt `index` of the capture; a full row group is written.
    pub fn push(&mut self, index: usize, a: &Attempt) -> Result<(), ParquetOutError> {
        for b in &mut self.buffers {
            let cell = match b.column {
                Some(c) => c.value(index, a),
                None => Some(Cell::Text(self.file_name.clone())),
            };
            b.push(cell).map_err(|found| ParquetOutError::Type {
                path: self.path.clone(),
                index,
                column: b.column.map_or_else(|| "file".to_owned(), parquet_name),
                found,
            })?;
        }
        self.buffered += 1;
        if self.buffered >= self.group_rows {
            self.write_row_group()?;
        }
        Ok(())
    }

    fn write_row_group(&mut self) -> Result<(), ParquetOutError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let path = &self.path;
        let write_err = |source| ParquetOutError::Write {
            path: path.clone(),
            source,
        };
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        write_row_group(writer, &mut self.buffers).map_err(write_err)?;
        self.rows += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Write what is buffered and the footer, and move the file into place;
    /// the number of rows written.
    pub fn finish(self) -> Result<u64, ParquetOutError> {
        let (rows, file) = self.close()?;
        if let Some(file) = file {
            file.commit()?;
        }
        Ok(rows)
    }

    /// [`Self::finish`], the file named `name(n)` for the first free `n`
    /// from `first` ([`OutputFile::commit_unique`]): a dataset's part,
    /// never replacing another. The rows, and the name taken.
    pub fn finish_unique(
        self,
        name: impl Fn(u32) -> PathBuf,
        first: u32,
    ) -> Result<(u64, PathBuf), ParquetOutError> {
        let path = self.path.clone();
        let (rows, file) = self.close()?;
        match file {
            Some(file) => Ok((rows, file.commit_unique(name, first)?)),
            None => Ok((rows, path)),
        }
    }

    /// The last row group and the footer written; the file, not yet in place.
    fn close(mut self) -> Result<(u64, Option<OutputFile>), ParquetOutError> {
        self.write_row_group()?;
        let file = match self.writer.take() {
            Some(writer) => Some(
                writer
                    .into_inner()
                    .map_err(|source| ParquetOutError::Write {
                        path: self.path.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        Ok((self.rows, file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attr, Field};

    #[test]
    fn names_follow_the_issue() {
        assert_eq!(
            parquet_name(Column::Syn(Attr::Field(Field::SynlabP0f))),
            "syn.synlab.p0f"
        );
        assert_eq!(
            parquet_name(Column::SynAck(Attr::Field(Field::IpTtl))),
            "syn_ack.ip.ttl"
        );
        assert_eq!(
            parquet_name(Column::Syn(Attr::Field(Field::SynlabFlowTtl))),
            "synlab.flow.ttl"
        );
        let names: Vec<String> = all_columns().into_iter().map(parquet_name).collect();
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "duplicate column names");
        assert!(!names.contains(&"file".to_owned()));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused() {
        let mut b = Buffer::new(None, CellType::Int);
        assert_eq!(b.push(Some(Cell::Int(3))), Ok(()));
        assert_eq!(b.push(Some(Cell::Bool(true))), Ok(()));
        assert_eq!(b.push(None), Ok(()));
        assert_eq!(b.push(Some(Cell::Text("x".into()))), Err("text"));
        assert_eq!(b.defs, [1, 1, 0]);
    }
}
