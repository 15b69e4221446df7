//! `synlab rule --to-nft` against the kernel (issue 23 item 2): the
//! exported rules, installed in the lab's middlebox, must drop exactly the
//! crafted SYNs that synlab's own evaluation of the rule predicts. A
//! differential test of synlab's middlebox emulation against nftables.
//!
//! For each rule: 2,000 varied SYNs, a quarter of them IPv6 (TTL, MSS, window scale,
//! window, DF, ECN, DSCP, TCP flags, options present or not, ports), each
//! with its own source port, are sent from client 1 (a raw socket, paced)
//! through the middlebox. Two sets in the middlebox record source ports: the
//! SYNs that arrived (prerouting) and the SYNs that passed the rule (the
//! forward chain, after it). The prediction is the rule evaluated on each
//! SYN's attributes as the middlebox sees them: decoded from the crafted
//! bytes, with the TTL one lower (IPv4 forwarding decrements it before the
//! forward hook).
//!
//! The rules: eight written to cover negations over absent fields, both IP
//! versions, two-sided ports, sets, ranges and flags; four random ones
//! (seeded); and before them, `nft -c` checks the translations of 300
//! random rules. About 25 s in a debug build.
//!
//! Root only (skips with the reason otherwise, fails under CI).

mod support;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::lab::Lab;
use support::{path_str, TempDir};
use synlab::model::craft::{build_packet, Volatile};
use synlab::model::{decode_frame, Attr, Attributes, Decoded, Field, LinkType};
use synlab::rule::{to_nft, Rule, Scope};

const TABLE: &str = "synlab_lab";
const SYNS_PER_RULE: u16 = 2000;
/// Random rules checked after the fixed ones.
const RANDOM_RULES: usize = 4;

/// The rules checked: the issue's example, negations (which need the
/// packets without the field), two-sided ports, sets and ranges, flags.
const RULES: &[&str] = &[
    "tcp.options.mss_val > 8000 && tcp.options.wscale.shift == 7",
    "!(tcp.options.mss_val == 1460) && ip.flags.df == 1",
    "ip.ttl == 127 || tcp.window_size_value in {8192 64240}",
    "tcp.flags.ece == 1 && tcp.flags.cwr == 1 || !tcp.options.sack_perm && tcp.dstport != 80",
    "ip.dsfield.ecn in {1 3} || tcp.options.timestamp && tcp.options.wscale.shift >= 10",
    "tcp.port in {443 8000..8080} && ip.ttl < 64 || !(tcp.options.wscale)",
    "!(ip.ttl >= 64) && tcp.options.mss_val < 1400 || ipv6.hlim == 127",
    "!(ip.flags.df == 1 || ipv6.tclass.ecn == 3) && !tcp.options.timestamp",
];

/// A random rule over the fields the SYNs vary: comparisons, sets and
/// ranges, presence tests, nested `&&`, `||` and `!`.
fn random_rule(rng: &mut StdRng, depth: u32) -> String {
    if depth == 0 || rng.gen_bool(0.35) {
        return random_leaf(rng);
    }
    match rng.gen_range(0..3) {
        0 => format!("!({})", random_rule(rng, depth - 1)),
        n => {
            let op = if n == 1 { " && " } else { " || " };
            let k = rng.gen_range(2..=3);
            let parts: Vec<String> = (0..k).map(|_| random_rule(rng, depth - 1)).collect();
            format!("({})", parts.join(op))
        }
    }
}

fn random_leaf(rng: &mut StdRng) -> String {
    let op = pick(rng, &["==", "!=", "<", "<=", ">", ">="]);
    let (field, max): (&str, u32) = pick(
        rng,
        &[
            ("ip.ttl", 255),
            ("ipv6.hlim", 255),
            ("ip.dsfield.ecn", 3),
            ("ipv6.tclass.ecn", 3),
            ("ip.dsfield.dscp", 63),
            ("tcp.options.mss_val", 9500),
            ("tcp.options.wscale.shift", 14),
            ("tcp.window_size_value", 65535),
            ("tcp.dstport", 9000),
            ("ip.flags.df", 1),
            ("tcp.flags.ece", 1),
            ("tcp.flags.cwr", 1),
            ("tcp.flags.push", 1),
        ],
    );
    match rng.gen_range(0..6) {
        0 => pick(
            rng,
            &[
                "tcp.options.sack_perm",
                "tcp.options.timestamp",
                "tcp.options.wscale",
                "tcp.options.mss",
                "ipv6.hlim",
            ],
        )
        .to_owned(),
        1 if max > 1 => {
            let lo = rng.gen_range(0..=max);
            let hi = rng.gen_range(lo..=max);
            format!("{field} in {{{} {lo}..{hi}}}", rng.gen_range(0..=max))
        }
        2 if field.starts_with("tcp.d") => {
            format!("tcp.port {op} {}", pick(rng, &[80, 81, 443, 8080]))
        }
        _ => format!("{field} {op} {}", rng.gen_range(0..=max)),
    }
}

