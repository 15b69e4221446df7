use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::model::craft::{build_packet, linux_example, Volatile};
use crate::model::{decode_frame, Decoded, Field, LinkType};
use crate::wire::checksum::PseudoHeader;
use crate::wire::icmp;

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The SYN sent with TTL `ttl`: its bytes and its attributes.
fn syn(ttl: u8) -> (Vec<u8>, Attributes) {
    let mut a = linux_example();
    a.insert(Field::IpTtl, ttl);
    crafted(&a)
}

/// The SYN crafted from `a`: its bytes and its attributes as decoded.
fn crafted(a: &Attributes) -> (Vec<u8>, Attributes) {
    let v = Volatile {
        src: sock("198.18.0.2:40000"),
        dst: sock("198.18.0.130:80"),
        seq: 1000,
        ack: 0,
        ip_id: 0,
        flow_label: 0,
        tsval: 1,
        tsecr: 0,
    };
    let bytes = build_packet(a, &v).unwrap_or_else(|e| panic!("{e}"));
    let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &bytes) else {
        panic!("the crafted SYN does not decode");
    };
    (bytes.clone(), seg.attributes())
}

/// The SYN as a router saw it when its TTL expired, with MSS `mss`.
fn quoted(bytes: &[u8], mss: u16) -> Vec<u8> {
    let mut q = bytes.to_vec();
    q[8] = 1;
    let at = q
        .windows(2)
        .position(|w| w == [2, 4])
        .unwrap_or_else(|| panic!("no MSS option"));
    q[at + 2..at + 4].copy_from_slice(&mss.to_be_bytes());
    q
}

fn read(q: &[u8]) -> Quote {
    read_quote(q, None).unwrap_or_else(|| panic!("quote not read"))
}

#[test]
fn a_whole_quote_names_the_clamped_mss_and_not_the_ttl() {
    let (bytes, sent) = syn(3);
    let q = read(&quoted(&bytes, 1300));
    assert!(!q.cut);
    assert_eq!(q.bytes, bytes.len());
    let d = diff_quote(&sent, &q);
    assert_eq!(
        d.changed,
        vec![FieldChange {
            name: "tcp.options.mss_val".into(),
            sent: Some(Value::Int(1460)),
            seen: Some(Value::Int(1300)),
        }]
    );
    assert!(d.not_quoted.is_empty());
}

#[test]
fn a_cut_quote_says_which_fields_it_did_not_include() {
    let (bytes, sent) = syn(2);
    let q = read(&quoted(&bytes, 1460)[..28]);
    assert!(q.cut);
    assert_eq!(q.bytes, 28);
    let d = diff_quote(&sent, &q);
    assert!(d.changed.is_empty(), "{:?}", d.changed);
    for f in [
        "tcp.options.mss_val",
        "tcp.window_size_value",
        "tcp.flags.syn",
    ] {
        assert!(
            d.not_quoted.iter().any(|n| n == f),
            "{f}: {:?}",
            d.not_quoted
        );
    }
    assert!(!d
        .not_quoted
        .iter()
        .any(|n| n == "tcp.srcport" || n == "ip.flags.df"));
    // Cut before the sequence number: not a quote of TCP.
    assert_eq!(read_quote(&bytes[..27], None), None);
}

#[test]
fn rfc4884_length_bounds_the_quote() {
    let (bytes, _) = syn(2);
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 8]);
    assert_eq!(
        read_quote(&long, Some(bytes.len())).map(|q| q.bytes),
        Some(bytes.len())
    );
}

/// An Ethernet frame holding a time-exceeded from `from` (arriving with
/// TTL 63) that quotes `quote`.
fn time_exceeded_frame(quote: &[u8]) -> Vec<u8> {
    let from = [198, 18, 0, 194];
    let to = [198, 18, 0, 2];
    let mut msg = Vec::new();
    icmp::Repr {
        msg_type: 11,
        code: 0,
        rest: [0; 4],
        quote,
    }
    .emit(
        &PseudoHeader::V4 {
            src: from.into(),
            dst: to.into(),
        },
        &mut msg,
    );
    let total = (20 + msg.len()) as u16;
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 63, 1, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&from);
    f.extend_from_slice(&to);
    f.extend_from_slice(&msg);
    f
}

