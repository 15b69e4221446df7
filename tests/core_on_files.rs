//! Tests of the core that read files: the captures the repository keeps, the
//! system's p0f database. They were unit tests of the core; synlab-core has no
//! file system access, so they live here, beside the I/O that reads the files.

mod model {
    use synlab::model::*;

    /// Every frame of the captures the tests keep, real SYNs included:
    /// wherever the fast path answers, it answers as the slicer does.
    #[test]
    fn fast_path_agrees_on_real_frames() {
        use synlab::io::capture_file::CaptureReader;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (mut fast, mut frames) = (0, 0);
        for dir in [
            "captures",
            "tests/data",
            "tests/data/real-syns",
            "tests/hostile",
        ] {
            for entry in std::fs::read_dir(root.join(dir)).expect("capture directory") {
                let path = entry.expect("directory entry").path();
                let Ok(mut reader) = CaptureReader::open(&path) else {
                    continue;
                };
                while let Some(Ok(frame)) = reader.next_frame() {
                    frames += 1;
                    fast += u32::from(fast_agrees_with_lax(frame.linktype, frame.data));
                    peek_agrees_with_decode(frame.linktype, frame.data);
                }
            }
        }
        assert!(
            frames > 1000 && fast > frames / 2,
            "{fast} of {frames} frames fast"
        );
    }

    /// `fast_tcp_endpoints` (the `--threads` shards' peek at a packet's
    /// connection) answers only where `decode_frame` reads a TCP segment,
    /// and with its endpoints.
    fn peek_agrees_with_decode(linktype: u32, data: &[u8]) {
        let Some(link) = LinkType::from_linktype(linktype) else {
            return;
        };
        if let Some((src, dst)) = fast_tcp_endpoints(link, data) {
            match decode_frame(link, data) {
                Decoded::Tcp(seg) => assert_eq!((seg.src, seg.dst), (src, dst)),
                other => panic!("peeked {src} -> {dst}, decoded {other:?}"),
            }
        }
    }
}

mod p0f_profile {
    use synlab::p0f::profile::*;

    #[test]
    fn every_database_request_signature_imports_or_is_refused_cleanly() {
        let Ok(db) = std::fs::read_to_string("/etc/p0f/p0f.fp") else {
            eprintln!("skipped: /etc/p0f/p0f.fp not present");
            return;
        };
        let request = db
            .split("[tcp:request]")
            .nth(1)
            .and_then(|s| s.split("[tcp:response]").next())
            .unwrap_or("");
        let mut imported = 0;
        for line in request.lines() {
            let Some(sig) = line
                .strip_prefix("sig")
                .map(|s| s.trim_start_matches([' ', '=']).trim())
            else {
                continue;
            };
            if let Ok(p) = import(sig, "t") {
                imported += 1;
                let again = import(&signature(&p).unwrap(), "t").unwrap();
                assert!(p.same_behaviour(&again), "{sig}");
            }
        }
        assert!(imported > 50, "{imported}");
    }
}