/// Sends the packets of a file (each: 2-byte big-endian length, an IPv4
/// or IPv6 packet) through a raw socket, paced so no queue on the way overflows.
const SENDER: &str = r#"
import socket, struct, sys, time
data = open(sys.argv[1], 'rb').read()
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
i = n = 0
while i < len(data):
    (l,) = struct.unpack('>H', data[i:i + 2])
    p = data[i + 2:i + 2 + l]
    if p[0] >> 4 == 6:
        s6.sendto(p, (sys.argv[3], 0))
    else:
        s4.sendto(p, (sys.argv[2], 0))
    i += 2 + l
    n += 1
    if n % 25 == 0:
        time.sleep(0.004)
print(n)
"#;

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.gen_range(0..xs.len())]
}

/// One varied SYN's behavioural attributes.
fn varied(rng: &mut StdRng) -> Attributes {
    let mut a = Attributes::new();
    let ttl: u8 = if rng.gen_bool(0.5) {
        pick(rng, &[2, 63, 64, 65, 127, 128, 129, 255])
    } else {
        rng.gen_range(2..=255)
    };
    a.insert(Field::IpTtl, ttl);
    a.insert(Field::IpFlagsDf, rng.gen_bool(0.7));
    a.insert(Field::IpDsfieldEcn, rng.gen_range(0u8..=3));
    a.insert(Field::IpDsfieldDscp, pick(rng, &[0u8, 0, 10, 46, 48]));
    let window: u16 = if rng.gen_bool(0.6) {
        pick(rng, &[8192, 64240, 65535, 29200, 1024])
    } else {
        rng.gen()
    };
    a.insert(Field::TcpWindowSizeValue, window);
    for f in [
        Field::TcpFlagsEce,
        Field::TcpFlagsCwr,
        Field::TcpFlagsPush,
        Field::TcpFlagsUrg,
    ] {
        a.insert(f, rng.gen_bool(0.25));
    }
    let mut layout = Vec::new();
    if rng.gen_bool(0.85) {
        let mss: u16 = if rng.gen_bool(0.6) {
            pick(rng, &[1460, 1440, 8961, 9001, 8000, 536, 65495])
        } else {
            rng.gen_range(0..=9500)
        };
        a.insert(Field::TcpOptionsMssVal, mss);
        layout.push("mss");
    }
    if rng.gen_bool(0.6) {
        a.insert(Field::TcpOptionsSackPerm, true);
        layout.extend(["nop", "nop", "sok"]);
    }
    if rng.gen_bool(0.5) {
        a.insert(Field::TcpOptionsTimestamp, true);
        layout.extend(["nop", "nop", "ts"]);
    }
    if rng.gen_bool(0.75) {
        a.insert(Field::TcpOptionsWscaleShift, rng.gen_range(0u8..=14));
        layout.extend(["nop", "ws"]);
    }
    a.insert(Field::SynlabOptionsLayout, layout.join(","));
    a
}

/// One crafted SYN: its bytes, and its attributes as the middlebox's
/// forward chain sees them.
struct Syn {
    sport: u16,
    bytes: Vec<u8>,
    seen: Attributes,
}

/// An IPv4 SYN's attributes under their IPv6 names (no DF in IPv6).
fn as_ipv6(a: &Attributes) -> Attributes {
    a.iter()
        .filter(|(k, _)| *k != Attr::Field(Field::IpFlagsDf))
        .map(|(k, v)| match k {
            Attr::Field(f) => (Attr::Field(f.for_family(true)), v.clone()),
            other => (other, v.clone()),
        })
        .collect()
}

