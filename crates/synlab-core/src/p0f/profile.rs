//! p0f v3 signatures in and out of profiles.
//!
//! Export: the profile's SYN is crafted over IPv4 and
//! [`database_signature`] writes it in p0f.fp's database form:
//! `ver` is `*` (a profile applies to both IP versions), `ittl` is the
//! profile's TTL as sent (`64`, not `64+0`; an odd TTL such as 60 stays 60),
//! and the window is `mss*N` only when it is exactly N times the MSS.
//! The signature is the IPv4 form, so IPv6-only quirks (`flow`) never appear.
//!
//! Import: wildcards take documented concrete values: `mss` `*` is 1460,
//! `wsize` `*` is 65535, `scale` `*` is 7, `pclass` `*` is 0; `mss*N` and
//! `mtu*N` multiply out (MTU = MSS + 40), `%N` is N. `ecn` becomes an RFC 3168
//! ECN-setup SYN (ECE and CWR), `uptr+` an urgent pointer of 1, a `+` payload
//! 16 zero bytes, `olen` N bytes of IPv4 NOP options. `opt+` and `bad` cannot
//! be crafted and are refused. `df` without `id+` means DF with IP ID 0.

use thiserror::Error;

use super::signature::{database_signature, guess_ittl};
use crate::model::craft::CraftError;
use crate::model::{self, Attr, Attributes, Field, Layout, LayoutToken, Value};
use crate::profile::{dummy_endpoints, PerConnection, Profile, ProfileError};

/// What an `olayout` token may be.
const P0F_TOKENS: &str = "not an option p0f names (mss, ws, sok, sack, ts, nop, eol+N, ?N)";

/// Payload length a `+` payload class imports as.
pub const PLUS_PAYLOAD: u64 = 16;

