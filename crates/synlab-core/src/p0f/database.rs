//! p0f's database (`p0f.fp`, `[tcp:request]`): the labels p0f gives SYNs,
//! matched as p0f 3.09b's `tcp_find_match` does, so synlab can name a SYN
//! the way `p0f -r` would (to name the profiles `profiles learn` proposes).
//!
//! A SYN is matched by its `synlab.p0f` raw signature (p0f's `raw_sig`)
//! with its TTL and window. Priority is p0f's: the first exact specific
//! (`s:`) match, else the first exact generic (`g:`) one, else the first
//! fuzzy one (a TTL more than 35 below or above the signature's initial
//! TTL, or quirks differing only by `df`/`id+` gone or `id-`/`ecn` come).
//! Parsing is pure: the caller reads the file.

use std::fmt;

use crate::model::{Attributes, Field, Value};

/// p0f's `MAX_DIST`: how far below a signature's initial TTL a SYN may be.
const MAX_DIST: u64 = 35;

/// One `label =` line: `s:unix:Linux:3.11 and newer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// `s:` (specific) rather than `g:` (generic).
    pub specific: bool,
    pub name: String,
    pub flavor: String,
}

impl fmt::Display for Label {
    /// As p0f's log writes `os=`: the name, then the flavor if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flavor.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{} {}", self.name, self.flavor)
        }
    }
}

/// How a SYN matched a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    pub label: &'a Label,
    /// p0f's `fuzzy`: the quirks matched only loosely.
    pub fuzzy: bool,
}

/// One `sig =` line, split into its nine fields.
#[derive(Clone, Debug)]
struct Sig {
    label: usize,
    ver: String,
    ittl: u64,
    /// `ittl-`: the stack's TTL is odd, so only "not above" is checked.
    bad_ttl: bool,
    olen: String,
    mss: String,
    wsize: String,
    scale: String,
    olayout: String,
    quirks: Vec<String>,
    pclass: String,
}

/// The `[tcp:request]` signatures of a p0f.fp, in file order.
#[derive(Clone, Debug, Default)]
pub struct P0fDb {
    labels: Vec<Label>,
    sigs: Vec<Sig>,
}

/// A raw signature's fields, and the packet values p0f compares exactly.
struct Seen<'s> {
    ver: &'s str,
    ttl: u64,
    olen: &'s str,
    mss: &'s str,
    wsize: &'s str,
    window: u64,
    scale: &'s str,
    olayout: &'s str,
    quirks: Vec<&'s str>,
    pclass: &'s str,
}

impl P0fDb {
    /// Parse p0f.fp text. Lines it cannot read (and every section other than
    /// `[tcp:request]`) are skipped, as p0f would refuse the file instead:
    /// a partial database names fewer SYNs, it names none wrongly.
    pub fn parse(text: &str) -> P0fDb {
        let mut db = P0fDb::default();
        let mut in_section = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_section = line == "[tcp:request]";
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !in_section || line.starts_with(';') {
                continue;
            }
            match key.trim() {
                "label" => {
                    if let Some(label) = parse_label(value.trim()) {
                        db.labels.push(label);
                    }
                }
                "sig" if !db.labels.is_empty() => {
                    if let Some(sig) = parse_sig(value.trim(), db.labels.len() - 1) {
                        db.sigs.push(sig);
                    }
                }
                _ => {}
            }
        }
        db
    }

    /// How many signatures were read.
    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// The label p0f gives this SYN, if any.
    pub fn classify(&self, syn: &Attributes) -> Option<Match<'_>> {
        let Some(Value::Str(raw)) = syn.get(Field::SynlabP0f) else {
            return None;
        };
        let ttl = syn.num(Field::IpTtl).or_else(|| syn.num(Field::Ipv6Hlim))?;
        let window = syn.num(Field::TcpWindowSizeValue)?;
        let seen = seen(raw, ttl, window)?;
        let (mut generic, mut fuzzy) = (None, None);
        for sig in &self.sigs {
            let Some(is_fuzzy) = sig.matches(&seen) else {
                continue;
            };
            let label = &self.labels[sig.label];
            match (is_fuzzy, label.specific) {
                (false, true) => {
                    return Some(Match {
                        label,
                        fuzzy: false,
                    })
                }
                (false, false) => {
                    generic.get_or_insert(label);
                }
                (true, _) => {
                    fuzzy.get_or_insert(label);
                }
            }
        }
        generic
            .map(|label| Match {
                label,
                fuzzy: false,
            })
            .or(fuzzy.map(|label| Match { label, fuzzy: true }))
    }
}

