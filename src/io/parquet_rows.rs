//! A Parquet file of plain rows with named, typed columns (`sweep
//! --parquet`: one row per target), on the column buffers of
//! [`crate::io::parquet_out`]. Written a row group at a time, so memory is
//! flat in the rows, and through [`crate::io::output`]: the file appears
//! only when complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::columns::{Cell, CellType};
use crate::io::output::OutputFile;
use crate::io::parquet_out::{field, write_row_group, Buffer, ParquetOutError, ROW_GROUP_ROWS};

/// Writes rows of fixed columns to a Parquet file.
pub struct RowsSink {
    path: PathBuf,
    names: Vec<String>,
    writer: SerializedFileWriter<OutputFile>,
    buffers: Vec<Buffer>,
    buffered: usize,
    rows: u64,
}

impl RowsSink {
    /// Start `path` with these columns (every one OPTIONAL), the schema
    /// named `schema`.
    pub fn create(
        path: &Path,
        schema: &str,
        columns: &[(String, CellType)],
    ) -> Result<RowsSink, ParquetOutError> {
        let write_err = |source| ParquetOutError::Write {
            path: path.to_owned(),
            source,
        };
        let fields = columns
            .iter()
            .map(|(n, t)| field(n, *t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(write_err)?;
        let schema = Type::group_type_builder(schema)
            .with_fields(fields)
            .build()
            .map_err(write_err)?;
        let props = WriterProperties::builder()
            .set_max_row_group_size(ROW_GROUP_ROWS)
            .set_created_by(format!("synlab {}", env!("CARGO_PKG_VERSION")))
            .build();
        let file = OutputFile::create(path, "Parquet")?;
        let writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
            .map_err(write_err)?;
        Ok(RowsSink {
            path: path.to_owned(),
            names: columns.iter().map(|(n, _)| n.clone()).collect(),
            writer,
            buffers: columns.iter().map(|(_, t)| Buffer::new(None, *t)).collect(),
            buffered: 0,
            rows: 0,
        })
    }

    /// Add one row, a cell per column in order (`None`: null).
    pub fn push(&mut self, cells: Vec<Option<Cell>>) -> Result<(), ParquetOutError> {
        let index = usize::try_from(self.rows).unwrap_or(usize::MAX) + self.buffered;
        for ((b, cell), name) in self.buffers.iter_mut().zip(cells).zip(&self.names) {
            b.push(cell).map_err(|found| ParquetOutError::Type {
                path: self.path.clone(),
                index,
                column: name.clone(),
                found,
            })?;
        }
        self.buffered += 1;
        if self.buffered >= ROW_GROUP_ROWS {
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
        write_row_group(&mut self.writer, &mut self.buffers).map_err(write_err)?;
        self.rows += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Write what is buffered and the footer, and move the file into
    /// place; the rows written.
    pub fn finish(mut self) -> Result<u64, ParquetOutError> {
        self.write_row_group()?;
        let path = self.path.clone();
        let file = self
            .writer
            .into_inner()
            .map_err(|source| ParquetOutError::Write { path, source })?;
        file.commit()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn rows_are_written_and_read_back_with_nulls() {
        let dir = std::env::temp_dir().join(format!("synlab-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("rows.parquet");
        let cols = vec![
            ("target".to_owned(), CellType::Text),
            ("linux.pass".to_owned(), CellType::Bool),
            ("linux.probes".to_owned(), CellType::Int),
        ];
        let mut sink = RowsSink::create(&path, "t", &cols).unwrap_or_else(|e| panic!("{e}"));
        let row = |t: &str, p: Option<bool>| {
            vec![
                Some(Cell::Text(t.into())),
                p.map(Cell::Bool),
                Some(Cell::Int(3)),
            ]
        };
        sink.push(row("198.19.1.1", Some(true)))
            .unwrap_or_else(|e| panic!("{e}"));
        sink.push(row("198.19.1.2", None))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            sink.push(vec![Some(Cell::Int(1))]).is_err(),
            "a number for text"
        );
        assert_eq!(sink.finish().unwrap_or_else(|e| panic!("{e}")), 2);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let reader = SerializedFileReader::new(file).unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<String> = reader
            .get_row_iter(None)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|r| r.map(|r| r.to_string()).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(
            rows,
            vec![
                r#"{target: "198.19.1.1", linux.pass: true, linux.probes: 3}"#,
                r#"{target: "198.19.1.2", linux.pass: null, linux.probes: 3}"#,
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
