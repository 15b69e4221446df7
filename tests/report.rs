//! The things people look at: `bisect --pcap` (an annotated pcapng, read
//! by tshark and by synlab), `bisect --html` and `diff --html` (one
//! self-contained page, rendered in a real headless browser).

mod support;

use support::Args;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{have, json, path_str, require_tool, stderr, synlab, TempDir};

/// A simulated bisect: linux against windows-11 behind a middlebox that
/// drops TTL 128. Its JSON report; the files asked for are written.
fn bisect(extra: &[&str]) -> serde_json::Value {
    let out = Args::bisect("linux", "windows-11")
        .rule("ip.ttl == 128")
        .json()
        .args(extra)
        .run_exit(0);
    json(&out)
}

/// tshark's output for `args`, with its stderr, after the line it always
/// prints when run as root.
fn tshark(args: &[&str]) -> (String, String) {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tshark: {e}"));
    support::assert_exit_for(&out, 0, &format!("tshark {args:?}"));
    let err: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("Running as user \"root\""))
        .collect();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        err.join("\n"),
    )
}

#[test]
fn bisect_pcap_names_each_probes_variant_in_its_comment() {
    let tmp = TempDir::new("report-pcap");
    let pcap = tmp.file("bisect.pcapng");
    let doc = bisect(&["--pcap", &pcap]);
    let probes = doc["probes"].as_u64().unwrap_or_else(|| panic!("{doc}"));

    // synlab reads it back: one SYN per probe, each from its own port.
    let loaded = synlab::io::load::load(Path::new(&pcap)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.error.is_none() && loaded.warnings.is_empty(),
        "{loaded:?}"
    );
    assert_eq!(loaded.attempts.len() as u64, probes);

    if !require_tool("tshark") {
        return;
    }
    let (comments, warnings) = tshark(&["-r", &pcap, "-T", "fields", "-e", "frame.comment"]);
    assert_eq!(warnings, "", "tshark warned");
    let comments: Vec<&str> = comments.lines().collect();
    assert_eq!(comments.len() as u64, probes);
    assert!(
        comments[0].starts_with("variant 0: good; round 1, probe 1; port "),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].ends_with("outcome syn-ack (simulated by --rule 'ip.ttl == 128', not sent)")
    );
    // The variant that applies the culprit alone, and its outcome.
    assert!(
        comments
            .iter()
            .any(|c| c.contains(": good + ip.ttl from bad; round 2")
                && c.contains("outcome no-reply")),
        "{comments:#?}"
    );
    assert!(comments.iter().any(|c| c.starts_with("variant 1: bad;")));
    // The SYNs are the variants': the good ones carry TTL 64, bad's 128.
    let (ttls, _) = tshark(&["-r", &pcap, "-T", "fields", "-e", "ip.ttl", "-c", "1"]);
    assert_eq!(ttls.trim(), "64");
}

/// With `--infer`, the inference's probes are in the pcapng after the
/// search's, each comment naming its point (the value probed, or the
/// agreement check), its outcome, and placed after the search's last
/// probe: the bounds of the rule are evidence too.
#[test]
fn bisect_pcap_holds_the_inferences_probes_after_the_searchs() {
    let tmp = TempDir::new("report-pcap-infer");
    let pcap = tmp.file("infer.pcapng");
    let doc = bisect(&["--pcap", &pcap, "--infer"]);
    let searched = doc["probes"].as_u64().unwrap_or_else(|| panic!("{doc}"));
    let inferred = doc["inferred"]["probes"].as_u64().unwrap_or(0)
        + doc["inferred"]["agreement"]["probes"].as_u64().unwrap_or(0);
    assert!(inferred > 0, "{doc}");
    let loaded = synlab::io::load::load(Path::new(&pcap)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.attempts.len() as u64, searched + inferred, "{doc}");
    if !require_tool("tshark") {
        return;
    }
    let (rows, warnings) = tshark(&[
        "-r",
        &pcap,
        "-T",
        "fields",
        "-e",
        "ip.ttl",
        "-e",
        "frame.time_relative",
        "-e",
        "frame.comment",
    ]);
    assert_eq!(warnings, "", "tshark warned");
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('\t').collect()).collect();
    let first = rows
        .iter()
        .position(|r| r[2].starts_with("inference point "))
        .unwrap_or_else(|| panic!("no inference probe: {rows:?}"));
    assert_eq!(first as u64, searched, "the search's probes come first");
    assert!(rows[first..]
        .iter()
        .all(|r| r[2].starts_with("inference point ")));
    // Later in time than every probe of the search.
    let time = |r: &Vec<&str>| r[1].parse::<f64>().unwrap_or(f64::NAN);
    assert!(time(&rows[first]) > time(&rows[first - 1]), "{rows:?}");
    // A TTL it names is the packet's, and the answer is the middlebox's.
    for r in &rows[first..] {
        let (ttl, said) = (r[0], r[2]);
        if let Some(named) = said.split("ip.ttl=").nth(1) {
            let named: String = named.chars().take_while(char::is_ascii_digit).collect();
            assert_eq!(named, ttl, "{r:?}");
        }
        let dropped = ttl == "128";
        assert!(
            said.contains(if dropped {
                "outcome no-reply"
            } else {
                "outcome syn-ack"
            }),
            "{r:?}"
        );
    }
    assert!(rows.iter().any(|r| r[2].contains(": agreement check: ")));
}