fn parse_label(value: &str) -> Option<Label> {
    let mut parts = value.splitn(4, ':');
    let class = parts.next()?;
    let _kind = parts.next()?;
    let name = parts.next()?.to_owned();
    let flavor = parts.next().unwrap_or("").to_owned();
    Some(Label {
        specific: class == "s",
        name,
        flavor,
    })
}

fn parse_sig(value: &str, label: usize) -> Option<Sig> {
    let f: Vec<&str> = value.split(':').collect();
    let [ver, ittl, olen, mss, window, olayout, quirks, pclass] = f[..] else {
        return None;
    };
    let (wsize, scale) = window.split_once(',')?;
    Some(Sig {
        label,
        ver: ver.into(),
        ittl: ittl.trim_end_matches('-').parse().ok()?,
        bad_ttl: ittl.ends_with('-'),
        olen: olen.into(),
        mss: mss.into(),
        wsize: wsize.into(),
        scale: scale.into(),
        olayout: olayout.into(),
        quirks: split_quirks(quirks).map(str::to_owned).collect(),
        pclass: pclass.into(),
    })
}

fn split_quirks(q: &str) -> impl Iterator<Item = &str> {
    q.split(',').filter(|s| !s.is_empty())
}

fn seen(raw: &str, ttl: u64, window: u64) -> Option<Seen<'_>> {
    let f: Vec<&str> = raw.split(':').collect();
    let [ver, _ttl, olen, mss, win, olayout, quirks, pclass] = f[..] else {
        return None;
    };
    let (wsize, scale) = win.split_once(',')?;
    Some(Seen {
        ver,
        ttl,
        olen,
        mss,
        wsize,
        window,
        scale,
        olayout,
        quirks: split_quirks(quirks).collect(),
        pclass,
    })
}

impl Sig {
    /// `Some(fuzzy)` when the SYN matches this signature.
    fn matches(&self, s: &Seen<'_>) -> Option<bool> {
        let any = |want: &str, got: &str| want == "*" || want == got;
        let ttl_ok = self.ittl >= s.ttl && (self.bad_ttl || self.ittl - s.ttl <= MAX_DIST);
        let ok = self.olayout == s.olayout
            && any(&self.ver, s.ver)
            && (ttl_ok || !self.bad_ttl)
            && self.olen == s.olen
            && any(&self.mss, s.mss)
            && self.window_matches(s)
            && any(&self.scale, s.scale)
            && any(&self.pclass, s.pclass);
        if !ok {
            return None;
        }
        let has = |q: &[&str], x: &str| q.contains(&x);
        let mine: Vec<&str> = self.quirks.iter().map(String::as_str).collect();
        let gone = mine.iter().filter(|q| !has(&s.quirks, q));
        let come = s.quirks.iter().filter(|q| !has(&mine, q));
        let (gone, come): (Vec<&&str>, Vec<&&str>) = (gone.collect(), come.collect());
        if gone.is_empty() && come.is_empty() {
            return Some(!ttl_ok);
        }
        let loose = gone.iter().all(|q| matches!(**q, "df" | "id+"))
            && come.iter().all(|q| matches!(**q, "id-" | "ecn"));
        loose.then_some(true)
    }

