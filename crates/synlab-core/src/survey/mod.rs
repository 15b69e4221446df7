//! Surveys: every profile from one vantage, and the vantage x profile
//! matrix merged from many surveys.
//!
//! A survey probes each profile N times from one host. The probes are
//! interleaved round-robin ([`interleave`]) so that a transient outage of
//! the path hits every profile alike instead of wiping out whichever
//! profile happened to be probed at that moment. The result is a
//! [`SurveyDoc`]: a versioned JSON document ([`SCHEMA`]) carrying the
//! vantage, target, start time, synlab version and each profile's
//! signature, so documents from many hosts can be merged later by
//! [`matrix`].
//!
//! Everything here is pure: the live session that sends the probes, the
//! clock and the files are at the edge (`cli::cmd_survey`, `cli::cmd_matrix`).

pub mod matrix;

use serde::{Deserialize, Serialize};

use crate::handshake::Outcome;
use crate::model::Attributes;
use crate::search::stats::wilson;

/// The schema of a survey document. A reader refuses any other value: a
/// later, incompatible layout gets a new number.
pub const SCHEMA: &str = "synlab.survey/1";

/// z for the 95% Wilson interval of a pass rate.
const Z95: f64 = 1.96;

/// The profile index of each probe, in sending order: round by round, each
/// round one probe of every profile (`[0, 1, 2, 0, 1, 2, …]`).
pub fn interleave(profiles: usize, count: usize) -> Vec<usize> {
    (0..count).flat_map(|_| 0..profiles).collect()
}

/// How many probes saw each outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Counts {
    #[serde(default)]
    pub syn_ack: u32,
    #[serde(default)]
    pub reset: u32,
    #[serde(default)]
    pub icmp: u32,
    #[serde(default)]
    pub no_reply: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub complete: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stalled: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reset_mid_transfer: u32,
    /// Whole responses whose HTTP status was 4xx or 5xx (any code): no
    /// pass.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub http_error: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Counts {
    /// Count one more probe with `outcome`.
    pub fn add(&mut self, outcome: &Outcome) {
        let slot = match outcome {
            Outcome::SynAck => &mut self.syn_ack,
            Outcome::Reset => &mut self.reset,
            Outcome::Icmp { .. } => &mut self.icmp,
            Outcome::NoReply => &mut self.no_reply,
            Outcome::Complete => &mut self.complete,
            Outcome::Stalled => &mut self.stalled,
            Outcome::ResetMidTransfer => &mut self.reset_mid_transfer,
            Outcome::HttpError { .. } => &mut self.http_error,
        };
        *slot = slot.saturating_add(1);
    }

    /// Both tallies together, None when a count or the total would pass
    /// `u32::MAX` (a survey file's counts are not trusted, issue 22).
    pub fn checked_merge(&self, other: &Counts) -> Option<Counts> {
        let mut sum = *self;
        for (mine, theirs) in sum.slots_mut().into_iter().zip(other.slots()) {
            *mine = mine.checked_add(theirs.1)?;
        }
        let total: u64 = sum.slots().iter().map(|(_, n)| u64::from(*n)).sum();
        u32::try_from(total).ok().map(|_| sum)
    }

    /// Both tallies together (merging two surveys of one cell).
    pub fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in self.slots_mut().into_iter().zip(other.slots()) {
            *mine = mine.saturating_add(theirs.1);
        }
    }

    /// Every outcome with its count, the passing ones first.
    pub fn slots(&self) -> [(&'static str, u32); 8] {
        [
            ("syn-ack", self.syn_ack),
            ("complete", self.complete),
            ("reset", self.reset),
            ("icmp", self.icmp),
            ("no-reply", self.no_reply),
            ("stalled", self.stalled),
            ("reset-mid-transfer", self.reset_mid_transfer),
            ("http-error", self.http_error),
        ]
    }

    fn slots_mut(&mut self) -> [&mut u32; 8] {
        [
            &mut self.syn_ack,
            &mut self.complete,
            &mut self.reset,
            &mut self.icmp,
            &mut self.no_reply,
            &mut self.stalled,
            &mut self.reset_mid_transfer,
            &mut self.http_error,
        ]
    }

    pub fn probes(&self) -> u32 {
        self.slots()
            .iter()
            .fold(0u32, |n, (_, c)| n.saturating_add(*c))
    }

    /// Probes that passed: a SYN-ACK, or with an exchange the whole
    /// response. (An exchange's outcome is never a bare SYN-ACK, so the two
    /// never count one probe twice.)
    pub fn passes(&self) -> u32 {
        self.syn_ack.saturating_add(self.complete)
    }

    /// The pass rate, None before any probe.
    pub fn pass_rate(&self) -> Option<f64> {
        let n = self.probes();
        (n > 0).then(|| f64::from(self.passes()) / f64::from(n))
    }

    /// The 95% Wilson interval of the pass rate.
    pub fn interval(&self) -> (f64, f64) {
        wilson(self.passes(), self.probes(), Z95)
    }

    /// The most frequent outcome (on a tie, the failing one: a cell that
    /// is half resets says `reset`); None before any probe.
    pub fn dominant(&self) -> Option<&'static str> {
        let mut best: Option<(&'static str, u32)> = None;
        for (name, n) in self.slots() {
            if n > 0 && best.is_none_or(|(_, b)| n >= b) {
                best = Some((name, n));
            }
        }
        best.map(|(name, _)| name)
    }

    /// What the cell says: every probe passed, none did, or some did.
    pub fn status(&self) -> Option<Status> {
        let (k, n) = (self.passes(), self.probes());
        match (k, n) {
            (_, 0) => None,
            (0, _) => Some(Status::Fail),
            (k, n) if k == n => Some(Status::Pass),
            _ => Some(Status::Partial),
        }
    }
}

