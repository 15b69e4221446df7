//! Writing frames to a pcap file (pcap-file's `PcapWriter`): crafted SYNs,
//! `probe --pcap` and `capture`. Nanosecond timestamps, so the kernel's
//! receive times of probe answers keep their precision.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, PcapError, TsResolution};
use thiserror::Error;

use crate::io::output::{OutputError, OutputFile};

/// Snapshot length written in the file header.
const SNAPLEN: u32 = 262_144;

#[derive(Debug, Error)]
pub enum PcapOutError {
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: PcapError,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{path}: cannot write: {source}")]
    Flush {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A pcap file being written. Frames are buffered; [`PcapOut::finish`]
/// flushes them and moves the file into place (dropped unfinished, the
/// file is not written and what was at the path stays).
pub struct PcapOut {
    path: PathBuf,
    writer: PcapWriter<BufWriter<OutputFile>>,
    packets: u64,
}

impl PcapOut {
    /// Start `path` (through [`crate::io::output`]: written under a
    /// temporary name, moved into place by `finish`) and write a pcap header for `linktype`
    /// (a LINKTYPE_ number: 1 Ethernet, 101 raw IP).
    pub fn create(path: &Path, linktype: u32) -> Result<PcapOut, PcapOutError> {
        let file = OutputFile::create_held(path, "the pcap")?;
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::from(linktype),
            ts_resolution: TsResolution::NanoSecond,
            ..PcapHeader::default()
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

    /// Append one frame captured at `ts` (time since the Unix epoch).
    pub fn write(&mut self, ts: Duration, frame: &[u8]) -> Result<(), PcapOutError> {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let caplen = frame.len().min(SNAPLEN as usize);
        let packet = PcapPacket::new(ts, len, &frame[..caplen]);
        self.writer
            .write_packet(&packet)
            .map_err(|source| PcapOutError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.packets += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flush everything written to the file; returns how many frames it holds.
    pub fn finish(self) -> Result<u64, PcapOutError> {
        let (path, packets) = (self.path, self.packets);
        let file = self
            .writer
            .into_writer()
            .into_inner()
            .map_err(|e| PcapOutError::Flush {
                path,
                source: e.into_error(),
            })?;
        file.commit()?;
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
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pcap");
        let mut out = PcapOut::create(&path, 1).unwrap();
        out.write(Duration::from_millis(1500), &[1, 2, 3, 4])
            .unwrap();
        out.write(Duration::from_millis(1501), &[5; 60]).unwrap();
        assert_eq!(out.finish().unwrap(), 2);
        let mut r = CaptureReader::open(&path).unwrap();
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.linktype, 1);
        assert_eq!(f.data, &[1, 2, 3, 4]);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.data.len(), 60);
        assert!(r.next_frame().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