    /// A number is the window itself, `%N` a divisor, `mss*N`/`mtu*N` the
    /// multiple p0f found (as the raw signature writes it), `*` anything.
    fn window_matches(&self, s: &Seen<'_>) -> bool {
        let w = self.wsize.as_str();
        if w == "*" {
            return true;
        }
        if let Some(m) = w.strip_prefix('%') {
            return m.parse::<u64>().is_ok_and(|m| m != 0 && s.window % m == 0);
        }
        if w.starts_with("mss*") || w.starts_with("mtu*") {
            return w == s.wsize;
        }
        w.parse::<u64>().is_ok_and(|n| n == s.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "\
[tcp:request]
label = s:unix:Linux:3.11 and newer
sig   = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0
label = g:unix:Linux:2.2.x-3.x
sig   = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0
label = s:win:Windows:7 or 8
sig   = *:128:0:*:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0
label = s:unix:OpenBSD:3.x
sig   = *:64:0:*:%512,0:mss,nop,nop,sok,nop,ws,nop,nop,ts:df,id+:0
[tcp:response]
label = s:unix:Linux:3.x
sig   = *:64:0:*:mss*10,0:mss:df:0
";

    fn syn(raw: &str, ttl: u64, window: u64) -> Attributes {
        let mut a = Attributes::new();
        a.insert(Field::SynlabP0f, Value::Str(raw.into()));
        a.insert(Field::IpTtl, ttl);
        a.insert(Field::TcpWindowSizeValue, window);
        a
    }

    fn label(db: &P0fDb, a: &Attributes) -> Option<(String, bool)> {
        db.classify(a).map(|m| (m.label.to_string(), m.fuzzy))
    }

    #[test]
    fn specific_before_generic_before_fuzzy_and_responses_ignored() {
        let db = P0fDb::parse(DB);
        assert_eq!(db.len(), 4);
        let linux = "4:64+0:0:1460:mss*20,10:mss,sok,ts,nop,ws:df,id+:0";
        assert_eq!(
            label(&db, &syn(linux, 64, 29200)),
            Some(("Linux 3.11 and newer".into(), false))
        );
        let other = "4:57+7:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0";
        assert_eq!(
            label(&db, &syn(other, 57, 64240)),
            Some(("Linux 2.2.x-3.x".into(), false))
        );
        let ecn = "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+,ecn:0";
        assert_eq!(
            label(&db, &syn(ecn, 128, 8192)),
            Some(("Windows 7 or 8".into(), true))
        );
        let bsd = "4:64+0:0:1460:16384,0:mss,nop,nop,sok,nop,ws,nop,nop,ts:df,id+:0";
        assert_eq!(
            label(&db, &syn(bsd, 64, 16384)),
            Some(("OpenBSD 3.x".into(), false))
        );
    }

    #[test]
    fn a_ttl_off_the_signature_matches_fuzzily_other_quirks_not_at_all() {
        let db = P0fDb::parse(DB);
        let far = "4:128+?:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0";
        let fuzzy = Some(("Windows 7 or 8".to_owned(), true));
        assert_eq!(label(&db, &syn(far, 90, 8192)), fuzzy);
        let high = "4:255+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0";
        assert_eq!(label(&db, &syn(high, 200, 8192)), fuzzy);
        let ack = "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+,ack+:0";
        assert_eq!(label(&db, &syn(ack, 128, 8192)), None);
        assert_eq!(label(&db, &Attributes::new()), None);
        let odd = P0fDb::parse("[tcp:request]\nlabel = s:!:Odd:\nsig = *:64-:0:*:*,*:mss::0\n");
        let mss = "4:64+0:0:1460:1000,0:mss::0";
        assert_eq!(
            label(&odd, &syn(mss, 20, 1000)),
            Some(("Odd".to_owned(), false))
        );
        assert_eq!(label(&odd, &syn(mss, 65, 1000)), None);
    }

    #[test]
    fn unreadable_lines_are_skipped() {
        let db =
            P0fDb::parse("[tcp:request]\nsig = *:64:0\nlabel = s\nlabel = s:unix:X:\nsig = bad\n");
        assert!(db.is_empty());
    }
}
