//! Sweep files from many vantages as one table: vantage x target group x
//! profile (`synlab matrix` over `sweep --json` documents or `--jsonl`
//! rows). A target group is a /24 (/64 for IPv6), the unit a fleet's
//! middleboxes are usually configured in and the one `--bisect-broken`
//! groups by; each cell counts the group's targets and those where the
//! profile passed.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::decide::Condition;

/// Why a text is not sweep rows.
#[derive(Debug, thiserror::Error)]
pub enum SweepReadError {
    #[error("line {line}: not a sweep row")]
    Row {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("not a sweep document (`rows` is not a list of sweep rows)")]
    Doc(#[source] serde_json::Error),
    #[error("line {line}: target {found:?} is not an IP address")]
    Target { line: usize, found: String },
}

/// One profile's part of a row (only `pass` is read).
#[derive(Debug, Deserialize)]
struct ProfileCell {
    pass: bool,
}

/// The part of a sweep row the matrix reads.
#[derive(Debug, Deserialize)]
struct Row {
    target: String,
    condition: Condition,
    profiles: BTreeMap<String, ProfileCell>,
}

#[derive(Debug, Deserialize)]
struct Doc {
    rows: Vec<Row>,
}

/// Whether `text` looks like a sweep file rather than a survey document:
/// a `{"rows": [...]}` document, or JSON lines whose first has `target`
/// and `condition`.
pub fn is_sweep(text: &str) -> bool {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let looks = |v: &serde_json::Value| {
        v.get("rows").is_some_and(serde_json::Value::is_array)
            || (v.get("target").is_some() && v.get("condition").is_some())
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => looks(&v),
        Err(_) => serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| looks(&v)),
    }
}

/// A target's group: its /24 (/64) as `198.19.1.0/24`.
pub fn group_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{}/24", IpAddr::V4((u32::from(v4) & 0xffff_ff00).into())),
        IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", IpAddr::V6(net.into()))
        }
    }
}

/// One cell: a group's targets, and those where the profile passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupCell {
    pub targets: u64,
    pub passing: u64,
}

/// A group seen from one vantage: its targets per condition and, per
/// profile, its cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupRow {
    pub conditions: BTreeMap<Condition, u64>,
    /// By profile index (into [`SweepMatrix::profiles`]).
    pub cells: BTreeMap<usize, GroupCell>,
}

/// The table, merged from every vantage's file.
#[derive(Clone, Debug, Default)]
pub struct SweepMatrix {
    pub vantages: Vec<String>,
    pub profiles: Vec<String>,
    /// (vantage index, group) -> its row; groups in address order as text
    /// (`198.19.10.0/24` after `198.19.1.0/24`).
    pub rows: BTreeMap<(usize, String), GroupRow>,
}

impl SweepMatrix {
    /// Add one vantage's sweep file (a JSON document or JSON lines).
    pub fn add(&mut self, vantage: &str, text: &str) -> Result<(), SweepReadError> {
        let rows = parse(text)?;
        let v = self.vantages.len();
        self.vantages.push(vantage.to_owned());
        for (line, row) in rows {
            let ip: IpAddr = row.target.parse().map_err(|_| SweepReadError::Target {
                line,
                found: row.target.clone(),
            })?;
            let g = self.rows.entry((v, group_of(ip))).or_default();
            *g.conditions.entry(row.condition).or_default() += 1;
            for (name, cell) in &row.profiles {
                let p = match self.profiles.iter().position(|n| n == name) {
                    Some(p) => p,
                    None => {
                        self.profiles.push(name.clone());
                        self.profiles.len() - 1
                    }
                };
                let c = g.cells.entry(p).or_default();
                c.targets += 1;
                c.passing += u64::from(cell.pass);
            }
        }
        Ok(())
    }

    /// Whether some target of some vantage is broken.
    pub fn has_broken(&self) -> bool {
        self.rows
            .values()
            .any(|r| r.conditions.contains_key(&Condition::Broken))
    }
}

/// Rows with their line numbers (the document's: their index from 1).
fn parse(text: &str) -> Result<Vec<(usize, Row)>, SweepReadError> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        if v.get("rows").is_some() {
            let doc: Doc = serde_json::from_value(v).map_err(SweepReadError::Doc)?;
            return Ok((1..).zip(doc.rows).collect());
        }
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|r| (i + 1, r))
                .map_err(|source| SweepReadError::Row {
                    line: i + 1,
                    source,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW_A: &str = r#"{"target":"198.19.1.7","port":80,"condition":"broken","failing":["w"],"profiles":{"l":{"pass":true,"probes":9,"outcomes":{}},"w":{"pass":false,"probes":9,"outcomes":{}}},"culprits":[]}"#;
    const ROW_B: &str = r#"{"target":"198.19.0.3","port":80,"condition":"works","failing":[],"profiles":{"l":{"pass":true,"probes":3,"outcomes":{}},"w":{"pass":true,"probes":3,"outcomes":{}}},"culprits":[]}"#;

    #[test]
    fn jsonl_and_documents_make_the_same_cells() {
        let jsonl = format!("{ROW_A}\n{ROW_B}\n");
        let doc = format!("{{\"rows\": [{ROW_A}, {ROW_B}], \"summary\": {{}}}}");
        assert!(is_sweep(&jsonl) && is_sweep(&doc));
        assert!(!is_sweep(r#"{"schema":"synlab.survey/1"}"#));
        let mut m = SweepMatrix::default();
        m.add("a", &jsonl).unwrap_or_else(|e| panic!("{e}"));
        m.add("b", &doc).unwrap_or_else(|e| panic!("{e}"));
        for v in 0..2 {
            let broken = &m.rows[&(v, "198.19.1.0/24".to_owned())];
            let cell = |p| broken.cells[&p];
            assert_eq!(
                cell(0),
                GroupCell {
                    targets: 1,
                    passing: 1
                }
            );
            assert_eq!(
                cell(1),
                GroupCell {
                    targets: 1,
                    passing: 0
                }
            );
            assert_eq!(broken.conditions.get(&Condition::Broken), Some(&1));
        }
        assert_eq!(m.profiles, vec!["l".to_owned(), "w".to_owned()]);
        assert!(m.has_broken());
    }

    #[test]
    fn a_bad_line_is_named() {
        let mut m = SweepMatrix::default();
        let e = m.add("a", &format!("{ROW_A}\n{{\"target\": 1}}\n"));
        assert!(
            matches!(e, Err(SweepReadError::Row { line: 2, .. })),
            "{e:?}"
        );
    }
}
