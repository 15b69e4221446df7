//! Evaluation of a parsed rule over a [`Subject`]: a SYN's attributes, or a
//! captured attempt. A comparison with an absent attribute is false, and a
//! two-sided field matches on either side, as in Wireshark.

use std::borrow::Cow;
use std::net::IpAddr;

use super::ast::{AttemptField, Cmp, Expr, Literal, Operand};
use crate::model::{Attr, Attributes, Field, Value};

/// What a rule is evaluated over: a SYN's attributes, or a captured attempt
/// (which also answers attempt fields and `synlab.flow.*`).
pub trait Subject {
    fn attr(&self, a: Attr) -> Option<&Value>;
    /// An attempt fact; a lone SYN has none.
    fn attempt(&self, _f: AttemptField) -> Option<Value> {
        None
    }
}

impl Subject for Attributes {
    fn attr(&self, a: Attr) -> Option<&Value> {
        self.get(a)
    }
}

/// The operand's values in the subject: one, or two for a two-sided field.
fn values<'a, S: Subject + ?Sized>(op: Operand, s: &'a S) -> [Option<Cow<'a, Value>>; 2] {
    let get = |f: Field| s.attr(Attr::Field(f)).map(Cow::Borrowed);
    match op {
        Operand::Attr(a) => [s.attr(a).map(Cow::Borrowed), None],
        Operand::Either(p) => p.sides().map(get),
        Operand::Attempt(f) => [s.attempt(f).map(Cow::Owned), None],
    }
}

pub(super) fn eval<S: Subject + ?Sized>(e: &Expr, s: &S) -> bool {
    match e {
        Expr::Present(Operand::Attempt(f)) => match s.attempt(*f) {
            Some(Value::Bool(b)) => b,
            other => other.is_some(),
        },
        Expr::Present(n) => values(*n, s).iter().any(Option::is_some),
        // Wireshark's `!=` on a two-sided field: present, and no side equal.
        Expr::Compare(n @ Operand::Either(_), Cmp::Ne, lit) => {
            let vs = values(*n, s);
            vs.iter().any(Option::is_some) && !vs.iter().flatten().any(|v| compare(v, Cmp::Eq, lit))
        }
        Expr::Compare(n, op, lit) => values(*n, s).iter().flatten().any(|v| compare(v, *op, lit)),
        Expr::In(n, lits) => values(*n, s)
            .iter()
            .flatten()
            .any(|v| lits.iter().any(|l| member(v, l))),
        Expr::Not(e) => !eval(e, s),
        Expr::And(es) => es.iter().all(|e| eval(e, s)),
        Expr::Or(es) => es.iter().any(|e| eval(e, s)),
    }
}

fn member(v: &Value, lit: &Literal) -> bool {
    match lit {
        Literal::Range(lo, hi) => v.as_u64().is_some_and(|x| (*lo..=*hi).contains(&x)),
        _ => compare(v, Cmp::Eq, lit),
    }
}