/// A cell's (or a profile's) status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every probe passed.
    Pass,
    /// Some probes passed and some did not (intermittent: a flow hash, loss).
    Partial,
    /// No probe passed.
    Fail,
}

impl Status {
    pub fn failing(self) -> bool {
        self != Status::Pass
    }
}

/// The counts per profile: `order[i]` is the profile of request `i` (as
/// [`interleave`] made it), `outcomes` the results' (request index, outcome).
/// An index outside `order` is an error naming it, not a miscount.
pub fn tally(
    profiles: usize,
    order: &[usize],
    outcomes: impl IntoIterator<Item = (usize, Outcome)>,
) -> Result<Vec<Counts>, UnknownProbe> {
    let mut counts = vec![Counts::default(); profiles];
    for (index, outcome) in outcomes {
        let slot = order
            .get(index)
            .and_then(|&p| counts.get_mut(p))
            .ok_or(UnknownProbe { index })?;
        slot.add(&outcome);
    }
    Ok(counts)
}

/// A result whose request index the survey did not plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a result for probe {index}, which the survey did not send")]
pub struct UnknownProbe {
    pub index: usize,
}

/// One profile's line of a survey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    pub name: String,
    /// The profile's OS family (`Windows`, `Linux`, …), if it names one.
    pub os_family: Option<String>,
    /// The p0f v3 signature of the SYN sent (database form), if it has one.
    pub p0f: Option<String>,
    /// The SYN's behavioural attributes (Wireshark field names).
    pub attributes: Attributes,
    pub outcomes: Counts,
    /// Derived from `outcomes` on writing; recomputed, not trusted, on reading.
    pub probes: u32,
    pub pass_rate: Option<f64>,
    /// 95% Wilson interval of the pass rate.
    pub interval: [f64; 2],
}

impl ProfileResult {
    /// A profile's line with the derived fields filled in from `outcomes`.
    pub fn new(
        name: String,
        os_family: Option<String>,
        p0f: Option<String>,
        attributes: Attributes,
        outcomes: Counts,
    ) -> Self {
        let (lo, hi) = outcomes.interval();
        ProfileResult {
            name,
            os_family,
            p0f,
            attributes,
            probes: outcomes.probes(),
            pass_rate: outcomes.pass_rate(),
            interval: [lo, hi],
            outcomes,
        }
    }
}

/// A survey's document (`synlab survey --json`), schema [`SCHEMA`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurveyDoc {
    pub schema: String,
    /// Where the probes came from, as the user named it (`--vantage`).
    pub vantage: String,
    /// IP:PORT.
    pub target: String,
    /// When the first probe was sent, RFC 3339 UTC.
    pub started: String,
    pub synlab_version: String,
    /// The source address and interface used.
    pub src: String,
    pub iface: String,
    /// Probes per profile planned.
    pub count: u32,
    pub rate: f64,
    /// `--exchange`, when the probes went past the handshake.
    pub exchange: Option<String>,
    /// From the first probe sent to the last answer or timeout.
    pub elapsed_s: f64,
    pub profiles: Vec<ProfileResult>,
}