#[test]
fn an_ethernet_frame_gives_the_router_its_ttl_and_the_quote() {
    let (bytes, _) = syn(2);
    let q = quoted(&bytes, 1460);
    let e = icmp_of_ethernet(&time_exceeded_frame(&q)).unwrap_or_else(|| panic!("not ICMP"));
    assert_eq!(e.from, ip("198.18.0.194"));
    assert_eq!((e.v6, e.icmp_type, e.code, e.ttl), (false, 11, 0, 63));
    assert_eq!(e.quote, q);
    assert_eq!(
        icmp_of_ethernet(&bytes),
        None,
        "not an Ethernet frame of ICMP"
    );
}

fn te(router: &str, ttl: u8, quote: Option<Quote>) -> Reply {
    Reply {
        answer: Answer::TimeExceeded,
        from: Some(ip(router)),
        rtt: Some(Duration::from_millis(1)),
        ttl: Some(ttl),
        ip_id: None,
        window: None,
        quote,
        sent: None,
    }
}

fn end(answer: Answer, ttl: u8) -> Reply {
    Reply {
        answer,
        from: Some(ip("198.18.0.130")),
        rtt: Some(Duration::from_millis(2)),
        ttl: Some(ttl),
        ip_id: Some(0),
        window: Some(0),
        quote: None,
        sent: None,
    }
}

#[test]
fn a_silent_hop_is_asked_again_and_said_silent_only_after_every_attempt() {
    let mut t = Trace::new(TraceConfig {
        max_ttl: 6,
        attempts: 3,
        window: 4,
    });
    assert_eq!(t.next_round(), vec![1, 2, 3, 4]);
    t.record(1, te("198.18.0.1", 64, None));
    t.record(2, Reply::none());
    t.record(3, te("198.18.0.198", 62, None));
    t.record(4, end(Answer::SynAck, 61));
    assert_eq!(t.end_ttl(), Some(4));
    // One missing answer: asked again, no new TTLs past the endpoint.
    assert_eq!(t.next_round(), vec![2]);
    t.record(2, Reply::none());
    assert_eq!(t.next_round(), vec![2]);
    t.record(2, Reply::none());
    assert_eq!(t.next_round(), Vec::<u8>::new());
    let r = t.finish(&syn(1).1);
    assert!(r.reached);
    let answers: Vec<_> = r.hops.iter().map(|h| (h.ttl, h.answer, h.probes)).collect();
    assert_eq!(
        answers,
        vec![
            (1, Answer::TimeExceeded, 1),
            (2, Answer::None, 3),
            (3, Answer::TimeExceeded, 1),
            (4, Answer::SynAck, 1)
        ]
    );
    assert_eq!(r.hops[3].injected, Some(false), "3 hops away, as expected");
}

#[test]
fn a_rate_limited_hop_that_answers_the_second_time_is_not_silent() {
    let mut t = Trace::new(TraceConfig {
        max_ttl: 3,
        attempts: 3,
        window: 8,
    });
    assert_eq!(t.next_round(), vec![1, 2, 3]);
    t.record(1, Reply::none());
    t.record(2, end(Answer::Rst, 63));
    assert_eq!(t.next_round(), vec![1]);
    t.record(1, te("198.18.0.1", 64, None));
    assert_eq!(t.next_round(), Vec::<u8>::new());
    let r = t.finish(&syn(1).1);
    assert_eq!(
        (r.hops[0].answer, r.hops[0].probes, r.hops[0].answers),
        (Answer::TimeExceeded, 2, 1)
    );
    assert_eq!(r.hops.len(), 2, "nothing past the endpoint");
}

#[test]
fn without_the_endpoint_the_trace_goes_on_to_max_ttl() {
    let mut t = Trace::new(TraceConfig {
        max_ttl: 5,
        attempts: 2,
        window: 3,
    });
    assert_eq!(t.next_round(), vec![1, 2, 3]);
    assert_eq!(t.next_round(), vec![1, 2, 3, 4, 5]);
    assert_eq!(t.next_round(), vec![4, 5]);
    assert_eq!(t.next_round(), Vec::<u8>::new());
    let r = t.finish(&syn(1).1);
    assert!(!r.reached);
    assert_eq!(r.hops.len(), 5);
}