fn compare(v: &Value, op: Cmp, lit: &Literal) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match lit {
        Literal::Int(n) => v.as_u64().map(|x| x.cmp(n)),
        Literal::Bool(b) => v.as_u64().map(|x| x.cmp(&u64::from(*b))),
        Literal::Str(s) => Some(match v {
            Value::Str(x) => x.as_str().cmp(s.as_str()),
            other => other.to_string().as_str().cmp(s.as_str()),
        }),
        Literal::Net(net, len) => {
            let inside = match v {
                Value::Str(x) => x.parse().is_ok_and(|ip| in_net(ip, *net, *len)),
                _ => false,
            };
            return match op {
                Cmp::Eq => inside,
                Cmp::Ne => !inside,
                _ => false,
            };
        }
        Literal::Range(..) => return member(v, lit),
    };
    let Some(ord) = ord else {
        return false;
    };
    match op {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Ne => ord != Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

/// Whether `ip` lies in `net/len`.
fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Source;
    use crate::rule::fixtures::{error_of, eval_str, linux};
    use crate::rule::{Rule, Scope};

    #[test]
    fn comparisons() {
        let a = linux();
        for (rule, want) in [
            ("ip.ttl == 64", true),
            ("ip.ttl eq 64", true),
            ("ip.ttl != 64", false),
            ("ip.ttl < 65", true),
            ("ip.ttl <= 63", false),
            ("ip.ttl > 63 && ip.ttl >= 64", true),
            ("ip.ttl gt 64", false),
            ("ip.ttl == 0x40", true),
            ("ip.flags.df == 1", true),
            ("ip.flags.df == true", true),
            ("ip.flags.df == false", false),
            ("synlab.options.layout == \"mss,sok,ts,nop,ws\"", true),
            ("synlab.options.layout == mss", false),
            ("synlab.options.layout != \"mss\"", true),
            ("tcp.window_size_value in {8192 64240}", true),
            ("tcp.window_size_value in {8192, 65535}", false),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
    }

    #[test]
    fn presence_and_absence() {
        let mut a = linux();
        assert!(eval_str("tcp.options.timestamp.tsval", &a));
        assert!(eval_str("tcp.options.sack_perm", &a));
        a.remove(Field::TcpOptionsTimestampTsval);
        a.remove(Field::TcpOptionsMssVal);
        assert!(!eval_str("tcp.options.timestamp.tsval", &a));
        assert!(eval_str("!tcp.options.timestamp.tsval", &a));
        assert!(eval_str("not tcp.options.timestamp.tsval", &a));
        // A comparison with an absent attribute is false, even !=.
        assert!(!eval_str("tcp.options.mss_val != 1460", &a));
        assert!(eval_str("!(tcp.options.mss_val == 1460)", &a));
        assert!(!eval_str("tcp.options.mss_val in {1460}", &a));
    }

    #[test]
    fn empty_string_is_the_empty_layout() {
        let mut a = Attributes::new();
        a.insert(Field::SynlabOptionsLayout, "");
        assert!(eval_str("synlab.options.layout == \"\"", &a));
    }

    #[test]
    fn unknown_option_names_are_fields() {
        let mut a = Attributes::new();
        a.insert(Attr::UnknownOption(30), "0102");
        assert!(eval_str("synlab.tcp.option.30 == \"0102\"", &a));
        assert!(!eval_str("synlab.tcp.option.31", &a));
    }

    #[test]
    fn ranges_in_sets() {
        let a = linux();
        for (rule, want) in [
            ("ip.ttl in {60..70}", true),
            ("ip.ttl in {64..64}", true),
            ("ip.ttl in {65..70}", false),
            ("ip.ttl in {1, 2, 60..70}", true),
            ("ip.ttl in {100..200 255}", false),
            ("tcp.options.mss_val in {0x500..0x5b4}", true),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let r = Rule::parse("ip.ttl in {1 60..70}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.expr.to_string(), "ip.ttl in {1 60..70}");
    }

    fn addressed() -> Attributes {
        let mut a = linux();
        a.insert(Field::IpSrc, "10.1.2.3");
        a.insert(Field::IpDst, "198.18.0.130");
        a.insert(Field::TcpSrcport, 40000u16);
        a.insert(Field::TcpDstport, 80u16);
        a
    }

    #[test]
    fn two_sided_fields_match_either_side() {
        let a = addressed();
        for (rule, want) in [
            ("tcp.port == 80", true),
            ("tcp.port == 40000", true),
            ("tcp.port == 443", false),
            ("tcp.port != 443", true),
            ("tcp.port != 80", false),
            ("tcp.port in {443 8000..8080}", false),
            ("tcp.port in {39000..41000}", true),
            ("ip.addr == 198.18.0.130", true),
            ("ip.addr == 10.1.2.3", true),
            ("ip.addr == 10.9.9.9", false),
            ("ip.addr", true),
            ("ipv6.addr", false),
            ("ipv6.addr == fd00::1", false),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let r = Rule::parse("tcp.port == 80").unwrap_or_else(|e| panic!("{e}"));
        let used: Vec<&str> = r.attributes_used().into_iter().map(Attr::name).collect();
        assert_eq!(used, ["tcp.srcport", "tcp.dstport"]);
    }

    #[test]
    fn cidr_networks() {
        let a = addressed();
        for (rule, want) in [
            ("ip.src == 10.0.0.0/8", true),
            ("ip.src == 10.1.2.3/32", true),
            ("ip.src == 10.1.2.3", true),
            ("ip.src == 11.0.0.0/8", false),
            ("ip.src != 11.0.0.0/8", true),
            ("ip.src == 0.0.0.0/0", true),
            ("ip.dst == 198.18.0.0/15", true),
            ("ip.addr == 198.18.0.0/15", true),
            ("ip.src in {192.168.0.0/16 10.0.0.0/8}", true),
        ] {
            assert_eq!(eval_str(rule, &a), want, "{rule}");
        }
        let mut b = Attributes::new();
        b.insert(Field::Ipv6Src, "fd00::2");
        assert!(eval_str("ipv6.src == fd00::/8", &b));
        assert!(eval_str("ipv6.addr == fd00::2", &b));
        assert!(!eval_str("ipv6.src == fe80::/10", &b));
        let r = Rule::parse("ip.src == 10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.expr.to_string(), "ip.src == 10.0.0.0/8");
    }

    /// A captured attempt, as `handshakes --where` sees it.
    struct FakeAttempt {
        syn: Attributes,
        flow: Attributes,
        outcome: &'static str,
        established: bool,
    }

    impl Subject for FakeAttempt {
        fn attr(&self, a: Attr) -> Option<&Value> {
            if a.source() == Source::Flow {
                self.flow.get(a)
            } else {
                self.syn.get(a)
            }
        }
        fn attempt(&self, f: AttemptField) -> Option<Value> {
            Some(match f {
                AttemptField::Outcome => Value::from(self.outcome),
                AttemptField::Established => Value::Bool(self.established),
                AttemptField::Stalled => Value::Bool(false),
                AttemptField::SynRetransmits => Value::Int(2),
            })
        }
    }

    #[test]
    fn attempt_fields_in_where() {
        let mut flow = Attributes::new();
        flow.insert(Field::SynlabFlowTtl, 64u8);
        let at = FakeAttempt {
            syn: linux(),
            flow,
            outcome: "reset",
            established: false,
        };
        let m = |rule: &str| {
            Rule::parse_in(rule, Scope::Attempt)
                .unwrap_or_else(|e| panic!("{}", e.render(rule)))
                .eval(&at)
        };
        assert!(m("synlab.attempt.outcome == \"reset\""));
        assert!(m("synlab.attempt.outcome == reset"));
        assert!(!m("synlab.attempt.outcome == syn-ack"));
        assert!(m("synlab.attempt.outcome in {reset no-reply}"));
        assert!(!m("synlab.attempt.established"));
        assert!(m("!synlab.attempt.established && ip.ttl == 64"));
        assert!(!m("synlab.attempt.stalled"));
        assert!(m("synlab.attempt.syn_retransmits >= 2"));
        assert!(m("synlab.flow.ttl == 64"));
        assert!(!m("synlab.flow.df"));
        let e = error_of("synlab.attempt.outcome == resett", Scope::Attempt);
        assert_eq!(e.column, 27);
        assert!(
            e.to_string()
                .contains("takes one of syn-ack, reset, icmp, no-reply"),
            "{e}"
        );
        // A SYN alone has neither.
        for rule in ["synlab.attempt.established", "synlab.flow.ttl == 64"] {
            let e = error_of(rule, Scope::Syn);
            assert!(e.to_string().contains("only `handshakes --where`"), "{e}");
        }
        // A simulated connection (`bisect --rule`) has later segments but
        // no captured facts.
        let e = error_of("synlab.attempt.established", Scope::Connection);
        assert!(e.to_string().contains("only `handshakes --where`"), "{e}");
        let r = Rule::parse_in("synlab.flow.ttl == 128", Scope::Connection)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.reads_flow());
        let syn_only = Rule::parse_in("ip.ttl == 128", Scope::Connection);
        assert!(!syn_only.unwrap_or_else(|e| panic!("{e}")).reads_flow());
    }
}