impl SurveyDoc {
    /// Read one survey document from its JSON text. The schema is checked
    /// before the layout, so any other JSON (a `probe --json`, a later
    /// schema) says which it is instead of which field it lacks. Pure: the
    /// caller (`synlab matrix`) reads the file and names it in errors.
    pub fn from_json(text: &str) -> Result<SurveyDoc, ReadError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(ReadError::Json)?;
        let found = value.get("schema").and_then(serde_json::Value::as_str);
        if found != Some(SCHEMA) {
            return Err(ReadError::Schema {
                found: found.unwrap_or("none").to_owned(),
            });
        }
        let doc: SurveyDoc = serde_json::from_value(value).map_err(ReadError::Layout)?;
        doc.validate()?;
        Ok(doc)
    }

    /// What a survey file may hold, beyond its layout (issue 22, items 4
    /// and 8): its names and target come back in commands synlab suggests
    /// and in tables on a terminal, and its counts decide pass or fail. A
    /// target that is not IP:PORT, a profile name a profile file could not
    /// have, a vantage with control characters, an `exchange` synlab would
    /// not accept, or outcomes that do not add up to `probes`, is refused.
    fn validate(&self) -> Result<(), ReadError> {
        if self.target.parse::<std::net::SocketAddr>().is_err() {
            return Err(ReadError::Target {
                found: self.target.clone(),
            });
        }
        if self.vantage.is_empty()
            || self.vantage.len() > MAX_VANTAGE
            || self
                .vantage
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ReadError::Vantage {
                found: self.vantage.clone(),
            });
        }
        if let Some(e) = &self.exchange {
            if e.parse::<crate::exchange::Request>().is_err() {
                return Err(ReadError::Exchange { found: e.clone() });
            }
        }
        for (index, p) in self.profiles.iter().enumerate() {
            p.validate(index)?;
        }
        Ok(())
    }
}

/// The longest vantage name read (`--vantage` is a host or site name).
const MAX_VANTAGE: usize = 255;

impl ProfileResult {
    /// The name is a profile name and the outcomes add up, without
    /// overflow, to `probes`.
    fn validate(&self, index: usize) -> Result<(), ReadError> {
        if !crate::profile::valid_name(&self.name) {
            return Err(ReadError::ProfileName {
                index,
                found: self.name.clone(),
            });
        }
        let sum: u64 = self
            .outcomes
            .slots()
            .iter()
            .map(|(_, n)| u64::from(*n))
            .sum();
        if sum != u64::from(self.probes) {
            return Err(ReadError::Counts {
                index,
                profile: self.name.clone(),
                sum,
                probes: self.probes,
            });
        }
        Ok(())
    }
}

/// Why a text is not a survey document.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not JSON")]
    Json(#[source] serde_json::Error),
    /// Another document (`none`: it has no `schema` string).
    #[error("schema {found:?}, expected {SCHEMA:?}")]
    Schema { found: String },
    #[error("not a survey document")]
    Layout(#[source] serde_json::Error),
    #[error("target: {found:?} is not IP:PORT")]
    Target { found: String },
    #[error(
        "vantage: {found:?} is empty, longer than 255 bytes, or holds spaces or control characters"
    )]
    Vantage { found: String },
    #[error("exchange: {found:?} is not a request synlab sends (http:/PATH or hex:BYTES)")]
    Exchange { found: String },
    #[error(
        "profiles[{index}].name: {found:?} is not a profile name (letters, digits, '-', '_', '.')"
    )]
    ProfileName { index: usize, found: String },
    #[error("profiles[{index}] ({profile}): outcomes add up to {sum}, but probes is {probes}")]
    Counts {
        index: usize,
        profile: String,
        sum: u64,
        probes: u32,
    },
}

