//! `synlab bisect --target --bundle DIR` in the namespace lab (issue 23
//! item 4): the middlebox drops SYNs with an MSS above 8000; the bundle
//! of the live bisect holds the captured frames of the decisive probes,
//! the inferred rule, its nft form and a lab.sh line that installs it.
//!
//! Root only: without root this test prints why it skips; under CI it
//! fails instead. It builds its own lab (index 239).

mod support;

use support::lab::Lab;
use support::{Args, TempDir};

#[test]
fn a_live_bisect_writes_the_hand_over() {
    let Some(lab) = Lab::up("bndl", 239) else {
        return;
    };
    lab.rule("tcp flags syn / syn,ack tcp option maxseg size > 8000 drop");
    let tmp = TempDir::new("lab-bundle");
    let dir = tmp.join("bundle");
    let target = lab.srv(false, 80);
    let args = Args::bisect("linux", "amazon-linux-2")
        .target(&target)
        .args(&[
            "--suppress-rst",
            "--no-single",
            "--bundle",
            &tmp.file("bundle"),
        ]);
    let out = lab.in_ns(lab.c1(), 300, support::bin(), &args.strs());
    support::assert_exit_for(&out, 0, "bisect --bundle (live)");
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let readme = read("README.txt");
    eprintln!("{readme}");
    assert!(readme.contains(&format!("# target: {target}")), "{readme}");
    assert!(readme.contains("frames captured live"), "{readme}");
    assert_eq!(read("rule.txt").trim(), "tcp.options.mss_val > 8000");
    assert!(read("rule.nft").contains("maxseg size > 8000"), "rule.nft");
    assert!(
        read("reproduce.sh").contains("scripts/lab.sh rule '"),
        "reproduce.sh"
    );
    let pcap = std::fs::metadata(dir.join("probes.pcapng")).map_or(0, |m| m.len());
    assert!(pcap > 1000, "probes.pcapng holds {pcap} bytes");
}
