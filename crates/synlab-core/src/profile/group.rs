//! Learning many captured SYNs at once (issue 14): SYNs of the same
//! behavioural signature form one group, and each group proposes one
//! profile, named after the label p0f gives its SYNs when p0f's database has
//! one.
//!
//! The signature is what the stack decides, not the path: p0f's database
//! form of the learnt SYN (initial TTL, options and their order, window as
//! a multiple of the MSS or a number, scale, quirks, payload class) with the
//! MSS left out (it follows the link's MTU), plus the DSCP. The TTL a
//! capture saw is the initial TTL minus the hops, so a group's profile sends
//! the initial TTL; its MSS is the first SYN's.

use super::{Later, Profile, ProfileError};
use crate::model::{Attributes, Field};
use crate::p0f::{self, P0fDb};

/// Where one SYN was read: a capture file (as the user named it) and the
/// attempt in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// The attempt's index in the file (`FILE#N`).
    pub attempt: usize,
    /// The SYN's packet number in the file (1-based, as tshark counts).
    pub packet: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.file, self.attempt)
    }
}

/// SYNs of one behaviour and the profile they propose.
#[derive(Clone, Debug)]
pub struct Group {
    pub profile: Profile,
    /// p0f's label of these SYNs, if its database has one.
    pub p0f_label: Option<String>,
    /// p0f would match only fuzzily (TTL or quirks off the signature).
    pub fuzzy: bool,
    /// Every SYN of the group, in the order read; the first taught the profile.
    pub members: Vec<Origin>,
    /// The MSS values the group's SYNs carry (the profile has the first).
    pub mss: Vec<u64>,
}

impl Group {
    /// How many different files the SYNs come from.
    pub fn files(&self) -> usize {
        let mut files: Vec<&str> = self.members.iter().map(|m| m.file.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        files.len()
    }
}

/// A SYN that could not be learnt, and why.
#[derive(Debug)]
pub struct NotLearnt {
    pub origin: Origin,
    pub error: ProfileError,
}

/// How many of the other SYNs a profile's `source` names.
const MAX_NAMED: usize = 5;

/// Group the SYNs by behaviour, largest group first (ties: first seen).
/// Names come from p0f's label (`linux-3.11-and-newer`), or `unknown`;
/// a name taken twice gets `-2`, `-3`, …
pub fn group<'a>(
    syns: impl IntoIterator<Item = (Origin, &'a Attributes)>,
    db: Option<&P0fDb>,
) -> (Vec<Group>, Vec<NotLearnt>) {
    let mut grouper = Grouper::new(db);
    for (origin, syn) in syns {
        grouper.add(origin, syn);
    }
    grouper.finish()
}

/// [`group`] one SYN at a time, so a reader can hand each over and drop
/// it: what is kept is the groups and each SYN's origin, not the SYNs.
pub struct Grouper<'d> {
    db: Option<&'d P0fDb>,
    groups: Vec<Group>,
    keys: Vec<String>,
    failed: Vec<NotLearnt>,
}