#[test]
fn a_change_is_named_at_the_first_hop_that_shows_it() {
    let (bytes, sent) = syn(1);
    let mut t = Trace::new(TraceConfig {
        max_ttl: 4,
        attempts: 2,
        window: 4,
    });
    t.next_round();
    t.record(1, te("198.18.0.1", 64, Some(read(&quoted(&bytes, 1460)))));
    t.record(2, te("198.18.0.194", 63, Some(read(&quoted(&bytes, 1300)))));
    t.record(3, te("198.18.0.198", 62, Some(read(&quoted(&bytes, 1300)))));
    t.record(4, end(Answer::SynAck, 61));
    let r = t.finish(&sent);
    assert!(r.hops[0].changed.is_empty());
    assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
    let c = &r.changes[0];
    assert_eq!((c.name.as_str(), c.hop), ("tcp.options.mss_val", 2));
    assert_eq!(c.router, Some(ip("198.18.0.194")));
    assert_eq!(
        (c.sent.clone(), c.seen.clone()),
        (Some(Value::Int(1460)), Some(Value::Int(1300)))
    );
}

#[test]
fn an_rst_from_a_router_is_marked_injected_with_its_hop() {
    let mut t = Trace::new(TraceConfig {
        max_ttl: 8,
        attempts: 2,
        window: 8,
    });
    t.next_round();
    t.record(1, te("198.18.0.1", 64, None));
    t.record(2, te("198.18.0.194", 63, None));
    // Hop 2 resets the SYN in the endpoint's name: its TTL says 1 hop.
    t.record(3, end(Answer::Rst, 63));
    let r = t.finish(&syn(1).1);
    let h = &r.hops[2];
    assert_eq!(
        (h.answer, h.distance, h.injected),
        (Answer::Rst, Some(1), Some(true))
    );
    let why = h.evidence.clone().unwrap_or_default();
    assert!(
        why.contains("crossed 1 router(s) (TTL 63 of 64, IP ID 0, window 0)")
            && why.contains("hop 2 (198.18.0.194) is 1 router(s) away"),
        "{why}"
    );
}

/// A trace whose hops 1..=n answered as `answers` says (None: silent).
fn report_of(answers: &[(Answer, u8)]) -> TraceReport {
    let mut t = Trace::new(TraceConfig {
        max_ttl: answers.len() as u8,
        attempts: 2,
        window: answers.len() as u8,
    });
    t.next_round();
    for (i, &(a, ttl_seen)) in answers.iter().enumerate() {
        let ttl = i as u8 + 1;
        let reply = match a {
            Answer::None => Reply::none(),
            Answer::TimeExceeded => te(&format!("198.18.0.{ttl}"), ttl_seen, None),
            other => end(other, ttl_seen),
        };
        t.record(ttl, reply);
    }
    t.next_round();
    t.finish(&syn(1).1)
}

use Answer::{None as Silent, Rst, SynAck, TimeExceeded as Te};

#[test]
fn a_drop_on_hop_two_is_located_past_hop_two() {
    let pass = report_of(&[(Te, 64), (Te, 63), (Te, 62), (SynAck, 61)]);
    let fail = report_of(&[(Te, 64), (Te, 63), (Silent, 0), (Silent, 0)]);
    let l = locate(&pass, &fail).unwrap_or_else(|| panic!("not located"));
    assert_eq!(
        (l.hop, l.router, l.at_endpoint),
        (2, Some(ip("198.18.0.2")), false)
    );
    assert!(
        l.evidence.starts_with("dropped between hop 2 (198.18.0.2) and hop 3: hop 3 (198.18.0.3) answers the passing SYN"),
        "{}",
        l.evidence
    );
}

