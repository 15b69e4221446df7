//! A fixture for `tests/lab_live.rs` (not a usage example): open a live
//! session that installs its RST table, print the tables, then panic.
//!
//! It is a program of its own, not code inside the test binary, because a
//! live session lowers the process's capabilities and then checks that no
//! thread kept more; the test harness's own threads would. Run as
//! `panic_with_session TARGET` inside a lab namespace.

use std::process::Command;

fn main() {
    let Some(target) = std::env::args().nth(1) else {
        eprintln!("usage: panic_with_session TARGET (run by tests/lab_live.rs)");
        std::process::exit(2);
    };
    let target = target
        .parse()
        .unwrap_or_else(|e| panic!("bad target {target}: {e}"));
    let opts = synlab::io::live::LiveOptions {
        suppress_rst: true,
        ..Default::default()
    };
    let _session = synlab::io::live::LiveSession::open(target, &opts, 10)
        .unwrap_or_else(|e| panic!("open: {e}"));
    let tables = Command::new("/usr/sbin/nft")
        .args(["list", "tables"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    println!("tables while open: {}", tables.trim());
    panic!("deliberate panic with the session open");
}