impl<'d> Grouper<'d> {
    pub fn new(db: Option<&'d P0fDb>) -> Self {
        Grouper {
            db,
            groups: Vec::new(),
            keys: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// The next SYN, in the order read.
    pub fn add(&mut self, origin: Origin, syn: &Attributes) {
        let learnt = Profile::learn(syn, "learnt", &origin.to_string());
        let profile = match learnt.and_then(|(p, _)| at_initial_ttl(p, syn, &origin)) {
            Ok(p) => p,
            Err(error) => {
                self.failed.push(NotLearnt { origin, error });
                return;
            }
        };
        let key = behaviour_key(&profile);
        let found = self
            .groups
            .iter_mut()
            .zip(&self.keys)
            .find(|(_, k)| **k == key);
        match found {
            Some((g, _)) => {
                let mss = profile.attributes.num(Field::TcpOptionsMssVal);
                if let Some(mss) = mss.filter(|m| !g.mss.contains(m)) {
                    g.mss.push(mss);
                }
                g.members.push(origin);
            }
            None => {
                let label = self.db.and_then(|db| db.classify(syn));
                self.groups.push(Group {
                    p0f_label: label.as_ref().map(|m| m.label.to_string()),
                    fuzzy: label.as_ref().is_some_and(|m| m.fuzzy),
                    mss: profile
                        .attributes
                        .num(Field::TcpOptionsMssVal)
                        .into_iter()
                        .collect(),
                    profile: Profile {
                        os_family: label.map(|m| m.label.name.clone()),
                        ..profile
                    },
                    members: vec![origin],
                });
                self.keys.push(key);
            }
        }
    }

    /// The groups, largest first and named, and the SYNs not learnt.
    pub fn finish(self) -> (Vec<Group>, Vec<NotLearnt>) {
        let mut groups = self.groups;
        groups.sort_by_key(|g| std::cmp::Reverse(g.members.len()));
        name_groups(&mut groups);
        (groups, self.failed)
    }
}

/// The learnt profile sending the initial TTL p0f guesses for the SYN
/// (`synlab.ittl`), not the TTL left after the hops to the capture.
fn at_initial_ttl(
    mut p: Profile,
    syn: &Attributes,
    origin: &Origin,
) -> Result<Profile, ProfileError> {
    let Some(ittl) = syn.num(Field::SynlabIttl) else {
        return Ok(p);
    };
    if p.attributes.num(Field::IpTtl) == Some(ittl) {
        return Ok(p);
    }
    let mut given = p.attributes.clone();
    given.insert(Field::IpTtl, ittl);
    let (mut q, _) =
        Profile::from_attributes(&p.name, &given, p.per_connection, &origin.to_string())?;
    q.later = Later {
        ttl: u8::try_from(ittl).unwrap_or(u8::MAX),
        ..p.later
    };
    p = q;
    Ok(p)
}

/// What groups SYNs: p0f's database signature with the MSS as `*`, and the DSCP.
fn behaviour_key(p: &Profile) -> String {
    let sig = p0f::profile::signature(p).unwrap_or_default();
    let mut fields: Vec<&str> = sig.split(':').collect();
    if let Some(mss) = fields.get_mut(3) {
        *mss = "*";
    }
    let dscp = p.attributes.num(Field::IpDsfieldDscp).unwrap_or(0);
    format!("{} dscp {dscp}", fields.join(":"))
}

/// Names, descriptions and sources, once the groups are complete.
fn name_groups(groups: &mut [Group]) {
    let mut taken: Vec<String> = Vec::new();
    for g in groups.iter_mut() {
        let base = g.p0f_label.as_deref().map_or("unknown".into(), slug);
        let mut name = base.clone();
        let mut n = 1;
        while taken.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        taken.push(name.clone());
        g.profile.name = name;
        let (count, files) = (g.members.len(), g.files());
        g.profile.description = format!(
            "learnt from {count} SYN{} in {files} capture{}{}",
            plural(count),
            plural(files),
            g.p0f_label
                .as_ref()
                .map_or(String::new(), |l| format!("; p0f: {l}")),
        );
        let first = &g.members[0];
        let others: Vec<String> = g.members[1..]
            .iter()
            .take(MAX_NAMED)
            .map(Origin::to_string)
            .collect();
        let more = count.saturating_sub(1 + MAX_NAMED);
        let mss = match &g.mss[..] {
            [_, _, ..] => format!(
                " (MSS {}: this profile has the first)",
                g.mss
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        g.profile.source = format!(
            "captured SYN, packet {} of {}, sent with its initial TTL{mss}{}{}",
            first.packet,
            first.file,
            if others.is_empty() {
                String::new()
            } else {
                format!("; the same behaviour in {}", others.join(", "))
            },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `Linux 3.11 and newer` -> `linux-3.11-and-newer`: a valid profile name.
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        "unknown".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::craft::linux_example;
    use crate::model::Value;
    use crate::profile::PerConnection;

    fn origin(file: &str, attempt: usize) -> Origin {
        Origin {
            file: file.into(),
            attempt,
            packet: attempt as u64 + 1,
        }
    }

    /// A decoded-looking SYN: crafted attributes of the Linux example.
    fn syn(window: u64) -> Attributes {
        let mut a = linux_example();
        a.insert(Field::TcpWindowSizeValue, window);
        let (src, dst) = crate::profile::dummy_endpoints();
        let p = Profile::from_attributes("x", &a, PerConnection::default(), "test")
            .unwrap_or_else(|e| panic!("{e}"))
            .0;
        p.crafted_attributes(src, dst, 7, 1000)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const DB: &str = "[tcp:request]\nlabel = s:unix:Linux:3.11 and newer\nsig = *:64:0:*:mss*20,7:mss,sok,ts,nop,ws:df,id+:0\n";

    #[test]
    fn same_behaviour_groups_largest_first_named_after_p0f() {
        let (a, b) = (syn(29200), syn(64240));
        let db = P0fDb::parse(DB);
        let syns = [
            (origin("one.pcap", 0), &b),
            (origin("one.pcap", 1), &a),
            (origin("two.pcap", 0), &a),
        ];
        let (groups, failed) = group(syns, Some(&db));
        assert!(failed.is_empty());
        let names: Vec<&str> = groups.iter().map(|g| g.profile.name.as_str()).collect();
        assert_eq!(names, ["linux-3.11-and-newer", "unknown"]);
        assert_eq!(groups[0].members.len(), 2);
        assert_eq!(groups[0].files(), 2);
        assert_eq!(groups[0].profile.os_family.as_deref(), Some("Linux"));
        assert_eq!(
            groups[0].profile.attributes.get(Field::TcpWindowSizeValue),
            Some(&Value::Int(29200))
        );
        assert!(groups[0].profile.source.contains("packet 2 of one.pcap"));
        assert!(groups[0].profile.source.contains("two.pcap#0"));
        assert_eq!(
            groups[1].profile.description,
            "learnt from 1 SYN in 1 capture"
        );
    }

    #[test]
    fn names_taken_twice_are_numbered_and_bad_syns_reported() {
        let (a, b) = (syn(1000), syn(2000));
        let mut bad = syn(3000);
        bad.insert(Field::TcpLen, 5000u64);
        let syns = [
            (origin("f", 0), &a),
            (origin("f", 1), &b),
            (origin("f", 2), &bad),
        ];
        let (groups, failed) = group(syns, None);
        let names: Vec<&str> = groups.iter().map(|g| g.profile.name.as_str()).collect();
        assert_eq!(names, ["unknown", "unknown-2"]);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].origin, origin("f", 2));
    }

    #[test]
    fn slugs_are_valid_names() {
        assert_eq!(
            slug("Linux 2.2.x-3.x (barebone)"),
            "linux-2.2.x-3.x-barebone"
        );
        assert_eq!(slug("Windows 7 or 8"), "windows-7-or-8");
        assert_eq!(slug("???"), "unknown");
    }
}