#[test]
fn bisect_html_is_one_page_with_the_culprit() {
    let tmp = TempDir::new("report-html");
    let html = tmp.file("bisect.html");
    bisect(&["--html", &html]);
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{html}: {e}"));
    assert!(page.contains("culprit: ip.ttl"), "{page}");
    assert!(page.contains("<title>ip.ttl = 128 (culprit)</title>"));
    assert!(!page.contains("<script") && !page.contains("src="));
}

#[test]
fn diff_html_draws_both_syns() {
    let tmp = TempDir::new("report-diff");
    let html = tmp.file("diff.html");
    let out = synlab(&["diff", "linux", "windows-11", "--html", &html]);
    support::assert_exit(&out, 1);
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("{html}: {e}"));
    assert!(
        page.contains("<td>ip.ttl</td><td>64</td><td>128</td>"),
        "{page}"
    );
    let drawn = "<div class=\"sub\">IPv4 header (RFC 791)</div>";
    assert_eq!(page.matches(drawn).count(), 2, "{page}");
}

/// Debian's headless Chromium (`chromium-headless-shell`), or `chromium`.
fn browser() -> Option<&'static str> {
    ["chromium-headless-shell", "chromium"]
        .into_iter()
        .find(|b| have(b))
}

/// Run the browser on the local file with `extra` flags: headless, no
/// sandbox (root in CI), and nothing that talks to the network on its own.
/// Bounded: `timeout` stops it after a minute.
fn run_browser(browser: &str, profile: &Path, page: &Path, extra: &[&str]) -> Output {
    let url = format!("file://{}", page.display());
    let data_dir = format!("--user-data-dir={}", profile.display());
    let out = Command::new("timeout")
        .args(["60", browser])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &data_dir,
        ])
        .args(extra)
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{browser}: {e}"));
    support::assert_exit_for(&out, 0, &format!("{browser} {extra:?}"));
    out
}

