//! Several captures as one stream (issue 25, item 1): a capture split into
//! pieces, named in any order, gives the same attempts as the whole,
//! attempt by attempt; two interfaces' captures interleaved in time merge
//! back by timestamp; each attempt's `parts` names the file and packet of
//! its SYN, answer and last packet.
//!
//! The pieces are written here (classic pcap records copied as they are),
//! so the result does not depend on editcap; one more test splits with
//! `editcap -c` when it is installed (under CI, scripts/test.sh installs it
//! with tshark, and its absence is a failure).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use support::{all_captures, capture, path_str, synlab_ok, synlab_stdin, TempDir};

/// A classic pcap file: its 24-byte header and its records, each the
/// 16-byte record header and the data, as they are in the file.
struct Pcap {
    header: Vec<u8>,
    records: Vec<Vec<u8>>,
}

fn read_pcap(path: &Path) -> Option<Pcap> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let little = match bytes.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None, // pcapng: not split here
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap_or([0; 4]);
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let end = at + 16 + u32_at(at + 8) as usize;
        records.push(bytes[at..end].to_vec());
        at = end;
    }
    Some(Pcap {
        header: bytes[..24].to_vec(),
        records,
    })
}

fn write_pcap(path: &Path, header: &[u8], records: &[&Vec<u8>]) {
    let mut bytes = header.to_vec();
    for r in records {
        bytes.extend_from_slice(r);
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// `handshakes --json` on `args`: the document.
fn handshakes(args: &[&str]) -> Json {
    let mut all = vec!["handshakes", "--json"];
    all.extend_from_slice(args);
    let out = synlab_ok(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"))
}

/// The merged run's attempts with their packet numbers mapped back to the
/// whole capture's (`first[file]` is the whole-capture number of a file's
/// packet 0) and `parts` checked and removed: what the whole run writes.
fn as_whole(mut merged: Json, first: &dyn Fn(&str) -> u64) -> Vec<Json> {
    let attempts = merged["handshakes"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no handshakes"));
    for a in attempts.iter_mut() {
        let parts = a
            .as_object_mut()
            .and_then(|o| o.remove("parts"))
            .unwrap_or_else(|| panic!("a merged attempt has no parts: {a}"));
        let global = |part: &Json| {
            let file = part["file"].as_str().unwrap_or_else(|| panic!("{part}"));
            first(file) + part["packet"].as_u64().unwrap_or_else(|| panic!("{part}"))
        };
        assert_eq!(a["syn_packet"], parts["syn"]["packet"], "{a}");
        a["syn_packet"] = global(&parts["syn"]).into();
        if !parts["reply"].is_null() {
            assert_eq!(a["reply_packet"], parts["reply"]["packet"], "{a}");
            a["reply_packet"] = global(&parts["reply"]).into();
        }
        assert!(global(&parts["last"]) >= a["syn_packet"].as_u64().unwrap_or(0));
    }
    attempts.clone()
}

fn assert_same_attempts(got: &[Json], want: &Json, what: &str) {
    let want = want["handshakes"].as_array().cloned().unwrap_or_default();
    assert_eq!(got.len(), want.len(), "{what}: attempt count");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{what}: attempt {}", w["index"]);
    }
}

/// Split `pcap` into pieces of `n` packets in `dir`, named so that their
/// names sort in the reverse of their time order (the merge must order
/// them by their first packet's time); the pieces' paths, in time order.
fn split(pcap: &Pcap, n: usize, dir: &TempDir) -> Vec<PathBuf> {
    let chunks: Vec<&[Vec<u8>]> = pcap.records.chunks(n).collect();
    let count = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(k, chunk)| {
            let path = dir.join(&format!("piece-{:05}.pcap", count - k));
            write_pcap(&path, &pcap.header, &chunk.iter().collect::<Vec<_>>());
            path
        })
        .collect()
}

#[test]
fn every_bundled_pcap_split_into_pieces_equals_the_whole() {
    let mut checked = 0;
    for whole_path in all_captures() {
        let Some(pcap) = read_pcap(&whole_path) else {
            continue;
        };
        let whole = handshakes(&[path_str(&whole_path)]);
        for n in [1, 3, 50] {
            if pcap.records.len() <= n {
                continue;
            }
            let dir = TempDir::new(&format!("merge-split-{n}"));
            let pieces = split(&pcap, n, &dir);
            let first = |file: &str| {
                let k = pieces
                    .iter()
                    .position(|p| path_str(p) == file)
                    .unwrap_or_else(|| panic!("{file} is no piece"));
                (k * n) as u64
            };
            let what = format!("{} in pieces of {n}", whole_path.display());
            // The directory: its files in name order, the reverse of time.
            let merged = handshakes(&[path_str(dir.path())]);
            assert_eq!(merged["packets"], whole["packets"], "{what}: packets");
            assert_same_attempts(&as_whole(merged, &first), &whole, &what);
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} splits checked");
}

/// Two interfaces' captures of one exchange: every other packet on each,
/// so the files overlap in time throughout; merged by timestamp they are
/// the whole again, whichever is named first.
#[test]
fn interleaved_captures_merge_by_timestamp() {
    let whole_path = capture("many-attempts.pcap");
    let pcap = read_pcap(&whole_path).unwrap_or_else(|| panic!("a classic pcap"));
    let dir = TempDir::new("merge-interleaved");
    let (eth0, eth1) = (dir.join("eth0.pcap"), dir.join("eth1.pcap"));
    let pick =
        |parity: usize| -> Vec<&Vec<u8>> { pcap.records.iter().skip(parity).step_by(2).collect() };
    write_pcap(&eth0, &pcap.header, &pick(0));
    write_pcap(&eth1, &pcap.header, &pick(1));
    let whole = handshakes(&[path_str(&whole_path)]);
    for args in [[&eth0, &eth1], [&eth1, &eth0]] {
        let merged = handshakes(&[path_str(args[0]), path_str(args[1])]);
        let mut attempts = merged["handshakes"].as_array().cloned().unwrap_or_default();
        for a in &mut attempts {
            let parts = a.as_object_mut().and_then(|o| o.remove("parts"));
            let parts = parts.unwrap_or_else(|| panic!("no parts in {a}"));
            // Packet k of eth0 is whole-capture packet 2k-1, of eth1 2k.
            let global = |part: &Json| {
                let k = part["packet"].as_u64().unwrap_or(0);
                match part["file"].as_str() {
                    Some(f) if f == path_str(&eth0) => 2 * k - 1,
                    _ => 2 * k,
                }
            };
            a["syn_packet"] = global(&parts["syn"]).into();
            if !parts["reply"].is_null() {
                a["reply_packet"] = global(&parts["reply"]).into();
            }
        }
        assert_same_attempts(&attempts, &whole, "eth0 + eth1");
    }
}

/// `-` holding a list of paths, one a line (`find … | synlab handshakes -`),
/// reads them as the directory does.
#[test]
fn standard_input_may_list_the_captures() {
    let pcap = read_pcap(&capture("incident.pcap")).unwrap_or_else(|| panic!("a classic pcap"));
    let dir = TempDir::new("merge-stdin-list");
    let pieces = split(&pcap, 200, &dir);
    let list: String = pieces
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let out = synlab_stdin(&["handshakes", "--json", "-"], list.as_bytes());
    support::assert_exit_for(&out, 0, "handshakes - (a list)");
    let from_list = support::json(&out);
    let from_dir = handshakes(&[path_str(dir.path())]);
    assert_eq!(from_list["handshakes"], from_dir["handshakes"]);
    assert!(from_list["handshakes"][0]["parts"].is_object());
}

/// A README or a log beside the rotated captures of a directory is
/// skipped with a warning naming it (the run reads the captures as if it
/// were not there); a directory of no captures at all is an error; a
/// non-capture named on its own is still an error, not a skip.
#[test]
fn a_directory_skips_what_is_no_capture_and_says_so() {
    let pcap = read_pcap(&capture("incident.pcap")).unwrap_or_else(|| panic!("a classic pcap"));
    let dir = TempDir::new("merge-not-capture");
    let pieces = split(&pcap, 200, &dir);
    let readme = dir.path().join("README.txt");
    std::fs::write(&readme, "rotated by tcpdump -C 1\n").unwrap_or_else(|e| panic!("{e}"));
    let out = support::synlab(&["handshakes", "--json", path_str(dir.path())]);
    support::assert_exit_for(&out, 0, "handshakes DIR (with a README)");
    let err = support::stderr(&out);
    let said = format!("{}: skipped: not a pcap or pcapng file", readme.display());
    assert!(err.contains(&said), "{err}");
    let doc = support::json(&out);
    assert!(
        doc["warnings"][0]
            .as_str()
            .is_some_and(|w| w.starts_with(&said)),
        "{doc}"
    );
    let list: String = pieces
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let from_list = support::json(&synlab_stdin(
        &["handshakes", "--json", "-"],
        list.as_bytes(),
    ));
    assert_eq!(doc["handshakes"], from_list["handshakes"]);

    let only_text = TempDir::new("merge-only-text");
    let notes = only_text.path().join("notes.txt");
    std::fs::write(&notes, "no capture here\n").unwrap_or_else(|e| panic!("{e}"));
    let out = support::synlab_exit(&["handshakes", path_str(only_text.path())], 2);
    assert!(support::stderr(&out).contains("holds no pcap or pcapng files"));
    let out = support::synlab_exit(&["handshakes", path_str(&notes)], 2);
    assert!(support::stderr(&out).contains("not a pcap or pcapng file"));
}

/// One capture reads as before: no `parts`, whatever else changed.
#[test]
fn one_capture_has_no_parts() {
    let doc = handshakes(&[path_str(&capture("incident.pcap"))]);
    for a in doc["handshakes"].as_array().cloned().unwrap_or_default() {
        assert!(a.get("parts").is_none(), "{a}");
    }
}

#[test]
fn editcap_pieces_equal_the_whole() {
    let found = Command::new("editcap").arg("-h").output().is_ok();
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!(
                "editcap is missing, and CI must run this test (scripts/test.sh installs tshark)"
            );
        }
        eprintln!("skipping: editcap is not installed (apt-get install tshark)");
        return;
    }
    for (name, n) in [("incident.pcap", 100), ("many-attempts.pcap", 7)] {
        let whole_path = capture(name);
        let dir = TempDir::new(&format!("merge-editcap-{n}"));
        let out = Command::new("editcap")
            .args(["-c", &n.to_string(), path_str(&whole_path)])
            .arg(dir.join("piece.pcap"))
            .output()
            .unwrap_or_else(|e| panic!("editcap: {e}"));
        support::assert_exit_for(&out, 0, "editcap -c");
        // editcap numbers its pieces in time order: piece_00000_…, …
        let mut pieces: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        pieces.sort();
        let first = |file: &str| {
            let k = pieces.iter().position(|p| path_str(p) == file);
            (k.unwrap_or_else(|| panic!("{file} is no piece")) * n) as u64
        };
        let whole = handshakes(&[path_str(&whole_path)]);
        let merged = handshakes(&[path_str(dir.path())]);
        let what = format!("{name}, editcap -c {n}");
        assert_same_attempts(&as_whole(merged, &first), &whole, &what);
    }
}

/// Captures that all overlap in time are open at once: past the cap the
/// run stops with an error that names it, keeping what was read.
#[test]
fn too_many_overlapping_captures_is_a_clear_error() {
    let dir = TempDir::new("merge-cap");
    let bytes = std::fs::read(capture("reset.pcap")).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..257 {
        std::fs::write(dir.join(&format!("copy-{i:03}.pcap")), &bytes)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = support::synlab_exit(&["handshakes", path_str(dir.path())], 2);
    let err = support::stderr(&out);
    assert!(
        err.contains("257 captures overlap in time") && err.contains("at most 256 at once"),
        "{err}"
    );
    // 256 of them are within the cap.
    std::fs::remove_file(dir.join("copy-256.pcap")).unwrap_or_else(|e| panic!("{e}"));
    support::synlab_exit(&["handshakes", path_str(dir.path())], 0);
}

/// `stalls` reads the pieces as `handshakes` does: the same stalled flows
/// and Range retries as in the whole capture.
#[test]
fn stalls_over_pieces_equal_the_whole() {
    let whole_path = capture("incident.pcap");
    let pcap = read_pcap(&whole_path).unwrap_or_else(|| panic!("a classic pcap"));
    let dir = TempDir::new("merge-stalls");
    split(&pcap, 100, &dir);
    let stalls = |arg: &str| {
        let out = support::synlab_exit(&["stalls", "--json", arg], 0);
        let mut doc = support::json(&out);
        doc.as_object_mut().and_then(|o| o.remove("file"));
        doc
    };
    let whole = stalls(path_str(&whole_path));
    assert_eq!(stalls(path_str(dir.path())), whole);
    assert_eq!(whole["stalled"], 2, "{whole}");
}

/// A piece cut short stops that piece only: the others are read to their
/// end, and the error names the piece and its packet (exit status 2).
#[test]
fn a_truncated_piece_is_reported_and_the_rest_read() {
    let pcap = read_pcap(&capture("incident.pcap")).unwrap_or_else(|| panic!("a classic pcap"));
    let dir = TempDir::new("merge-truncated");
    let pieces = split(&pcap, 100, &dir);
    let cut = &pieces[2];
    let bytes = std::fs::read(cut).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(cut, &bytes[..bytes.len() - 10]).unwrap_or_else(|e| panic!("{e}"));
    let out = support::synlab_exit(&["handshakes", "--json", path_str(dir.path())], 2);
    let err = support::stderr(&out);
    assert!(
        err.contains(path_str(cut)) && err.contains("packet 100: record truncated"),
        "{err}"
    );
    let doc = support::json(&out);
    // Every packet but the cut one was read.
    assert_eq!(doc["packets"], pcap.records.len() as u64 - 1, "{doc}");
}

/// `profiles learn -` with a list: the profile's source names the file the
/// SYN was read from, not `-`.
#[test]
fn profiles_learnt_from_a_list_name_the_syns_file() {
    let list = "captures/linux-default.pcap\ncaptures/reset.pcap\n";
    let out = synlab_stdin(&["profiles", "learn", "-", "--json"], list.as_bytes());
    support::assert_exit_for(&out, 0, "profiles learn - (a list)");
    let doc = support::json(&out);
    assert_eq!(
        doc["source"], "captured SYN, packet 1 of captures/linux-default.pcap",
        "{doc}"
    );
}
