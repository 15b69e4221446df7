//! Round trip over every real SYN of tests/data/real-syns (issue 14): a
//! profile learnt from the captured SYN, crafted again, must show no
//! behavioural difference from the original (`synlab diff` exits 0), and p0f
//! must label the crafted SYN exactly as it labels the original.
//!
//! The SYNs synlab cannot reproduce are listed with the reason; each must
//! still fail, so a list cannot hide a fix, and nothing else may fail.
//! The figures (x/209) are printed: `cargo test --test real_syns -- --nocapture`.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use support::real_syns::{self, p0f_syns};
use support::{file_name, path_str, require_tool, stdout, synlab, TempDir};
use synlab::io::load::load;
use synlab::io::pcap_writer::PcapOut;
use synlab::model::craft::ethernet_frame;
use synlab::model::Field;
use synlab::p0f::P0fDb;
use synlab::profile::Profile;

/// Real SYNs whose learnt profile crafts a SYN that differs in behaviour.
const DIFF_NOT_REPRODUCED: &[(&str, &str)] = &[
    (
        "unknown-ke-1.pcap",
        "its SACK option carries a block (10 bytes) in a SYN; a layout's `sack` is crafted without blocks \
         (2 bytes), so ip.len and tcp.hdr_len are 8 bytes shorter and p0f's raw_sig gains `bad` (its \
         label, ???, stays the same)",
    ),
    (NO_CRAFT.0, NO_CRAFT.1),
];

/// Real SYNs p0f labels differently once crafted again.
const P0F_NOT_REPRODUCED: &[(&str, &str)] = &[NO_CRAFT];

/// The one real SYN whose profile cannot be crafted.
const NO_CRAFT: (&str, &str) = (
    "unknown-noopts-14.pcap",
    "a SYN carrying 4708 bytes of payload (a test of reassembly, not a stack's SYN): crafted SYN \
     payloads stop at 1400 bytes, to fit one Ethernet frame, so the learnt profile does not load",
);

/// `synlab profiles learn FILE`, then `synlab diff FILE PROFILE`: `Ok` when
/// diff exits 0, else what went wrong.
fn round_trip(pcap: &Path, tmp: &TempDir) -> Result<(), String> {
    let toml = tmp.join(&format!("{}.toml", file_name(pcap)));
    let learn = synlab(&[
        "profiles",
        "learn",
        path_str(pcap),
        "--name",
        "real",
        "--out",
        path_str(&toml),
    ]);
    if !learn.status.success() {
        return Err(format!("learn: {}", support::stderr(&learn).trim()));
    }
    let diff = synlab(&["diff", path_str(pcap), path_str(&toml)]);
    match diff.status.code() {
        Some(0) => Ok(()),
        code => Err(format!("diff exit {code:?}:\n{}", stdout(&diff))),
    }
}

/// Names of the files that failed, against the known list: a file that
/// fails unexpectedly, or a listed one that now passes, is an error.
fn check_against_known(
    what: &str,
    known: &[(&str, &str)],
    failed: &BTreeMap<String, String>,
    total: usize,
) {
    let reasons = known;
    let known: Vec<&str> = known.iter().map(|(f, _)| *f).collect();
    let unexpected: Vec<String> = failed
        .iter()
        .filter(|(f, _)| !known.contains(&f.as_str()))
        .map(|(f, why)| format!("{f}: {why}"))
        .collect();
    let fixed: Vec<&&str> = known.iter().filter(|f| !failed.contains_key(**f)).collect();
    eprintln!("{what}: {}/{total} reproduced", total - failed.len());
    for (f, why) in reasons {
        eprintln!("  not reproduced: {f}: {why}");
    }
    assert!(
        unexpected.is_empty(),
        "{what}: {} real SYNs not reproduced:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{what}: now reproduced, remove from its NOT_REPRODUCED list: {fixed:?}"
    );
}

/// Guards issue 14's bugs: an IPv6 SYN diffed against its own profile
/// showed 18 differences (the profile side was crafted as IPv4; 21 of these
/// SYNs are IPv6), and a stale ack number came back as `ack+`.
#[test]
fn every_real_syn_learned_and_crafted_again_has_no_behavioural_difference() {
    let tmp = TempDir::new("real-syns-diff");
    let files = real_syns::files();
    let failed: BTreeMap<String, String> = files
        .iter()
        .filter_map(|f| {
            round_trip(f, &tmp)
                .err()
                .map(|why| (file_name(f).to_owned(), why))
        })
        .collect();
    check_against_known(
        "learn -> craft -> diff",
        DIFF_NOT_REPRODUCED,
        &failed,
        files.len(),
    );
}