#[derive(Debug, Error)]
pub enum P0fError {
    #[error("p0f signature {sig:?}: expected 8 fields ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass, found {found}")]
    Fields { sig: String, found: usize },
    #[error("p0f signature field {field} = {value:?}: {problem}")]
    Field {
        field: &'static str,
        value: String,
        problem: String,
    },
    #[error("p0f quirk {0:?} cannot be crafted into a SYN")]
    Uncraftable(String),
    #[error("p0f quirk {0:?} is unknown")]
    UnknownQuirk(String),
    #[error("p0f quirks {0}")]
    Inconsistent(&'static str),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

fn field_err(field: &'static str, value: &str, problem: impl Into<String>) -> P0fError {
    P0fError::Field {
        field,
        value: value.into(),
        problem: problem.into(),
    }
}

/// The profile's p0f signature in database form (see
/// [`database_signature`]).
pub fn signature(p: &Profile) -> Result<String, CraftError> {
    let (src, dst) = dummy_endpoints();
    let crafted = p.crafted_attributes(src, dst, 0x1000_0000, 1000)?;
    database_signature(&crafted).ok_or(CraftError::Missing("a p0f signature"))
}

fn parse_num<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<T, P0fError> {
    s.parse()
        .map_err(|_| field_err(field, s, "not a number in range"))
}

/// A profile (not yet named or described beyond the signature) from a p0f v3
/// signature.
pub fn import(sig: &str, name: &str) -> Result<Profile, P0fError> {
    let sig = sig.trim();
    let f: Vec<&str> = sig.split(':').collect();
    let [ver, ittl, olen, mss, window, layout, quirks, pclass] = f.as_slice() else {
        return Err(P0fError::Fields {
            sig: sig.into(),
            found: f.len(),
        });
    };
    if !matches!(*ver, "4" | "6" | "*") {
        return Err(field_err("ver", ver, "must be 4, 6 or *"));
    }
    let mut a = Attributes::new();
    let mut pc = PerConnection::default();

    // ittl: database form `64` or `64-`, raw form `54+10` or `54+?`.
    let ttl: u8 = match ittl.split_once('+') {
        Some((seen, "?")) => {
            let seen: u64 = parse_num("ittl", seen)?;
            u8::try_from(guess_ittl(seen)).unwrap_or(255)
        }
        Some((seen, dist)) => {
            let total = parse_num::<u32>("ittl", seen)?.saturating_add(parse_num("ittl", dist)?);
            u8::try_from(total).map_err(|_| field_err("ittl", ittl, "above 255"))?
        }
        None => parse_num("ittl", ittl.trim_end_matches('-'))?,
    };
    a.insert(Field::IpTtl, ttl);

    let olen: usize = parse_num("olen", olen)?;
    if olen % 4 != 0 || olen > 40 {
        return Err(field_err(
            "olen",
            &olen.to_string(),
            "IPv4 options are a multiple of 4 bytes, at most 40",
        ));
    }
    if olen > 0 {
        a.insert(Field::SynlabIpOptions, "01".repeat(olen));
    }

    let tokens: Layout = layout
        .parse()
        .map_err(|e: model::BadLayoutToken| field_err("olayout", &e.0, P0F_TOKENS))?;
    for &t in tokens.tokens() {
        if let LayoutToken::Unknown(kind) = t {
            if LayoutToken::p0f_names_kind(kind) {
                return Err(field_err("olayout", &t.to_string(), P0F_TOKENS));
            }
            a.insert(Attr::UnknownOption(kind), "");
        }
    }
    if !layout.is_empty() {
        a.insert(Field::SynlabOptionsLayout, *layout);
    }
    let has = |opt: LayoutToken| tokens.contains(opt);

    let mss_val: Option<u64> = match (*mss, has(LayoutToken::Mss)) {
        ("*", true) => Some(1460),
        // p0f's raw_sig prints 0 for a SYN without an MSS option.
        ("*" | "0", false) => None,
        (m, true) => Some(parse_num::<u16>("mss", m)?.into()),
        (m, false) => {
            return Err(field_err(
                "mss",
                m,
                "an MSS without mss in the option layout",
            ))
        }
    };
    if let Some(m) = mss_val {
        a.insert(Field::TcpOptionsMssVal, m);
    }

    let Some((wsize, scale)) = window.split_once(',') else {
        return Err(field_err("wsize,scale", window, "expected WSIZE,SCALE"));
    };
    let base = mss_val.unwrap_or(1460);
    let win: u64 = if wsize == "*" {
        65535
    } else if let Some(n) = wsize.strip_prefix("mss*") {
        base.saturating_mul(parse_num::<u64>("wsize", n)?)
    } else if let Some(n) = wsize.strip_prefix("mtu*") {
        (base + 40).saturating_mul(parse_num::<u64>("wsize", n)?)
    } else if let Some(n) = wsize.strip_prefix('%') {
        parse_num("wsize", n)?
    } else {
        parse_num("wsize", wsize)?
    };
    if win > 0xffff {
        return Err(field_err(
            "wsize",
            wsize,
            format!("window {win} does not fit 16 bits"),
        ));
    }
    a.insert(Field::TcpWindowSizeValue, win);
    match (scale, has(LayoutToken::Ws)) {
        ("*", true) => a.insert(Field::TcpOptionsWscaleShift, 7u8),
        (s, true) => a.insert(Field::TcpOptionsWscaleShift, parse_num::<u8>("scale", s)?),
        ("*" | "0", false) => {}
        (s, false) => {
            return Err(field_err(
                "scale",
                s,
                "a scale without ws in the option layout",
            ))
        }
    }

    let mut df = false;
    let mut id_plus = false;
    let mut id_minus = false;
    let mut exws = false;
    for q in quirks.split(',').filter(|q| !q.is_empty()) {
        match q {
            "df" => df = true,
            "id+" => id_plus = true,
            "id-" => id_minus = true,
            "ecn" => {
                a.insert(Field::TcpFlagsEce, true);
                a.insert(Field::TcpFlagsCwr, true);
            }
            "0+" => a.insert(Field::IpFlagsRb, true),
            "flow" => pc.flow_label = true,
            "seq-" => pc.seq_zero = true,
            "ack+" => pc.ack_nonzero = true,
            "uptr+" => a.insert(Field::TcpUrgentPointer, 1u16),
            "urgf+" => a.insert(Field::TcpFlagsUrg, true),
            "pushf+" => a.insert(Field::TcpFlagsPush, true),
            "ts1-" => pc.tsval_zero = true,
            "ts2+" => pc.tsecr_nonzero = true,
            "exws" => exws = true,
            "ack-" | "opt+" | "bad" => return Err(P0fError::Uncraftable(q.into())),
            other => return Err(P0fError::UnknownQuirk(other.into())),
        }
    }
    if id_plus && !df {
        return Err(P0fError::Inconsistent("id+ needs df"));
    }
    if id_minus && df {
        return Err(P0fError::Inconsistent("id- excludes df"));
    }
    let big_scale = a
        .get(Field::TcpOptionsWscaleShift)
        .and_then(Value::as_u64)
        .is_some_and(|s| s > 14);
    if exws != big_scale {
        return Err(P0fError::Inconsistent(
            "exws goes with a window scale above 14, and only with one",
        ));
    }
    if !has(LayoutToken::Ts) && (pc.tsval_zero || pc.tsecr_nonzero) {
        return Err(P0fError::Inconsistent(
            "ts1- and ts2+ need ts in the option layout",
        ));
    }
    if df {
        a.insert(Field::IpFlagsDf, true);
    }
    pc.ip_id_zero = (df && !id_plus) || id_minus;

    match *pclass {
        "0" | "*" => {}
        "+" => a.insert(Field::TcpLen, PLUS_PAYLOAD),
        other => return Err(field_err("pclass", other, "must be 0, + or *")),
    }

    let origin = format!("p0f signature {sig}");
    let (mut p, _) = Profile::from_attributes(name, &a, pc, &origin)?;
    p.description = format!("imported from p0f signature {sig}");
    p.source = format!("p0f signature {sig}");
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;
    use proptest::prelude::*;

    fn import_ok(sig: &str) -> Profile {
        import(sig, "t").unwrap_or_else(|e| panic!("{sig}: {e}"))
    }

    #[test]
    fn linux_database_signature_imports() {
        let p = import_ok("*:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0");
        let a = &p.attributes;
        assert_eq!(a.get(Field::TcpWindowSizeValue), Some(&Value::Int(29200)));
        assert_eq!(a.get(Field::TcpOptionsMssVal), Some(&Value::Int(1460)));
        assert_eq!(a.get(Field::TcpOptionsWscaleShift), Some(&Value::Int(10)));
        assert_eq!(a.get(Field::IpFlagsDf), Some(&Value::Bool(true)));
        assert!(!p.per_connection.ip_id_zero);
        assert_eq!(
            signature(&p).unwrap(),
            "*:64:0:1460:mss*20,10:mss,sok,ts,nop,ws:df,id+:0"
        );
    }

    #[test]
    fn df_without_id_plus_means_zero_id() {
        let p = import_ok("4:64:0:1460:mss*4,0:mss:df:0");
        assert!(p.per_connection.ip_id_zero);
        assert_eq!(signature(&p).unwrap(), "*:64:0:1460:mss*4,0:mss:df:0");
    }

    /// p0f's raw_sig writes 0 for a SYN without an MSS option.
    #[test]
    fn raw_form_mss_0_without_an_mss_option_imports() {
        let p = import_ok("4:63+1:0:0:8192,0:::0");
        assert!(!p.attributes.contains("tcp.options.mss_val"));
        assert_eq!(signature(&p).unwrap(), "*:64:0:*:8192,0:::0");
    }

    #[test]
    fn raw_form_ttl_adds_distance() {
        let p = import_ok("4:54+10:0:1460:65535,6:mss,nop,ws,sok,ts:df,id+:0");
        assert_eq!(p.attributes.get(Field::IpTtl), Some(&Value::Int(64)));
    }

    #[test]
    fn refusals_name_the_field() {
        let e = import("4:64:0:1460:mss*99,0:mss:df:0", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wsize"), "{e}");
        let e = import("4:64:0:1460", "t").unwrap_err().to_string();
        assert!(e.contains("8 fields"), "{e}");
        let e = import("4:64:0:1460:1,0:mss,bogus::0", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = import("4:64:0:1460:1,0:mss:bad:0", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad"), "{e}");
    }

    fn layouts() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("mss,sok,ts,nop,ws"),
            Just("mss,nop,ws,nop,nop,sok"),
            Just("mss,nop,ws,nop,nop,ts,sok,eol+1"),
            Just("mss,nop,ws,sok,ts"),
            Just("mss,nop,nop,sok"),
            Just("mss"),
            Just("mss,nop,nop,ts"),
            Just("nop,ws,nop,nop,ts,nop,nop,sok,mss"),
            Just("mss,sok,ts,ws,eol+0"),
            Just(""),
            Just("mss,nop,eol+2"),
            Just("mss,?30,nop,nop"),
        ]
    }

    prop_compose! {
        fn profiles()(
            ttl in 1u8..=255,
            layout in layouts(),
            mss in 1u16..=9000,
            window in 1u16..=65535,
            mul in prop::option::of(1u16..=44),
            wscale in 0u8..=14,
            df in any::<bool>(),
            id_zero in any::<bool>(),
            ecn in any::<bool>(),
            rb in any::<bool>(),
            push in any::<bool>(),
            urg in 0u8..3,
            payload in any::<bool>(),
            tsval_zero in any::<bool>(),
            tsecr_nonzero in any::<bool>(),
            seq_zero in any::<bool>(),
            ack_nonzero in any::<bool>(),
        ) -> Profile {
            let tokens: Vec<&str> = layout.split(',').collect();
            let mut a = Attributes::new();
            a.insert(Field::IpTtl, ttl);
            a.insert(Field::IpFlagsDf, df);
            a.insert(Field::IpFlagsRb, rb);
            a.insert(Field::TcpFlagsEce, ecn);
            a.insert(Field::TcpFlagsCwr, ecn);
            a.insert(Field::TcpFlagsPush, push);
            a.insert(Field::TcpFlagsUrg, urg == 1);
            a.insert(Field::TcpUrgentPointer, u16::from(urg == 2));
            a.insert(Field::TcpLen, if payload { PLUS_PAYLOAD } else { 0 });
            a.insert(Field::SynlabOptionsLayout, layout);
            let window = match (mul, tokens.contains(&"mss")) {
                (Some(m), true) if u32::from(mss) * u32::from(m) <= 65535 => mss * m,
                _ => window,
            };
            a.insert(Field::TcpWindowSizeValue, window);
            if tokens.contains(&"mss") {
                a.insert(Field::TcpOptionsMssVal, mss);
            }
            if tokens.contains(&"ws") {
                a.insert(Field::TcpOptionsWscaleShift, wscale);
            }
            if tokens.contains(&"?30") {
                a.insert(Attr::UnknownOption(30), "");
            }
            let ts = tokens.contains(&"ts");
            let pc = PerConnection {
                ip_id_zero: id_zero,
                flow_label: true,
                tsval_zero: ts && tsval_zero,
                tsecr_nonzero: ts && tsecr_nonzero,
                seq_zero,
                ack_nonzero,
                ack: None,
            };
            Profile::from_attributes("gen", &a, pc, "generated")
                .unwrap_or_else(|e| panic!("{e}"))
                .0
        }
    }

    proptest! {
        #[test]
        fn import_never_panics(sig in "[*0-9a-z+?%,:-]{0,60}") {
            let _ = import(&sig, "fuzz");
        }

        #[test]
        fn import_never_panics_on_near_signatures(
            fields in prop::collection::vec("[*0-9]{1,6}|mss\\*[0-9]{1,9}|mtu\\*[0-9]{1,9}|[0-9]{1,4}\\+[0-9?]{1,5}", 8)
        ) {
            let _ = import(&fields.join(":"), "fuzz");
        }

        #[test]
        fn export_then_import_is_the_same_profile(p in profiles()) {
            let sig = signature(&p).unwrap();
            let back = import(&sig, "gen").unwrap_or_else(|e| panic!("{sig}: {e}"));
            prop_assert_eq!(&back.attributes, &p.attributes, "{}", sig);
            prop_assert_eq!(back.per_connection, p.per_connection, "{}", sig);
            prop_assert_eq!(back.later, p.later, "{}", sig);
            prop_assert_eq!(signature(&back).unwrap(), sig);
        }
    }
}
