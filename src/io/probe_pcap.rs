//! Writing captured Ethernet frames to a classic pcap file (pcap-file),
//! for `probe --pcap` and `capture`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PcapOutError {
    #[error("{path}: cannot create: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: PcapError,
    },
    #[error("{path}: cannot write: {source}")]
    Flush {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// An open pcap file of Ethernet frames with nanosecond timestamps.
pub struct PcapOut {
    path: PathBuf,
    writer: PcapWriter<BufWriter<File>>,
    packets: u64,
}

impl PcapOut {
    pub fn create(path: &Path) -> Result<Self, PcapOutError> {
        let file = File::create(path).map_err(|source| PcapOutError::Create {
            path: path.to_owned(),
            source,
        })?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::native(),
            snaplen: 262_144,
            ..Default::default()
        };
        let writer = PcapWriter::with_header(BufWriter::new(file), header).map_err(|source| {
            PcapOutError::Write {
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(PcapOut {
            path: path.to_owned(),
            writer,
            packets: 0,
        })
    }

    /// One frame; `ts` is the time since the Unix epoch.
    pub fn write(&mut self, ts: Duration, frame: &[u8]) -> Result<(), PcapOutError> {
        let packet = PcapPacket::new(ts, frame.len() as u32, frame);
        self.writer
            .write_packet(&packet)
            .map_err(|source| PcapOutError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.packets += 1;
        Ok(())
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flush to disk and close.
    pub fn finish(self) -> Result<u64, PcapOutError> {
        let packets = self.packets;
        let path = self.path;
        self.writer
            .into_writer()
            .flush()
            .map_err(|source| PcapOutError::Flush { path, source })?;
        Ok(packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::capture_file::CaptureReader;

    #[test]
    fn written_frames_read_back() {
        let dir = std::env::temp_dir().join(format!("synlab-pcapout-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("t.pcap");
        let mut out = PcapOut::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let frame = vec![0u8; 60];
        out.write(Duration::new(1_700_000_000, 123_456_789), &frame)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.finish().unwrap_or_else(|e| panic!("{e}")), 1);
        let mut r = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let f = r
            .next_frame()
            .unwrap_or_else(|| panic!("no frame"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.data.len(), 60);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
