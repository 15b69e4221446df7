//! `synlab bisect --target --infer` in the namespace lab: the middlebox
//! holds a real nftables rule, and the inferred rule must be that rule in
//! synlab's words (issue 23): a threshold (`maxseg size > 8000`) and a
//! set of TTLs. The probes and the agreement are printed.
//!
//! Root only: without root these tests print why they skip; under CI they
//! fail instead. Each builds its own lab (`sltest-i*`, indexes 237 and 238).

mod support;

use serde_json::Value as Json;
use support::lab::Lab;
use support::Args;

/// Bisect and infer live from client 1 to the open port; the JSON's
/// `inferred` block, printed with its probes and agreement.
fn infer(lab: &Lab, good: &str, bad: &str) -> Json {
    let target = lab.srv(false, 80);
    let args = Args::bisect(good, bad)
        .target(&target)
        .args(&["--suppress-rst", "--infer", "--no-single"])
        .json();
    let out = lab.in_ns(lab.c1(), 300, support::bin(), &args.strs());
    support::assert_exit_for(&out, 0, "bisect --infer");
    let doc: Json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"));
    let inferred = doc["inferred"].clone();
    eprintln!(
        "inferred {}: {} probes (search {}), agreement {}/{} ({} probes)",
        inferred["rule"],
        inferred["probes"],
        doc["probes"],
        inferred["agreement"]["agreed"],
        inferred["agreement"]["checked"],
        inferred["agreement"]["probes"]
    );
    inferred
}

fn agreement(inferred: &Json) -> f64 {
    let a = &inferred["agreement"];
    let checked = a["checked"].as_f64().unwrap_or(0.0);
    assert!(checked >= 50.0, "too few variants checked: {inferred}");
    a["agreed"].as_f64().unwrap_or(0.0) / checked
}

#[test]
fn a_threshold_on_the_mss_is_inferred() {
    let Some(lab) = Lab::up("ithr", 238) else {
        return;
    };
    lab.rule("tcp flags syn / syn,ack tcp option maxseg size > 8000 drop");
    let inferred = infer(&lab, "linux", "amazon-linux-2");
    assert_eq!(
        inferred["rule"], "tcp.options.mss_val > 8000",
        "{inferred:#}"
    );
    assert!(agreement(&inferred) >= 0.99, "{inferred:#}");
}

/// The middlebox sees the TTL one hop on: 127 and 254 are the clients'
/// 128 and 255.
#[test]
fn a_set_of_ttls_is_inferred() {
    let Some(lab) = Lab::up("iset", 237) else {
        return;
    };
    lab.rule("tcp flags syn / syn,ack ip ttl { 127, 254 } drop");
    let inferred = infer(&lab, "linux", "windows-10");
    assert_eq!(inferred["rule"], "ip.ttl in {128 255}", "{inferred:#}");
    assert!(agreement(&inferred) >= 0.99, "{inferred:#}");
}
