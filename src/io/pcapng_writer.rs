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
use crate::model::{decode_frame, Decoded, LinkType};

/// Snapshot length written in each interface block.
const SNAPLEN: u32 = 262_144;

/// `if_tsresol` for nanoseconds: pcap-file writes EPB timestamps as nanoseconds.
const TSRESOL_NANOS: u8 = 9;

/// How much of each packet a file keeps (`--snaplen`). An exchange's
/// download is megabytes of payload nobody reads back (a 92-probe bisect
/// wrote 378 MB); its headers and HTTP heads are what `synlab stalls`, p0f
/// and tshark need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Snaplen {
    /// At most this many bytes of each packet (`--snaplen N`; 0: all).
    Fixed(u32),
    /// Each packet's headers and this many bytes of its TCP payload, more
    /// when an HTTP head starts there (kept whole, up to 4 KiB), so the
    /// status and `Content-Length` stay readable: the default.
    HeadersPlus(u32),
}

/// The payload bytes the default keeps: an HTTP status line and more.
pub const DEFAULT_PAYLOAD_KEPT: u32 = 128;

impl Default for Snaplen {
    fn default() -> Self {
        Snaplen::HeadersPlus(DEFAULT_PAYLOAD_KEPT)
    }
}

impl Snaplen {
    /// `--snaplen N` when given, else the default.
    pub fn from_flag(n: Option<u32>) -> Self {
        n.map_or_else(Snaplen::default, Snaplen::Fixed)
    }

    /// How many bytes of `data` (a packet of `linktype`) to keep.
    pub fn keep(self, linktype: u32, data: &[u8]) -> usize {
        match self {
            Snaplen::Fixed(0) => data.len(),
            Snaplen::Fixed(n) => data.len().min(n as usize),
            Snaplen::HeadersPlus(n) => headers_plus(linktype, data, n as usize),
        }
    }
}

/// A TCP segment's headers, and `n` bytes of its payload or its whole
/// HTTP head; anything else whole (ICMP errors and the like are small).
fn headers_plus(linktype: u32, data: &[u8], n: usize) -> usize {
    let Ok(link) = LinkType::try_from(linktype) else {
        return data.len();
    };
    let Decoded::Tcp(seg) = decode_frame(link, data) else {
        return data.len();
    };
    let payload = seg.payload();
    // Where the payload starts within `data` (it is a slice of it).
    let at = (payload.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    let wanted = n.max(crate::http::head_len(payload).unwrap_or(0));
    data.len().min(at + wanted.min(payload.len()))
}

/// A pcapng file being written. Blocks are buffered; [`PcapngOut::finish`]
/// flushes them and reports a failure to.
pub struct PcapngOut {
    snaplen: Snaplen,
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
            snaplen: Snaplen::Fixed(0),
            path: path.to_owned(),
            writer,
            interfaces: Vec::new(),
            packets: 0,
        })
    }

    /// Keep only what `snaplen` says of each packet written from now on.
    pub fn with_snaplen(mut self, snaplen: Snaplen) -> Self {
        self.snaplen = snaplen;
        self
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
        let caplen = self.snaplen.keep(linktype, data).min(SNAPLEN as usize);
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

    /// An Ethernet frame of a TCP segment (54 bytes of headers) carrying `payload`.
    fn segment(payload: &[u8]) -> Vec<u8> {
        use crate::exchange::{emit_segment, IpStyle, TcpHeader};
        let ip = IpStyle {
            ttl: 64,
            df: true,
            dscp: 0,
            ecn: 0,
            ip_id: 1,
            flow_label: 0,
        };
        let tcp = TcpHeader {
            src: "198.18.0.130:80".parse().unwrap_or_else(|e| panic!("{e}")),
            dst: "198.18.0.2:40000".parse().unwrap_or_else(|e| panic!("{e}")),
            seq: 1,
            ack: 1,
            flags: crate::model::TcpFlags::ACK,
            window: 100,
            options: Vec::new(),
        };
        let packet = emit_segment(&ip, &tcp, payload).unwrap_or_default();
        crate::model::craft::ethernet_frame(&packet, [2; 6], [4; 6])
    }

    /// Issue 21: `--pcap` of exchanges stored every payload byte. The
    /// default keeps headers and 128 payload bytes, an HTTP head whole;
    /// `--snaplen N` keeps N bytes; 0 keeps all.
    #[test]
    fn snaplen_keeps_headers_and_http_heads() {
        let body = segment(&[b'x'; 1400]);
        let mut head = b"HTTP/1.1 200 OK\r\nServer: a-long-server-name\r\n".to_vec();
        head.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
        head.extend_from_slice(b"Last-Modified: Mon, 07 Dec 2026 04:00:00 GMT\r\n");
        head.extend_from_slice(b"Content-Length: 4194304\r\n\r\n");
        let head_len = head.len();
        assert!(head_len > 128);
        head.extend_from_slice(&[b'x'; 1000]);
        let with_head = segment(&head);
        let d = Snaplen::default();
        assert_eq!(d.keep(1, &body), 54 + 128);
        assert_eq!(d.keep(1, &with_head), 54 + head_len);
        assert_eq!(d.keep(1, &segment(b"tiny")), 54 + 4);
        assert_eq!(Snaplen::Fixed(96).keep(1, &body), 96);
        assert_eq!(Snaplen::Fixed(0).keep(1, &body), body.len());
        assert_eq!(d.keep(1, &[7; 60]), 60, "not TCP: whole");
    }
}