/// The learnt profile's SYN, crafted between the original's endpoints with
/// its sequence number, written to an Ethernet pcap for p0f.
fn craft_again(pcap: &Path, out: &Path) -> Result<(), String> {
    let loaded = load(pcap).map_err(|e| e.to_string())?;
    let attempt = loaded.attempts.first().ok_or("no connection attempt")?;
    let (profile, _) =
        Profile::learn(&attempt.syn, "real", file_name(pcap)).map_err(|e| e.to_string())?;
    let seq = attempt
        .syn
        .num(Field::TcpSeqRaw)
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(1);
    let (client, server): (SocketAddr, SocketAddr) = (attempt.client, attempt.server);
    let ip = profile
        .craft(client, server, seq, 1000)
        .map_err(|e| e.to_string())?;
    let mut w = PcapOut::create(out, 1).map_err(|e| e.to_string())?;
    w.write(
        Duration::from_secs(1),
        &ethernet_frame(&ip, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]),
    )
    .map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// p0f's label (and raw signature) of the first SYN of `pcap`.
fn first_label(pcap: &Path, tmp: &TempDir) -> Option<(String, String)> {
    p0f_syns(pcap, tmp)
        .into_iter()
        .next()
        .map(|s| (s.os, s.raw_sig))
}

#[test]
fn p0f_labels_every_crafted_real_syn_as_it_labels_the_original() {
    if !require_tool("p0f") {
        return;
    }
    let tmp = TempDir::new("real-syns-p0f");
    let files = real_syns::files();
    let mut failed = BTreeMap::new();
    let mut same_raw_sig = 0;
    for pcap in &files {
        let name = file_name(pcap);
        let crafted = tmp.join(&format!("crafted-{name}"));
        if let Err(why) = craft_again(pcap, &crafted) {
            failed.insert(name.to_owned(), format!("cannot craft: {why}"));
            continue;
        }
        let (want, got) = (first_label(pcap, &tmp), first_label(&crafted, &tmp));
        let label = |l: &Option<(String, String)>| l.as_ref().map(|(os, _)| os.clone());
        if label(&want) != label(&got) {
            failed.insert(
                name.to_owned(),
                format!("p0f: original {want:?}, crafted {got:?}"),
            );
        } else if want.as_ref().map(|(_, s)| s) == got.as_ref().map(|(_, s)| s) {
            same_raw_sig += 1;
        } else {
            eprintln!("{name}: same label, raw_sig original {want:?}, crafted {got:?}");
        }
    }
    eprintln!(
        "p0f raw_sig identical on {same_raw_sig}/{} crafted SYNs",
        files.len()
    );
    check_against_known(
        "learn -> craft -> p0f label",
        P0F_NOT_REPRODUCED,
        &failed,
        files.len(),
    );
}

/// The real SYN a built-in profile's `source` says it was learned from.
fn learned_from(source: &str) -> Option<&str> {
    let rest = source.strip_prefix("learned from tests/data/real-syns/")?;
    rest.split_once(':').map(|(file, _)| file)
}

/// Every built-in profile whose source says "learned from" a real SYN is
/// what learning that SYN gives (SYN attributes and per-connection habits;
/// `[later]` is the profile's own word on later segments).
#[test]
fn builtins_learned_from_real_syns_are_what_those_syns_teach() {
    let mut checked = Vec::new();
    for builtin in support::fixtures::builtin_profiles() {
        let Some(file) = learned_from(&builtin.source) else {
            continue;
        };
        let pcap = real_syns::dir().join(file);
        let loaded = load(&pcap).unwrap_or_else(|e| panic!("{}: {e}", builtin.name));
        let attempt = loaded
            .attempts
            .first()
            .unwrap_or_else(|| panic!("{file}: no attempt"));
        let (learned, _) = Profile::learn(&attempt.syn, &builtin.name, file)
            .unwrap_or_else(|e| panic!("{}: {e}", builtin.name));
        let differ: Vec<String> = learned
            .attributes
            .iter()
            .filter(|(k, v)| builtin.attributes.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: learned {v}, built-in {:?}", builtin.attributes.get(k)))
            .collect();
        assert!(
            differ.is_empty() && learned.attributes.len() == builtin.attributes.len(),
            "built-in {} is not what {file} teaches:\n{}",
            builtin.name,
            differ.join("\n")
        );
        assert_eq!(
            learned.per_connection, builtin.per_connection,
            "built-in {}: per_connection",
            builtin.name
        );
        checked.push(format!("{} <- {file}", builtin.name));
    }
    eprintln!(
        "built-ins learned from real SYNs:\n  {}",
        checked.join("\n  ")
    );
    assert!(checked.len() >= 8, "{checked:?}");
}

/// `signatures.tsv`: file name -> what Debian's p0f 3.09b labelled its SYN
/// (files whose label is the SYN-ACK's are left out).
fn p0f_labels_from_tsv() -> BTreeMap<String, String> {
    let path = real_syns::dir().join("signatures.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("signatures.tsv has no column {name}"))
    };
    let (file, label, direction) = (col("file"), col("p0f_label"), col("direction"));
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() > file.max(label).max(direction) && f[direction] == "syn")
        .map(|f| (f[file].to_owned(), f[label].to_owned()))
        .collect()
}

