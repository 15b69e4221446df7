//! Property tests: what is written is read back the same, and no input
//! makes the decoder or the capture reader panic.

mod support;

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use synlab::io::capture_file::CaptureReader;
use synlab::model::craft::{build_packet, crafted_attributes, Volatile};
use synlab::model::Field;
use synlab::model::{decode_frame, Attributes, LinkType, Value};

/// Option layouts made of whole tokens that always total a multiple of 4.
fn layout() -> impl Strategy<Value = Vec<&'static str>> {
    let groups = prop::sample::select(vec![
        vec!["mss"],
        vec!["nop", "ws"],
        vec!["sok", "nop", "nop"],
        vec!["nop", "nop", "sok"],
        vec!["sok", "ts"],
        vec!["nop", "nop", "ts"],
        vec!["nop", "nop", "nop", "nop"],
    ]);
    prop::collection::vec(groups, 0..4).prop_map(|gs| {
        let mut seen = std::collections::HashSet::new();
        gs.into_iter()
            .filter(|g| g.iter().all(|t| *t == "nop" || seen.insert(*t)))
            .flatten()
            .collect()
    })
}

prop_compose! {
    fn profile()(
        v6 in any::<bool>(),
        ttl in 1u8..=255,
        df in any::<bool>(),
        ecn in 0u8..4,
        dscp in 0u8..64,
        window in any::<u16>(),
        mss in 1u16..=65535,
        ws in 0u8..=14,
        layout in layout(),
        ece in any::<bool>(),
        cwr in any::<bool>(),
    ) -> (bool, Attributes) {
        let mut a = Attributes::new();
        if v6 {
            a.insert(Field::Ipv6Hlim, ttl);
            a.insert(Field::Ipv6TclassEcn, ecn);
            a.insert(Field::Ipv6TclassDscp, dscp);
        } else {
            a.insert(Field::IpTtl, ttl);
            a.insert(Field::IpFlagsDf, df);
            a.insert(Field::IpDsfieldEcn, ecn);
            a.insert(Field::IpDsfieldDscp, dscp);
        }
        a.insert(Field::TcpWindowSizeValue, window);
        a.insert(Field::TcpFlagsEce, ece);
        a.insert(Field::TcpFlagsCwr, cwr);
        if layout.contains(&"mss") { a.insert(Field::TcpOptionsMssVal, mss); }
        if layout.contains(&"ws") { a.insert(Field::TcpOptionsWscaleShift, ws); }
        if layout.contains(&"sok") { a.insert(Field::TcpOptionsSackPerm, true); }
        a.insert(Field::SynlabOptionsLayout, layout.join(","));
        (v6, a)
    }
}

fn volatile(v6: bool, seq: u32, id: u16, ts: u32) -> Volatile {
    let (src, dst) = if v6 {
        ("[fd00:5ab::2]:40000", "[fd00:5ab::1]:80")
    } else {
        ("198.18.0.2:40000", "198.18.0.130:80")
    };
    Volatile {
        src: src.parse().expect("addr"),
        dst: dst.parse().expect("addr"),
        seq,
        ack: 0,
        ip_id: id,
        flow_label: 0,
        tsval: ts,
        tsecr: 0,
    }
}

proptest! {
    /// Crafting a SYN from attributes and decoding it gives the same attributes.
    #[test]
    fn crafted_syn_reads_back((v6, attrs) in profile(), seq in any::<u32>(), id in any::<u16>(), ts in any::<u32>()) {
        let got = crafted_attributes(&attrs, &volatile(v6, seq, id, ts)).expect("crafts");
        for (name, value) in attrs.iter() {
            let want = if name == "synlab.options.layout" && value == &Value::from("") {
                None
            } else {
                Some(value)
            };
            if let Some(want) = want {
                prop_assert_eq!(got.get(name), Some(want), "{}", name);
            }
        }
        prop_assert_eq!(got.get(Field::TcpSeqRaw), Some(&Value::Int(seq.into())));
    }

    /// Any prefix of a crafted packet decodes without panicking, and a
    /// prefix that holds the TCP header still yields a segment.
    #[test]
    fn truncated_packets_decode((v6, attrs) in profile(), cut in 0usize..120) {
        let bytes = build_packet(&attrs, &volatile(v6, 1, 1, 1)).expect("crafts");
        let cut = cut.min(bytes.len());
        let _ = decode_frame(LinkType::Raw, &bytes[..cut]);
    }

    /// Arbitrary bytes never panic the frame decoder, whatever the link type.
    #[test]
    fn decoder_never_panics(linktype in prop::sample::select(vec![0u32, 1, 101, 108, 113, 228, 229, 276]), data in prop::collection::vec(any::<u8>(), 0..200)) {
        let link = LinkType::try_from(linktype).expect("a link type synlab reads");
        let _ = decode_frame(link, &data);
    }

    /// Arbitrary bytes never panic the capture reader; it ends or errors.
    #[test]
    fn reader_never_panics(magic in prop::sample::select(vec![0xa1b2c3d4u32, 0xd4c3b2a1, 0x0a0d0d0a, 0]), data in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = magic.to_be_bytes().to_vec();
        bytes.extend(data);
        if let Ok(mut r) = CaptureReader::new(Path::new("fuzz"), Cursor::new(bytes)) {
            let mut n = 0;
            while let Some(frame) = r.next_frame() {
                n += 1;
                if frame.is_err() || n > 1000 { break; }
            }
        }
    }
}

/// Every prefix of every bundled capture (cut every 37 bytes) reads without
/// a panic: the packets before the cut, then at most one error naming the
/// packet that was cut.
#[test]
fn every_truncation_of_the_bundled_captures_is_handled() {
    use synlab::handshake::Tracker;
    let files = support::all_captures();
    assert!(files.len() > 10);
    for file in files {
        let bytes = std::fs::read(&file).expect("read capture");
        for cut in (0..bytes.len()).step_by(37) {
            let Ok(mut r) = CaptureReader::new(&file, Cursor::new(bytes[..cut].to_vec())) else {
                continue;
            };
            let mut tracker = Tracker::new();
            let mut errors = 0;
            while let Some(frame) = r.next_frame() {
                match frame {
                    Ok(f) => {
                        if let Ok(link) = LinkType::try_from(f.linktype) {
                            let d = decode_frame(link, f.data);
                            tracker.feed(f.number, f.timestamp, &d);
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        let text = e.to_string();
                        assert!(
                            text.contains("packet"),
                            "{}: cut at {cut}: {text}",
                            file.display()
                        );
                        break;
                    }
                }
            }
            assert!(errors <= 1);
            let _ = tracker.finish();
        }
    }
}