/// `unix_secs` as RFC 3339 UTC (`2026-11-26T13:05:00Z`): the caller reads
/// the clock. Days to civil date by Howard Hinnant's algorithm.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_interleaved_round_robin() {
        assert_eq!(interleave(3, 2), [0, 1, 2, 0, 1, 2]);
        assert_eq!(interleave(1, 3), [0, 0, 0]);
        assert!(interleave(0, 5).is_empty());
        assert!(interleave(4, 0).is_empty());
    }

    #[test]
    fn the_tally_follows_the_plan() {
        let order = interleave(2, 3);
        let outcomes = [
            (0, Outcome::SynAck),
            (1, Outcome::NoReply),
            (2, Outcome::SynAck),
            (3, Outcome::NoReply),
            (4, Outcome::Reset),
            (
                5,
                Outcome::Icmp {
                    icmp_type: 3,
                    code: 13,
                },
            ),
        ];
        let counts = tally(2, &order, outcomes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((counts[0].syn_ack, counts[0].reset), (2, 1));
        assert_eq!((counts[1].no_reply, counts[1].icmp), (2, 1));
        assert_eq!(counts[0].status(), Some(Status::Partial));
        assert_eq!(counts[1].status(), Some(Status::Fail));
        assert_eq!(counts[1].dominant(), Some("no-reply"));
        assert_eq!(
            tally(2, &order, [(6, Outcome::SynAck)]),
            Err(UnknownProbe { index: 6 })
        );
    }

    #[test]
    fn pass_rates_and_intervals() {
        let mut c = Counts::default();
        assert_eq!(
            (c.pass_rate(), c.status(), c.dominant()),
            (None, None, None)
        );
        for _ in 0..3 {
            c.add(&Outcome::Complete);
        }
        assert_eq!(c.pass_rate(), Some(1.0));
        assert_eq!(c.status(), Some(Status::Pass));
        let (lo, hi) = c.interval();
        assert!(lo > 0.4 && lo < 0.5 && hi == 1.0, "{lo} {hi}");
        c.add(&Outcome::Stalled);
        c.add(&Outcome::Stalled);
        c.add(&Outcome::Stalled);
        // A tie goes to the failing outcome.
        assert_eq!(c.dominant(), Some("stalled"));
        let mut sum = c;
        sum.merge(&c);
        assert_eq!((sum.complete, sum.stalled, sum.probes()), (6, 6, 12));
    }

    /// Issue 21: a whole response with an error status is counted as
    /// `http-error` (any code), not as a pass; the key appears in the JSON
    /// only when some probe got it, so existing documents read the same.
    #[test]
    fn http_errors_are_counted_apart_and_do_not_pass() {
        let mut c = Counts::default();
        c.add(&Outcome::Complete);
        c.add(&Outcome::HttpError { status: 404 });
        c.add(&Outcome::HttpError { status: 503 });
        assert_eq!((c.http_error, c.passes(), c.probes()), (2, 1, 3));
        assert_eq!(c.dominant(), Some("http-error"));
        let text = serde_json::to_string(&c).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.ends_with(r#""complete":1,"http-error":2}"#), "{text}");
        let back: Counts = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn counts_round_trip_through_json() {
        let mut c = Counts::default();
        c.add(&Outcome::SynAck);
        c.add(&Outcome::ResetMidTransfer);
        let text = serde_json::to_string(&c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            text,
            r#"{"syn-ack":1,"reset":0,"icmp":0,"no-reply":0,"reset-mid-transfer":1}"#
        );
        let back: Counts = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Counts>(r#"{"syn_ack":1}"#).is_err());
    }

    #[test]
    fn a_survey_document_reads_back() {
        let doc = SurveyDoc {
            schema: SCHEMA.into(),
            vantage: "c1".into(),
            target: "198.18.0.1:80".into(),
            started: rfc3339(0),
            synlab_version: "0.1.0".into(),
            src: "198.18.0.2".into(),
            iface: "eth0".into(),
            count: 1,
            rate: 10.0,
            exchange: None,
            elapsed_s: 0.5,
            profiles: Vec::new(),
        };
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(SurveyDoc::from_json(&text).unwrap(), doc);
    }

    #[test]
    fn other_texts_say_what_they_are() {
        assert!(matches!(SurveyDoc::from_json("{"), Err(ReadError::Json(_))));
        let found = |text| match SurveyDoc::from_json(text) {
            Err(ReadError::Schema { found }) => found,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(found(r#"{"attempts": []}"#), "none");
        assert_eq!(found(r#"{"schema": 1}"#), "none");
        assert_eq!(found(r#"{"schema": "synlab.survey/2"}"#), "synlab.survey/2");
        let err = SurveyDoc::from_json(r#"{"schema": "synlab.survey/1"}"#).unwrap_err();
        assert!(matches!(err, ReadError::Layout(_)), "{err:?}");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_698_300), "2026-11-26T13:05:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