fn addr(lab: &Lab, key: &str) -> IpAddr {
    lab.var(key)
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// The SYNs of one round: a quarter IPv6, each with its own source port.
fn craft_all(lab: &Lab, rng: &mut StdRng, first_port: u16) -> Vec<Syn> {
    (0..SYNS_PER_RULE)
        .map(|i| {
            let v6 = rng.gen_bool(0.25);
            let (src, dst) = if v6 {
                (addr(lab, "LAB_C1_IP6"), addr(lab, "LAB_SRV_IP6"))
            } else {
                (addr(lab, "LAB_C1_IP"), addr(lab, "LAB_SRV_IP"))
            };
            let sport = first_port + i;
            let dport = pick(rng, &[80, 81, 443, 8000, 8080, 9000]);
            let v = Volatile {
                src: SocketAddr::new(src, sport),
                dst: SocketAddr::new(dst, dport),
                seq: rng.gen(),
                ack: 0,
                ip_id: rng.gen_range(1..=u16::MAX),
                flow_label: rng.gen_range(0..=0xfffff),
                tsval: rng.gen(),
                tsecr: 0,
            };
            let mut attrs = varied(rng);
            if v6 {
                attrs = as_ipv6(&attrs);
            }
            let bytes = build_packet(&attrs, &v).unwrap_or_else(|e| panic!("{attrs:?}: {e}"));
            let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &bytes) else {
                panic!("crafted SYN does not decode: {attrs:?}");
            };
            let mut seen = seg.attributes();
            // Forwarding decrements the TTL (hop limit) before the forward hook.
            let ttl_field = if v6 { Field::Ipv6Hlim } else { Field::IpTtl };
            let ttl = seen.num(ttl_field).unwrap_or_else(|| panic!("no TTL"));
            seen.insert(ttl_field, u8::try_from(ttl - 1).unwrap_or(0));
            Syn { sport, bytes, seen }
        })
        .collect()
}

fn nft(lab: &Lab, cmd: &str) -> String {
    nft_args(lab, &[cmd])
}