/// synlab's reading of p0f.fp names every real SYN as p0f did (`???`
/// where p0f had no label): what `profiles learn` names its groups by.
#[test]
fn synlab_names_every_real_syn_as_p0f_does() {
    if !require_tool("p0f") {
        return;
    }
    let fp = Path::new("/etc/p0f/p0f.fp");
    let text = std::fs::read_to_string(fp).unwrap_or_else(|e| panic!("{}: {e}", fp.display()));
    let db = P0fDb::parse(&text);
    let want = p0f_labels_from_tsv();
    let (mut differ, mut checked) = (Vec::new(), 0);
    for pcap in real_syns::files() {
        let name = file_name(&pcap);
        let loaded = load(&pcap).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(attempt) = loaded.attempts.first() else {
            differ.push(format!("{name}: no attempt"));
            continue;
        };
        let got = db
            .classify(&attempt.syn)
            .map_or_else(|| "???".to_owned(), |m| m.label.to_string());
        let Some(expected) = want.get(name) else {
            continue; // a SYN-ACK's label (p0f's [tcp:response])
        };
        checked += 1;
        if got != *expected {
            differ.push(format!("{name}: p0f {expected:?}, synlab {got:?}"));
        }
    }
    eprintln!(
        "p0f labels: {}/{checked} SYNs named as p0f names them",
        checked - differ.len()
    );
    assert!(
        differ.is_empty(),
        "{} labels differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// `profiles learn DIR`: every real SYN is learnt once into a group (but the
/// one that cannot be crafted), the groups' profiles are written and load
/// again, the largest group is named after p0f's label.
#[test]
fn profiles_learn_over_the_directory_groups_every_syn() {
    let tmp = TempDir::new("real-syns-learn");
    let dir = real_syns::dir();
    let out_dir = tmp.join("proposed");
    let out = synlab(&[
        "profiles",
        "learn",
        path_str(&dir),
        "--json",
        "--out",
        path_str(&out_dir),
    ]);
    support::assert_exit(&out, 0);
    let doc = support::json(&out);
    let groups = doc["groups"].as_array().cloned().unwrap_or_default();
    let grouped: u64 = groups.iter().filter_map(|g| g["syns"].as_u64()).sum();
    let not_learnt = doc["not_learnt"].as_array().map_or(0, Vec::len);
    let files = real_syns::files().len() as u64;
    assert_eq!(doc["syns"].as_u64(), Some(files));
    assert_eq!(grouped + not_learnt as u64, files, "{doc}");
    assert_eq!(not_learnt, 1, "{}", doc["not_learnt"]);
    eprintln!("{files} real SYNs -> {} groups", groups.len());
    if Path::new("/etc/p0f/p0f.fp").exists() {
        assert_eq!(groups[0]["name"], "linux-3.11-and-newer", "{}", groups[0]);
    }
    for g in &groups {
        let name = g["name"].as_str().unwrap_or_default();
        let toml = out_dir.join(format!("{name}.toml"));
        let show = synlab(&["profiles", "show", path_str(&toml)]);
        support::assert_exit_for(&show, 0, name);
    }
    let table = synlab(&[
        "profiles",
        "learn",
        path_str(&dir.join("windows-7or8-1.pcap")),
        path_str(&dir.join("windows-7or8-7.pcap")),
    ]);
    support::assert_exit(&table, 0);
    let text = stdout(&table);
    assert!(text.starts_with("name "), "{text}");
    if Path::new("/etc/p0f/p0f.fp").exists() {
        assert!(text.contains("\nwindows-7-or-8 "), "{text}");
    }
    assert!(text.contains("2 SYNs in 2 captures: 1 profiles"), "{text}");
}

/// The p0f headers `handshakes` reads straight from each segment (its hot
/// path, issue 13) are the ones the segment's attribute set states, on
/// every TCP packet of the real SYN captures and of the bundled captures.
#[test]
fn p0f_headers_read_from_segments_agree_with_their_attributes() {
    use synlab::io::capture_file::CaptureReader;
    use synlab::model::{decode_frame, Decoded, LinkType, TcpFlags};
    use synlab::p0f::Headers;
    let bundled = std::fs::read_dir("captures")
        .unwrap_or_else(|e| panic!("captures: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"));
    // The attributes state the three reserved bits as one flag.
    let no_reserved = |h: Headers| Headers {
        flags: TcpFlags(h.flags.0 & !TcpFlags::RESERVED),
        ..h
    };
    let mut checked = 0;
    for path in real_syns::files().into_iter().chain(bundled) {
        let mut reader =
            CaptureReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        while let Some(Ok(frame)) = reader.next_frame() {
            let link = LinkType::try_from(frame.linktype);
            let Ok(Decoded::Tcp(seg)) = link.map(|link| decode_frame(link, frame.data)) else {
                continue;
            };
            let direct = seg.p0f_headers(&seg.options());
            let stated = Headers::of(&seg.attributes());
            assert_eq!(
                no_reserved(direct),
                no_reserved(stated),
                "{}: packet {}",
                path.display(),
                frame.number
            );
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} segments checked");
}
