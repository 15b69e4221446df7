use super::*;
use crate::model::{decode_frame, Decoded, LinkType};
use crate::p0f;

fn parse(text: &str) -> Result<(Profile, Warnings), ProfileError> {
    Profile::from_toml(text, "test.toml")
}

const MINIMAL: &str = r#"
name = "t"
[syn]
"ip.ttl" = 64
"ip.flags.df" = true
"tcp.window_size_value" = 64240
"tcp.options.mss_val" = 1460
"tcp.options.wscale.shift" = 7
"synlab.options.layout" = "mss,sok,ts,nop,ws"
"#;

#[test]
fn every_builtin_loads_without_warnings_and_crafts() {
    for (name, text) in builtin::BUILTIN {
        let (p, w) = Profile::from_toml(text, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&p.name, name);
        assert!(w.is_empty(), "{name}: {w:?}");
        assert!(!p.source.is_empty() && !p.description.is_empty(), "{name}");
        p0f::profile::signature(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn minimal_profile_is_normalised_with_every_field() {
    let (p, w) = parse(MINIMAL).unwrap();
    assert!(w.is_empty());
    let a = &p.attributes;
    assert_eq!(a.get(Field::TcpFlagsSyn), Some(&Value::Bool(true)));
    assert_eq!(a.get(Field::TcpFlagsFin), Some(&Value::Bool(false)));
    assert_eq!(a.get(Field::TcpOptionsSackPerm), Some(&Value::Bool(true)));
    assert_eq!(a.get(Field::TcpLen), Some(&Value::Int(0)));
    assert!(
        !a.contains(Field::IpLen)
            && !a.contains(Field::IpVersion)
            && !a.contains(Field::SynlabQuirks)
    );
    assert_eq!(
        p.later,
        Later {
            ttl: 64,
            df: true,
            ect: false,
            timestamps: true,
            dscp: None,
            window: None,
            flow_label: None,
        }
    );
    // normalising is idempotent: the printed TOML loads to the same profile
    let again = parse(&p.to_toml().unwrap()).unwrap().0;
    assert_eq!(again, p);
}

#[test]
fn errors_name_the_file_and_the_attribute() {
    let cases = [
        (r#""ip.tll" = 64"#, "ip.tll"),
        (r#""ip.ttl" = 300"#, "ip.ttl"),
        (r#""ip.ttl" = -1"#, "ip.ttl"),
        (r#""ip.ttl" = 6.4"#, "ip.ttl"),
        (r#""ip.flags.df" = "yes""#, "ip.flags.df"),
        (r#""ipv6.hlim" = 64"#, "ipv6.hlim"),
        (r#""ip.flags.mf" = true"#, "ip.flags.mf"),
        (r#""tcp.flags.syn" = false"#, "tcp.flags.syn"),
        (
            r#""synlab.options.layout" = "mss,sok,ts,ws""#,
            "TCP options",
        ),
        (r#""synlab.options.layout" = "mss,bogus""#, "bogus"),
    ];
    for (line, name) in cases {
        let text = format!("{MINIMAL}{line}\n").replace(
            "\"ip.ttl\" = 64\n\"ip.flags.df\"",
            if line.starts_with("\"ip.ttl\"") {
                "\"ip.flags.df\""
            } else {
                "\"ip.ttl\" = 64\n\"ip.flags.df\""
            },
        );
        let text = if line.contains("ip.flags.df") {
            text.replacen("\"ip.flags.df\" = true\n", "", 1)
        } else if line.contains("layout") {
            text.replacen("\"synlab.options.layout\" = \"mss,sok,ts,nop,ws\"\n", "", 1)
        } else {
            text
        };
        let e = parse(&text).map(|_| ()).unwrap_err().to_string();
        assert!(e.starts_with("test.toml: "), "{e}");
        assert!(e.contains(name), "{line}: {e}");
    }
}

#[test]
fn a_misspelt_attribute_gets_a_suggestion() {
    let text = MINIMAL.replace("\"ip.ttl\" = 64", "\"ip.tll\" = 64");
    let e = parse(&text).map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        e,
        "test.toml: attribute ip.tll: unknown attribute (did you mean ip.ttl?)"
    );
}

#[test]
fn bad_toml_names_the_file() {
    let e = parse("name = \"t\"\n[syn\n").unwrap_err().to_string();
    assert!(e.starts_with("test.toml: "), "{e}");
    let e = parse("name = \"t\"\ncolour = 1\n[syn]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn volatile_and_derived_attributes_are_ignored_with_a_warning() {
    let text = format!("{MINIMAL}\"ip.id\" = 7\n\"synlab.quirks\" = \"df,id+\"\n\"ip.len\" = 60\n");
    let (p, w) = parse(&text).unwrap();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w
        .iter()
        .any(|m| m.contains("ip.id") && m.contains("volatile")));
    assert!(!p.attributes.contains(Field::IpId));
}

fn decode_syn(bytes: &[u8], link: LinkType) -> Attributes {
    match decode_frame(link, bytes) {
        Decoded::Tcp(seg) => seg.attributes(),
        other => panic!("{other:?}"),
    }
}

/// The first packet of the netns capture, a Linux 6.18 SYN.
fn captured_linux_syn() -> Attributes {
    let bytes = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/linux-6.18-netns.pcap"
    ));
    // pcap: 24-byte file header, 16-byte record header, Ethernet frame
    let caplen = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    decode_syn(&bytes[40..40 + caplen], LinkType::Ethernet)
}

fn behavioural(a: &Attributes) -> Attributes {
    let mut out = a.clone();
    out.retain(|k, _| k.kind() == Kind::Behavioural);
    out
}

#[test]
fn learnt_from_a_capture_crafts_back_to_the_same_syn() {
    let syn = captured_linux_syn();
    let (p, notes) = Profile::learn(&syn, "learnt", "capture").unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let builtin = builtin::profile("linux").unwrap().unwrap().0;
    assert!(p.same_behaviour(&builtin), "{:#?}", p.attributes);
    let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 5, 1)), 41936);
    let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 5, 2)), 8080);
    let crafted = p.crafted_attributes(src, dst, 1, 1).unwrap();
    assert_eq!(behavioural(&crafted), behavioural(&syn));
}

#[test]
fn ipv6_syn_uses_ipv6_names_and_learns_back() {
    let p = builtin::profile("linux").unwrap().unwrap().0;
    let src: SocketAddr = "[fd00::1]:40000".parse().unwrap();
    let dst: SocketAddr = "[fd00::2]:443".parse().unwrap();
    let a = p.crafted_attributes(src, dst, 5, 9).unwrap();
    assert_eq!(a.get(Field::Ipv6Hlim), Some(&Value::Int(64)));
    assert_ne!(a.get(Field::Ipv6Flow), Some(&Value::Int(0)));
    let (learnt, pc, _) = learn_attributes(&a);
    assert!(pc.flow_label);
    let mut want = p.attributes.clone();
    want.retain(|k, _| !v4_only(k));
    assert_eq!(learnt, want);
}

#[test]
fn volatile_follows_per_connection() {
    let mut p = builtin::profile("linux").unwrap().unwrap().0;
    let (src, dst) = dummy_endpoints();
    let v = p.volatile(src, dst, 0x0001_0001, 0);
    assert_ne!(v.ip_id, 0);
    assert_eq!(v.tsval, 1);
    assert_eq!((v.ack, v.tsecr, v.flow_label), (0, 0, 0));
    p.per_connection.ip_id_zero = true;
    p.per_connection.seq_zero = true;
    let v = p.volatile(src, dst, 77, 5);
    assert_eq!((v.ip_id, v.seq, v.tsval), (0, 0, 5));
    let q = p0f::signature(&p.crafted_attributes(src, dst, 77, 5).unwrap()).unwrap();
    assert!(q.contains(":df,seq-:"), "{q}");
}

/// The SYN at try N (issue 14): windows-7 drops window scaling from its
/// third try on, with the same connection's numbers; IPv6 too.
#[test]
fn windows_7_drops_window_scaling_from_its_third_try() {
    let p = builtin::profile("windows-7").unwrap().unwrap().0;
    assert_eq!(p.retries.len(), 1);
    let (src, dst) = dummy_endpoints();
    let layout = |n: u32, src, dst| {
        let bytes = p.craft_try(n, src, dst, 77, 1000).unwrap();
        let Decoded::Tcp(seg) = decode_frame(LinkType::Raw, &bytes) else {
            panic!("try {n} does not decode");
        };
        let a = seg.attributes();
        assert_eq!(a.num(Field::TcpSeqRaw), Some(77), "try {n}");
        (
            a.get(Field::SynlabOptionsLayout).map(Value::to_string),
            a.contains(Field::TcpOptionsWscaleShift),
        )
    };
    let with_ws = (Some("mss,nop,ws,nop,nop,sok".to_owned()), true);
    let without = (Some("mss,nop,nop,sok".to_owned()), false);
    assert_eq!(layout(1, src, dst), with_ws);
    assert_eq!(layout(2, src, dst), with_ws);
    assert_eq!(layout(3, src, dst), without);
    assert_eq!(layout(9, src, dst), without);
    let (s6, d6) = (
        "[2001:2::2]:4000".parse().unwrap(),
        "[2001:2::1]:80".parse().unwrap(),
    );
    assert_eq!(layout(3, s6, d6), without);
}

#[test]
fn retries_round_trip_through_toml_and_bad_ones_are_named() {
    let text = format!(
        "{MINIMAL}\n[retry.4]\n\"synlab.options.layout\" = \"mss\"\n\"tcp.flags.ece\" = false\n"
    );
    let (p, _) = parse(&text).unwrap();
    assert_eq!(p.retries[0].from_try, 4);
    let (back, _) = parse(&p.to_toml().unwrap()).unwrap();
    assert!(back.same_behaviour(&p));
    let a = p.syn_attributes_at(4, false);
    assert_eq!(
        a.get(Field::SynlabOptionsLayout),
        Some(&Value::Str("mss".into()))
    );
    assert!(!a.contains(Field::TcpOptionsWscaleShift));
    assert!(!a.contains(Field::TcpOptionsSackPerm));
    let one = format!("{MINIMAL}\n[retry.1]\n\"ip.ttl\" = 3\n");
    assert!(matches!(parse(&one), Err(ProfileError::BadRetry { .. })));
    let uncraftable = format!("{MINIMAL}\n[retry.2]\n\"tcp.options.mss_val\" = 1000\n\"synlab.options.layout\" = \"ws\"\n");
    let err = parse(&uncraftable).unwrap_err().to_string();
    assert!(err.contains("[retry.2]"), "{err}");
}

/// Regression (issue 14): a SYN leaving a stale acknowledgment number
/// without the ACK flag, whose bit 24 is clear (p0f sees no `ack+`), was
/// crafted back with bit 24 set, so p0f saw `ack+` the original lacked.
#[test]
fn a_learnt_stale_ack_is_crafted_back_exactly() {
    let (src, dst) = dummy_endpoints();
    let base = builtin::profile("linux").unwrap().unwrap().0;
    let mut v = base.volatile(src, dst, 9, 1000);
    v.ack = 0x0000_0500;
    let syn = craft::crafted_attributes(&base.attributes, &v).unwrap();
    assert_eq!(syn.get(Field::SynlabQuirks), Some(&Value::from("df,id+")));
    let (p, _) = Profile::learn(&syn, "stale", "test").unwrap();
    assert_eq!(p.per_connection.ack, Some(0x500));
    let again = p.crafted_attributes(src, dst, 9, 1000).unwrap();
    assert_eq!(again.num(Field::TcpAckRaw), Some(0x500));
    assert_eq!(again.get(Field::SynlabQuirks), syn.get(Field::SynlabQuirks));
}

/// Issue 21 item 6: `[later]` sets DSCP, window and flow label of later
/// segments; absent, they follow the SYN; both reach the flow attributes.
#[test]
fn later_dscp_window_and_flow_label_become_flow_attributes() {
    let text = "name = \"x\"\n[syn]\n\"ip.ttl\" = 64\n\"ip.dsfield.dscp\" = 10\n\
                \"tcp.window_size_value\" = 1000\n\"synlab.options.layout\" = \"mss\"\n\
                \"tcp.options.mss_val\" = 1460\n";
    let p = parse(text).unwrap().0;
    let a = p.with_flow_attributes();
    assert_eq!(a.get(Field::SynlabFlowDscp), Some(&Value::Int(10)));
    assert_eq!(
        a.get(Field::SynlabFlowWindow),
        None,
        "scaled: not the SYN's"
    );
    assert_eq!(a.get(Field::SynlabFlowFlowLabel), None, "follows the SYN");
    let later = format!("{text}[later]\ndscp = 46\nwindow = 502\nflow_label = false\n");
    let q = parse(&later).unwrap().0;
    let a = q.with_flow_attributes();
    assert_eq!(a.get(Field::SynlabFlowDscp), Some(&Value::Int(46)));
    assert_eq!(a.get(Field::SynlabFlowWindow), Some(&Value::Int(502)));
    assert_eq!(a.get(Field::SynlabFlowFlowLabel), Some(&Value::Bool(false)));
    assert_eq!(
        parse(&q.to_toml().unwrap()).unwrap().0,
        q,
        "printed and loaded back"
    );
}
