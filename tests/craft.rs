//! `synlab craft` and `synlab profiles`, run as the built binary.

mod support;

use serde_json::Value as Json;
use support::{synlab, synlab_ok, TempDir};
use synlab::model::Attributes;
use synlab::model::Field;
use synlab::profile::builtin::BUILTIN;
use synlab::profile::learn_attributes;

fn profile_attributes(spec: &str) -> Attributes {
    let doc: Json =
        serde_json::from_str(&synlab_ok(&["profiles", "show", spec, "--json"])).unwrap();
    serde_json::from_value(doc["attributes"].clone()).unwrap()
}

#[test]
fn crafted_syns_read_back_with_exactly_the_profile_attributes() {
    let dir = TempDir::new("craft");
    for (name, _) in BUILTIN {
        let pcap = dir.file(&format!("{name}.pcap"));
        synlab_ok(&[
            "craft",
            "--profile",
            name,
            "--src",
            "198.18.0.1:50000",
            "--dst",
            "198.18.0.2:443",
            "--out",
            &pcap,
            "--count",
            "3",
        ]);
        let want = profile_attributes(name);
        let doc: Json = serde_json::from_str(&synlab_ok(&["handshakes", &pcap, "--json"])).unwrap();
        let hs = doc["handshakes"].as_array().unwrap();
        assert_eq!(hs.len(), 3, "{name}");
        let mut last_seq = None;
        for (i, h) in hs.iter().enumerate() {
            assert_eq!(h["client"], format!("198.18.0.1:{}", 50000 + i), "{name}");
            let syn: Attributes = serde_json::from_value(h["syn"].clone()).unwrap();
            // every profile attribute, as the SYN carries it
            for (k, v) in want.iter() {
                assert_eq!(syn.get(k), Some(v), "{name}: {k}");
            }
            // and nothing behavioural beyond them
            let (learnt, _, notes) = learn_attributes(&syn);
            assert!(notes.is_empty(), "{name}: {notes:?}");
            if learnt != want {
                panic!("{name}:\n crafted {learnt:#?}\n profile {want:#?}");
            }
            let seq = syn.get(Field::TcpSeqRaw).and_then(|v| v.as_u64()).unwrap();
            assert!(
                last_seq.is_none_or(|l| seq > l),
                "{name}: sequence numbers increase"
            );
            last_seq = Some(seq);
        }
    }
}

#[test]
fn learn_from_a_crafted_capture_gives_the_profile_back() {
    let dir = TempDir::new("learn");
    let pcap = dir.file("w.pcap");
    synlab_ok(&[
        "craft",
        "--profile",
        "windows-11",
        "--src",
        "198.18.0.1",
        "--dst",
        "198.18.0.2:80",
        "--out",
        &pcap,
    ]);
    let toml = dir.file("learnt.toml");
    synlab_ok(&[
        "profiles",
        "learn",
        &format!("{pcap}#0"),
        "--name",
        "learnt",
        "--out",
        &toml,
    ]);
    assert_eq!(profile_attributes(&toml), profile_attributes("windows-11"));
}

#[test]
fn import_p0f_output_loads_and_shows_the_same_signature() {
    let dir = TempDir::new("import");
    let sig = "*:64:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0";
    let toml = dir.file("fbsd.toml");
    synlab_ok(&[
        "profiles",
        "import-p0f",
        sig,
        "--name",
        "fbsd",
        "--out",
        &toml,
    ]);
    assert_eq!(synlab_ok(&["profiles", "show", &toml, "--p0f"]).trim(), sig);
    // a --profiles directory makes it a name, and overrides a built-in of the same name
    std::fs::copy(&toml, dir.path().join("linux.toml")).unwrap();
    let text = std::fs::read_to_string(dir.path().join("linux.toml")).unwrap();
    std::fs::write(
        dir.path().join("linux.toml"),
        text.replace("name = \"fbsd\"", "name = \"linux\""),
    )
    .unwrap();
    let dirarg = dir.path().display().to_string();
    assert_eq!(
        synlab_ok(&["--profiles", &dirarg, "profiles", "show", "fbsd", "--p0f"]).trim(),
        sig
    );
    assert_eq!(
        synlab_ok(&["profiles", "show", "linux", "--p0f", "--profiles", &dirarg]).trim(),
        sig
    );
    let list = synlab_ok(&["--profiles", &dirarg, "profiles"]);
    assert!(list.lines().any(|l| l.starts_with("fbsd ")), "{list}");
}

#[test]
fn list_shows_every_builtin_with_its_signature() {
    let doc: Json = serde_json::from_str(&synlab_ok(&["profiles", "--json"])).unwrap();
    let rows = doc.as_array().unwrap();
    for (name, _) in BUILTIN {
        let row = rows
            .iter()
            .find(|r| r["name"] == *name)
            .unwrap_or_else(|| panic!("{name}"));
        assert!(row["p0f"].as_str().unwrap().starts_with("*:"), "{row}");
    }
}

#[test]
fn a_bad_profile_file_is_reported_with_its_name_and_attribute() {
    let dir = TempDir::new("bad");
    let toml = dir.file("bad.toml");
    std::fs::write(
        &toml,
        "name = \"bad\"\n[syn]\n\"tcp.window_size_value\" = 70000\n",
    )
    .unwrap();
    let out = synlab(&["profiles", "show", &toml]);
    support::assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("tcp.window_size_value"),
        "{err}"
    );
}