#[test]
fn a_drop_past_every_router_is_at_the_endpoint() {
    let pass = report_of(&[(Te, 64), (Te, 63), (SynAck, 62)]);
    let fail = report_of(&[(Te, 64), (Te, 63), (Silent, 0)]);
    let l = locate(&pass, &fail).unwrap_or_else(|| panic!("not located"));
    assert_eq!((l.hop, l.at_endpoint), (2, true));
    assert!(l.evidence.starts_with("at the endpoint"), "{}", l.evidence);
}

#[test]
fn a_silent_router_for_both_does_not_move_the_location() {
    let pass = report_of(&[(Te, 64), (Silent, 0), (Te, 62), (SynAck, 61)]);
    let fail = report_of(&[(Te, 64), (Silent, 0), (Te, 62), (Silent, 0)]);
    let l = locate(&pass, &fail).unwrap_or_else(|| panic!("not located"));
    assert_eq!((l.hop, l.at_endpoint), (3, true));
}

/// `bisect --exchange --locate`: the data segments' traces, worded as such.
#[test]
fn a_data_segment_dropped_on_hop_two_is_located_past_hop_two() {
    let pass = report_of(&[(Te, 64), (Te, 63), (Te, 62), (Answer::Ack, 61)]);
    let fail = report_of(&[(Te, 64), (Te, 63), (Silent, 0), (Silent, 0)]);
    let l = locate_data(&pass, &fail).unwrap_or_else(|why| panic!("{why}"));
    assert_eq!(
        (l.hop, l.router, l.at_endpoint),
        (2, Some(ip("198.18.0.2")), false)
    );
    assert!(
        l.evidence.starts_with(
            "dropped between hop 2 (198.18.0.2) and hop 3: hop 3 (198.18.0.3) answers the \
             passing data segment and stays silent for the failing one"
        ),
        "{}",
        l.evidence
    );
    let rst = report_of(&[(Te, 64), (Te, 63), (Rst, 63)]);
    let l = locate_data(&pass, &rst).unwrap_or_else(|why| panic!("{why}"));
    assert_eq!((l.hop, l.at_endpoint), (2, false));
    assert!(
        l.evidence
            .contains("the failing data segment with its own rst"),
        "{}",
        l.evidence
    );
}

/// Both requests acknowledged: the loss is on the way back (the incident's
/// server data past 1 MB), which the client's traces cannot place; said so,
/// never "at the endpoint".
#[test]
fn data_acknowledged_on_both_sides_is_not_located_and_says_why() {
    let pass = report_of(&[(Te, 64), (Te, 63), (Answer::Ack, 62)]);
    let why = locate_data(&pass, &pass).expect_err("both acknowledged");
    assert!(
        why.contains("reaches it (TTL 3) and is answered with ack as the passing side's is")
            && why.contains("from the server to the client"),
        "{why}"
    );
    // The endpoint resetting only the failing request is located there.
    let fail = report_of(&[(Te, 64), (Te, 63), (Rst, 62)]);
    let l = locate_data(&pass, &fail).unwrap_or_else(|why| panic!("{why}"));
    assert_eq!((l.hop, l.at_endpoint), (3, true));
    assert!(
        l.evidence
            .starts_with("both data segments reach the endpoint"),
        "{}",
        l.evidence
    );
    // A failing trace as long as the passing one, neither reaching.
    let short = report_of(&[(Te, 64), (Silent, 0)]);
    let why = locate_data(&short, &short).expect_err("no difference");
    assert!(
        why.contains("goes as far as the passing side's (TTL 1)"),
        "{why}"
    );
}

#[test]
fn an_injected_rst_is_located_at_the_router_that_sent_it() {
    let pass = report_of(&[(Te, 64), (Te, 63), (Te, 62), (SynAck, 61)]);
    let fail = report_of(&[(Te, 64), (Te, 63), (Rst, 63)]);
    let l = locate(&pass, &fail).unwrap_or_else(|| panic!("not located"));
    assert_eq!(
        (l.hop, l.router, l.at_endpoint),
        (2, Some(ip("198.18.0.2")), false)
    );
    assert!(l.evidence.contains("its own rst"), "{}", l.evidence);
    assert_eq!(locate(&pass, &pass).map(|l| l.at_endpoint), Some(true));
}

