//! Writing annotated pcapng files (pcap-file's `PcapNgWriter`): every packet
//! with a comment (`opt_comment` of its Enhanced Packet Block) that says what
//! it is, so that Wireshark and `tshark -e frame.comment` show the meaning
//! of each probe next to its bytes. `bisect --pcap` and `probe --pcap`.
//!
//! One Interface Description Block per link type, written when the first
//! packet of that link type comes; timestamps in nanoseconds (`if_tsresol`
//! 9), the unit pcap-file writes them in.

use std::borrow::Cow;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};

use super::pcap_writer::PcapOutError;
use crate::io::output::OutputFile;

/// Snapshot length written in each interface block.
const SNAPLEN: u32 = 262_144;

/// `if_tsresol` for nanoseconds: pcap-file writes EPB timestamps as nanoseconds.
const TSRESOL_NANOS: u8 = 9;

/// A pcapng file being written. Blocks are buffered; [`PcapngOut::finish`]
/// flushes them and reports a failure to.
pub struct PcapngOut {
    path: PathBuf,
    writer: PcapNgWriter<BufWriter<OutputFile>>,
    /// The link type of each interface block written, by interface id.
    interfaces: Vec<u32>,
    packets: u64,
}

impl PcapngOut {
    /// Start `path` (through [`crate::io::output`]: written under a
    /// temporary name, moved into place by `finish`) and write the section header, with
    /// `comment` as the section's comment (what made the file).
    pub fn create(path: &Path, comment: &str) -> Result<PcapngOut, PcapOutError> {
        let file = OutputFile::create_held(path, "the pcapng")?;
        let section = SectionHeaderBlock {
            endianness: Endianness::native(),
            options: vec![
                SectionHeaderOption::UserApplication(Cow::Owned(format!(
                    "synlab {}",
                    env!("CARGO_PKG_VERSION")
                ))),
                SectionHeaderOption::Comment(Cow::Owned(comment.to_owned())),
            ],
            ..SectionHeaderBlock::default()
        };
        let writer =
            PcapNgWriter::with_section_header(BufWriter::new(file), section).map_err(|source| {
                PcapOutError::Write {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Ok(PcapngOut {
            path: path.to_owned(),
            writer,
            interfaces: Vec::new(),
            packets: 0,
        })
    }

    /// Append one packet of `linktype` (a LINKTYPE_ number: 1 Ethernet,
    /// 101 raw IP) seen at `ts` (since the Unix epoch), with its comment.
    pub fn write(
        &mut self,
        linktype: u32,
        ts: Duration,
        data: &[u8],
        comment: &str,
    ) -> Result<(), PcapOutError> {
        let interface_id = self.interface(linktype)?;
        let caplen = data.len().min(SNAPLEN as usize);
        let mut options = Vec::new();
        if !comment.is_empty() {
            options.push(EnhancedPacketOption::Comment(Cow::Borrowed(comment)));
        }
        let block = EnhancedPacketBlock {
            interface_id,
            timestamp: ts,
            original_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            data: Cow::Borrowed(&data[..caplen]),
            options,
        };
        self.writer
            .write_pcapng_block(block)
            .map_err(|source| PcapOutError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.packets += 1;
        Ok(())
    }

    /// The interface id for `linktype`, its description block written on first use.
    fn interface(&mut self, linktype: u32) -> Result<u32, PcapOutError> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == linktype) {
            return Ok(i as u32);
        }
        let block = InterfaceDescriptionBlock {
            linktype: DataLink::from(linktype),
            snaplen: SNAPLEN,
            options: vec![InterfaceDescriptionOption::IfTsResol(TSRESOL_NANOS)],
        };
        self.writer
            .write_pcapng_block(block)
            .map_err(|source| PcapOutError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.interfaces.push(linktype);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush everything written to the file; returns how many packets it holds.
    pub fn finish(self) -> Result<u64, PcapOutError> {
        let (path, packets) = (self.path, self.packets);
        let file = self
            .writer
            .into_inner()
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
    fn packets_of_two_link_types_read_back_in_order() {
        let dir = std::env::temp_dir().join(format!("synlab-pcapngout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("out.pcapng");
        let mut out = PcapngOut::create(&path, "a test").unwrap_or_else(|e| panic!("{e}"));
        let ts = Duration::new(1_700_000_000, 123_456_789);
        out.write(101, ts, &[0x45; 20], "variant 1: good")
            .unwrap_or_else(|e| panic!("{e}"));
        out.write(1, ts, &[7; 60], "")
            .unwrap_or_else(|e| panic!("{e}"));
        out.write(101, ts, &[0x45; 21], "odd length: padded")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.finish().unwrap_or_else(|e| panic!("{e}")), 3);
        let mut r = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        while let Some(f) = r.next_frame() {
            let f = f.unwrap_or_else(|e| panic!("{e}"));
            got.push((f.linktype, f.data.len(), f.timestamp));
        }
        assert_eq!(got, vec![(101, 20, ts), (1, 60, ts), (101, 21, ts)]);
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
}