fn nft_args(lab: &Lab, args: &[&str]) -> String {
    let cmd = args.join(" ");
    let out = lab.in_ns(lab.var("LAB_MB_NS"), 10, "nft", args);
    support::assert_exit_for(&out, 0, &format!("nft {cmd}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The source ports in a set of the lab's table.
fn ports_in(lab: &Lab, set: &str) -> BTreeSet<u16> {
    let text = nft_args(lab, &["-j", &format!("list set inet {TABLE} {set}")]);
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["set"]["elem"].as_array())
        .flatten()
        .filter_map(|e| e.as_u64().and_then(|p| u16::try_from(p).ok()))
        .collect()
}

fn send(lab: &Lab, syns: &[Syn], tmp: &TempDir) {
    let mut data = Vec::new();
    for s in syns {
        let len = u16::try_from(s.bytes.len()).unwrap_or_else(|e| panic!("{e}"));
        data.extend(len.to_be_bytes());
        data.extend(&s.bytes);
    }
    let file = tmp.join("syns.bin");
    std::fs::write(&file, data).unwrap_or_else(|e| panic!("{e}"));
    let out = lab.in_ns(
        lab.c1(),
        30,
        "python3",
        &[
            "-c",
            SENDER,
            path_str(&file),
            lab.var("LAB_SRV_IP"),
            lab.var("LAB_SRV_IP6"),
        ],
    );
    support::assert_exit_for(&out, 0, "the raw sender");
}

/// `nft -c` (check only) accepts the translations of many random rules,
/// all in one file, in the middlebox's table.
fn check_syntax(lab: &Lab, rng: &mut StdRng, tmp: &TempDir) {
    let mut text = String::new();
    let mut rules = 0;
    while rules < 300 {
        let expr = random_rule(rng, 3);
        let rule = Rule::parse_in(&expr, Scope::Syn).unwrap_or_else(|e| panic!("{e}"));
        let Ok(lines) = to_nft(&rule) else {
            continue;
        };
        rules += 1;
        for line in lines {
            text.push_str(&format!("# {expr}\nadd rule inet {TABLE} forward {line}\n"));
        }
    }
    let file = tmp.join("check.nft");
    std::fs::write(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    nft_args(lab, &["-c", "-f", path_str(&file)]);
}

#[test]
fn exported_rules_drop_what_synlab_predicts() {
    let Some(lab) = Lab::up("nft", 238) else {
        return;
    };
    let started = Instant::now();
    let tmp = TempDir::new("lab-nft");
    let from_c1 = format!("iifname \"{}\"", lab.var("LAB_MB_C1_IF"));
    nft(
        &lab,
        &format!(
            "add set inet {TABLE} arrived {{ type inet_service; flags dynamic; size 65535; }}"
        ),
    );
    nft(
        &lab,
        &format!("add set inet {TABLE} passed {{ type inet_service; flags dynamic; size 65535; }}"),
    );
    nft(
        &lab,
        &format!("add chain inet {TABLE} pre {{ type filter hook prerouting priority -300; }}"),
    );
    nft(
        &lab,
        &format!("add rule inet {TABLE} pre {from_c1} tcp flags & 0x12 == 0x02 add @arrived {{ tcp sport }}"),
    );
    let mut rng = StdRng::seed_from_u64(23);
    let mut rules: Vec<String> = RULES.iter().map(|r| (*r).to_owned()).collect();
    // Random rules too: the first few whose translation is small enough.
    while rules.len() < RULES.len() + RANDOM_RULES {
        let text = random_rule(&mut rng, 3);
        let rule =
            Rule::parse_in(&text, Scope::Syn).unwrap_or_else(|e| panic!("{}", e.render(&text)));
        if to_nft(&rule).is_ok_and(|l| l.len() <= 8) {
            rules.push(text);
        }
    }
    check_syntax(&lab, &mut rng, &tmp);
    let mut report = Vec::new();
    for (round, text) in rules.iter().enumerate() {
        let rule =
            Rule::parse_in(text, Scope::Syn).unwrap_or_else(|e| panic!("{}", e.render(text)));
        let lines = to_nft(&rule).unwrap_or_else(|e| panic!("{text}: {e}"));
        lab.flush();
        nft(&lab, &format!("flush set inet {TABLE} arrived"));
        nft(&lab, &format!("flush set inet {TABLE} passed"));
        for line in &lines {
            lab.rule(line);
        }
        lab.rule(&format!(
            "{from_c1} tcp flags & 0x12 == 0x02 add @passed {{ tcp sport }}"
        ));
        let first = 10_000 + u16::try_from(round).unwrap_or(0) * SYNS_PER_RULE;
        let syns = craft_all(&lab, &mut rng, first);
        send(&lab, &syns, &tmp);
        let arrived = ports_in(&lab, "arrived");
        let passed = ports_in(&lab, "passed");
        assert!(
            arrived.len() * 100 >= syns.len() * 99,
            "{text}: only {} of {} SYNs reached the middlebox",
            arrived.len(),
            syns.len()
        );
        let mut wrong = Vec::new();
        let mut dropped = 0;
        for s in syns.iter().filter(|s| arrived.contains(&s.sport)) {
            let predicted_drop = rule.eval(&s.seen);
            let kernel_drop = !passed.contains(&s.sport);
            dropped += usize::from(kernel_drop);
            if predicted_drop != kernel_drop {
                wrong.push(format!(
                    "  port {}: synlab {} the kernel {}: {:?}",
                    s.sport,
                    if predicted_drop { "drops," } else { "passes," },
                    if kernel_drop { "drops" } else { "passes" },
                    s.seen
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{text}\nnft:\n  {}\n{} of {} SYNs disagree:\n{}",
            lines.join("\n  "),
            wrong.len(),
            arrived.len(),
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
        // A rule that drops all or nothing would check little.
        assert!(
            round >= RULES.len() || (dropped > 0 && dropped < arrived.len()),
            "{text}: {dropped} of {} dropped",
            arrived.len()
        );
        report.push(format!(
            "{text}: {} nft rules, {dropped} of {} dropped, all agree",
            lines.len(),
            arrived.len()
        ));
    }
    eprintln!(
        "{}\n({:.1} s)",
        report.join("\n"),
        started.elapsed().as_secs_f64()
    );
}