#[test]
fn a_limited_trace_asks_no_hop_past_the_limit_again() {
    let mut t = Trace::new(TraceConfig {
        max_ttl: 30,
        attempts: 3,
        window: 8,
    });
    assert_eq!(t.next_round(), (1..=8).collect::<Vec<u8>>());
    t.record(1, te("198.18.0.1", 64, None));
    t.limit(4);
    assert_eq!(t.next_round(), vec![2, 3, 4]);
    assert!(t.is_repeat(2) && !t.is_repeat(1));
    assert_eq!(t.next_round(), vec![2, 3, 4]);
    assert_eq!(t.next_round(), Vec::<u8>::new());
    assert_eq!(t.finish(&syn(1).1).hops.len(), 4);
}

/// A capture of a two-hop trace: the SYN at TTL 1 (answered by hop 1's
/// time-exceeded quoting it with MSS 1300), at TTL 2 (a SYN-ACK), and a
/// SYN to another host (not a probe).
#[test]
fn a_capture_of_probes_gives_the_same_report() {
    let (ttl1, _) = syn(1);
    let (mut ttl2, _) = syn(2);
    // Its own sequence number (the capture's probes are keyed by it).
    ttl2[24..28].copy_from_slice(&2000u32.to_be_bytes());
    let te_frame = time_exceeded_frame(&quoted(&ttl1, 1300));
    let mut synack = ttl2.clone();
    synack[12..16].copy_from_slice(&[198, 18, 0, 130]);
    synack[16..20].copy_from_slice(&[198, 18, 0, 2]);
    synack[8] = 62;
    synack[20..24].copy_from_slice(&[0, 80, 0x9c, 0x40]);
    synack[28..32].copy_from_slice(&2001u32.to_be_bytes());
    synack[33] = 0x12;
    let mut other = ttl1.clone();
    other[19] = 99;
    let mut t = OfflineTrace::new(None);
    let ms = Duration::from_millis;
    let raw = |at, data| ProbeFrame {
        at,
        link: LinkType::Raw,
        data,
    };
    t.feed(raw(ms(0), &ttl1));
    t.feed(raw(ms(1), &ttl2));
    t.feed(raw(ms(2), &other));
    t.feed(ProbeFrame {
        at: ms(3),
        link: LinkType::Ethernet,
        data: &te_frame,
    });
    t.feed(raw(ms(5), &synack));
    assert_eq!(t.target(), Some(sock("198.18.0.130:80")));
    assert_eq!(t.probes(), 2);
    let r = t.finish().unwrap_or_else(|| panic!("no report"));
    let rows: Vec<_> = r.hops.iter().map(|h| (h.ttl, h.answer, h.router)).collect();
    assert_eq!(
        rows,
        vec![
            (1, Answer::TimeExceeded, Some(ip("198.18.0.194"))),
            (2, Answer::SynAck, Some(ip("198.18.0.130")))
        ]
    );
    assert_eq!(r.hops[0].rtt_ms, Some(3.0));
    assert_eq!(r.hops[1].rtt_ms, Some(4.0));
    assert_eq!(r.changes.len(), 1);
    assert_eq!(
        (r.changes[0].name.as_str(), r.changes[0].hop),
        ("tcp.options.mss_val", 1)
    );
    assert!(r.reached);
}

/// IP options are the sender's, not a summary synlab derives: a box that
/// blanks them is named, although the name starts `synlab.`.
#[test]
fn a_box_that_blanks_the_ip_options_is_named() {
    let mut a = linux_example();
    a.insert(Field::SynlabIpOptions, "01010101");
    let (bytes, sent) = crafted(&a);
    assert_eq!(sent.text(Field::SynlabIpOptions), Some("01010101"));
    let mut q = bytes.clone();
    q[8] = 1;
    q[20..24].copy_from_slice(&[0; 4]);
    let d = diff_quote(&sent, &read(&q));
    assert_eq!(
        d.changed,
        vec![FieldChange {
            name: "synlab.ip.options".into(),
            sent: Some(Value::from("01010101")),
            seen: Some(Value::from("00000000")),
        }]
    );
}
