//! p0f's database reader (`P0fDb::parse`, the p0f.fp that names the SYNs
//! `profiles learn` proposes): any text parses to a database, and the
//! database labels SYNs without panicking. The SYNs are a few fixed raw
//! signatures (Linux, Windows, macOS, an odd one) and the input's own
//! first lines taken as raw signatures, so the fuzzer can make its
//! signatures match, at TTLs and windows around p0f's edges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::p0f::P0fDb;
use synlab::model::{Attributes, Field, Value};

const RAW: &[&str] = &[
    "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0",
    "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0",
    "4:64+0:0:1460:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df:0",
    "6:64+0:0:1440:%512,0:mss,nop,nop,sok:id-,ecn:+",
];
// Few enough that a run labels at most 180 SYNs: TTLs below, at and far from the
// initial TTLs (and one no IP header holds), windows 0 and common ones.
const TTLS: &[u64] = &[0, 29, 64, 128, u64::MAX];
const WINDOWS: &[u64] = &[0, 8192, 65535];

fn syn(raw: &str, ttl: u64, window: u64) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Field::SynlabP0f, Value::Str(raw.into()));
    a.insert(Field::IpTtl, ttl);
    a.insert(Field::TcpWindowSizeValue, window);
    a
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let db = P0fDb::parse(text);
    let own = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(_, v)| v.trim());
    for raw in RAW.iter().copied().chain(own.take(8)) {
        for &ttl in TTLS {
            for &window in WINDOWS {
                if let Some(m) = db.classify(&syn(raw, ttl, window)) {
                    assert!(!db.is_empty(), "an empty database labelled {raw}");
                    let _ = m.label.to_string();
                }
            }
        }
    }
});