/// The report renders in a real browser: a screenshot that is not blank,
/// and the DOM the browser built holds what a user reads (the culprit,
/// the outcomes, the rates).
#[test]
fn the_report_renders_in_a_headless_browser() {
    let Some(browser) = browser() else {
        if std::env::var_os("CI").is_some() {
            panic!("no chromium-headless-shell or chromium, and CI must run this test (scripts/test.sh installs it)");
        }
        eprintln!("skipping: no chromium-headless-shell or chromium (scripts/test.sh installs it as root)");
        return;
    };
    let tmp = TempDir::new("report-browser");
    let html: PathBuf = tmp.join("bisect.html");
    bisect(&["--html", path_str(&html)]);
    let png = tmp.join("bisect.png");
    let shot = format!("--screenshot={}", png.display());
    run_browser(
        browser,
        &tmp.join("profile"),
        &html,
        &[&shot, "--window-size=1400,2000"],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank 1400x2000 page compresses to a few kilobytes; the report's
    // diagrams, tables and marks to far more.
    assert!(bytes.len() > 50_000, "screenshot of {} bytes", bytes.len());

    let out = run_browser(browser, &tmp.join("profile"), &html, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    for want in [
        "culprit: ip.ttl",
        "12/12 syn-ack (100%)",
        "0/12 syn-ack (0%)",
        "no-reply 7/7",
        "good + ip.ttl from bad",
        "Probes over time",
    ] {
        assert!(dom.contains(want), "{want:?} not in the DOM:\n{dom}");
    }
}

/// `bisect --locate --html` on a chain of four routers whose hop 3 answers
/// jumbo-MSS SYNs with its own RST: the rendered page says where on the
/// path (the located hop's sentence, both traces per TTL) and lists the
/// injected answers with their evidence (hop distance, initial TTL, IP
/// ID, window). Root only (the namespace lab), as the other lab tests.
#[test]
fn a_located_bisect_page_says_where_on_the_path_and_what_was_injected() {
    let Some(lab) = support::lab::Lab::up_chain("rlocate", 195, 4) else {
        return;
    };
    lab.on_hop(
        "rule",
        3,
        "tcp flags syn / syn,ack tcp option maxseg size > 1460 reject with tcp reset",
    );
    let tmp = TempDir::new("report-locate");
    let html: PathBuf = tmp.join("locate.html");
    let target = lab.srv(false, 80);
    let out = lab.synlab(
        &Args::bisect("ubuntu-22.04", "amazon-linux-2")
            .target(&target)
            .args(&["--suppress-rst", "--locate", "--html", path_str(&html)])
            .json()
            .strs(),
    );
    support::assert_exit(&out, 0);
    let doc = json(&out);
    let said = doc["location"]["evidence"]
        .as_str()
        .unwrap_or_else(|| panic!("no location: {doc}"));
    let hop3 = lab.var("LAB_HOP3_IP");
    let page = std::fs::read_to_string(&html).unwrap_or_else(|e| panic!("--html: {e}"));
    for want in [
        "<h2>Where on the path</h2>",
        "<th>passing (ubuntu-22.04)</th><th>failing (amazon-linux-2)</th>",
        &format!("<td>3</td><td>time-exceeded from {hop3} ("),
        "<h2>Injected answers</h2>",
        "<th>hop distance</th>",
    ] {
        assert!(page.contains(want), "{want:?} not in the page");
    }
    let Some(browser) = browser() else {
        if std::env::var_os("CI").is_some() {
            panic!("no chromium-headless-shell or chromium, and CI must run this test (scripts/test.sh installs it)");
        }
        eprintln!("skipping the browser: no chromium-headless-shell or chromium");
        return;
    };
    let out = run_browser(browser, &tmp.join("profile"), &html, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    // What a reader sees: the sentence, the row where the traces part
    // (the failing SYN's RST marked), and each injected answer: the one the
    // trace met at TTL 4 and the search's RSTs, with TTL 62 of 64 (2
    // routers away, the endpoint 3 or 4: its SYN-ACK crosses 4), IP ID 0,
    // window 0.
    let ep = lab.var("LAB_SRV_IP");
    for want in [
        said,
        &format!("<td>rst from {ep} ("),
        ", INJECTED</td>",
        "<td>trace of amazon-linux-2's SYN, TTL 4</td><td>rst</td><td>1</td>\
         <td>62</td><td>64</td><td>2</td><td>3</td><td>0</td><td>0</td>",
        "<td>search</td><td>rst</td>",
        "<td>62</td><td>64</td><td>2</td><td>4</td><td>0</td><td>0</td>\
         <td>the rst crossed 2 router(s), the endpoint's SYN-ACK 4",
    ] {
        assert!(dom.contains(want), "{want:?} not in the DOM:\n{dom}");
    }
}

/// Live, `bisect --pcap` holds what went over the wire: each probe's SYN
/// and, for the variants that pass, the server's SYN-ACK, each commented
/// with its variant; `probe --pcap` names the profile and its changes.
/// Root only (the namespace lab), as the other lab tests.
#[test]
fn live_pcaps_hold_the_probes_and_their_answers() {
    let Some(lab) = support::lab::Lab::up("rpcap", 249) else {
        return;
    };
    lab.rule("ip ttl 127 drop");
    let tmp = TempDir::new("report-live");
    let pcap = tmp.file("live.pcapng");
    let target = lab.srv(false, 80);
    let out = lab.synlab(
        &Args::bisect("linux", "windows-10")
            .target(&target)
            .args(&["--suppress-rst"])
            .json()
            .args(&["--pcap", &pcap])
            .strs(),
    );
    support::assert_exit(&out, 0);
    let doc = json(&out);
    let probes = doc["probes"].as_u64().unwrap_or_else(|| panic!("{doc}"));
    let loaded = synlab::io::load::load(Path::new(&pcap)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        loaded.attempts.len() as u64,
        probes,
        "one attempt per probe"
    );
    if !require_tool("tshark") {
        return;
    }
    let (comments, warnings) = tshark(&["-r", &pcap, "-T", "fields", "-e", "frame.comment"]);
    assert_eq!(warnings, "", "tshark warned");
    let count = |needle: &str| comments.lines().filter(|c| c.contains(needle)).count() as u64;
    assert_eq!(count("; probe SYN; outcome "), probes, "{comments}");
    assert!(
        count("answer to variant 0: good; round 1") >= 1,
        "{comments}"
    );
    assert_eq!(
        count("answer to variant 1: bad"),
        0,
        "bad's SYNs are dropped"
    );
    assert_eq!(count("not a packet of this batch"), 0, "{comments}");

    let probe_pcap = tmp.file("probe.pcapng");
    let out = lab.synlab(&[
        "probe",
        "--profile",
        "linux",
        "--set",
        "ip.ttl=100",
        "--target",
        &target,
        "--count",
        "2",
        "--json",
        "--pcap",
        &probe_pcap,
    ]);
    support::assert_exit(&out, 0);
    let (comments, warnings) = tshark(&["-r", &probe_pcap, "-T", "fields", "-e", "frame.comment"]);
    assert_eq!(warnings, "", "tshark warned");
    assert!(
        comments.contains("probe 1 (port ")
            && comments.contains(") of linux with ip.ttl=100: SYN; outcome syn-ack")
            && comments.contains("answer to probe 2 (port "),
        "{comments}"
    );
}

/// A bisect that fails leaves no empty page behind.
#[test]
fn a_failed_bisect_writes_no_page() {
    let tmp = TempDir::new("report-fail");
    let html = tmp.file("never.html");
    let out = Args::bisect("linux", "windows-11")
        .rule("ip.ttl ==")
        .args(&["--html", &html])
        .run_exit(2);
    assert!(stderr(&out).contains("invalid --rule"), "{}", stderr(&out));
    assert!(!Path::new(&html).exists(), "{html} left behind");
}

/// The recorded oracle's pcapng: the SYNs the search would have sent,
/// each comment saying where its outcome was looked up.
#[test]
fn recorded_bisect_pcap_says_nothing_was_sent() {
    let tmp = TempDir::new("report-recorded");
    let pcap = tmp.file("recorded.pcapng");
    let capture = |name: &str| support::capture(name).display().to_string();
    let recorded = capture("many-attempts.pcap");
    let out = Args::bisect(&capture("linux-default.pcap"), &capture("linux-tuned.pcap"))
        .args(&["--recorded", &recorded])
        .json()
        .args(&["--pcap", &pcap])
        .run();
    // Both sides are answered with syn-ack in that capture: nothing to explain.
    support::assert_exit(&out, 1);
    let probes = json(&out)["probes"].as_u64().unwrap_or(0);
    assert!(probes > 0);
    let loaded = synlab::io::load::load(Path::new(&pcap)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.attempts.len() as u64, probes);
    if !require_tool("tshark") {
        return;
    }
    let (comments, warnings) = tshark(&["-r", &pcap, "-T", "fields", "-e", "frame.comment"]);
    assert_eq!(warnings, "", "tshark warned");
    let tail = format!("(looked up in --recorded {recorded}, not sent)");
    assert_eq!(
        comments.lines().filter(|c| c.ends_with(&tail)).count() as u64,
        probes,
        "{comments}"
    );
}
