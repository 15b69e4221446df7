//! `bisect --infer`: after the culprits are named, the predicate over them
//! (`search::infer`), run against the search's own oracle, and its lines
//! in the text output.

use std::io::{self, Write};

use anyhow::Result;

use super::messages::message;
use super::output::Style;
use crate::oracle::Oracle;
use crate::search::infer::{self, Infer, InferError, InferOptions, Inferred, ValuePool};
use crate::search::{Parity, Search};

/// What `--infer` asks: whether to infer, the agreement check's size, and
/// the seed of its draws.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub enabled: bool,
    pub check: u32,
    pub seed: u64,
}

/// The inference after a finished search, when `--infer` asks for it:
/// `None` without `--infer`, or (with a message) when the search named no
/// culprits. An oracle that halts ends the command, as during the search.
pub fn run<O: Oracle + ?Sized>(
    Options {
        enabled,
        check,
        seed,
    }: Options,
    search: &Search,
    oracle: &mut O,
    observe: &mut infer::Observer<'_, O>,
) -> Result<Option<Inferred>> {
    if !enabled {
        return Ok(None);
    }
    let opts = InferOptions {
        check,
        seed,
        ..InferOptions::default()
    };
    let mut machine = match Infer::new(search, ValuePool::builtin(), opts) {
        Ok(m) => m,
        Err(e @ InferError::NoCulprits { .. }) => {
            message!("--infer: nothing to infer: {e}");
            return Ok(None);
        }
    };
    let inferred = infer::run_observed(&mut machine, oracle, observe).map_err(|h| {
        anyhow::Error::new(h).context(format!(
            "--infer stopped after {} probes, without a rule",
            machine.probes()
        ))
    })?;
    Ok(Some(inferred))
}

/// The inferred rule, each clause with its evidence, and the agreement.
pub fn text(inf: &Inferred, style: Style, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    let ports = match inf.ports {
        Some(Parity::Even) => " (on even source ports only: --rule-ports even)",
        Some(Parity::Odd) => " (on odd source ports only: --rule-ports odd)",
        None => "",
    };
    match &inf.rule {
        Some(rule) => writeln!(out, "{} {rule}{ports}", style.bold("inferred rule:"))?,
        None => writeln!(
            out,
            "{} none: a clause rests on values the oracle could not say",
            style.bold("inferred rule:")
        )?,
    }
    for c in &inf.clauses {
        let bounds: Vec<String> = c
            .evidence
            .boundaries
            .iter()
            .map(|b| format!("{} passes, {} fails", b.pass, b.fail))
            .collect();
        let mut line = format!("  {:<40} {:<11} {} probes", c.text, c.status, c.probes);
        if !bounds.is_empty() {
            line.push_str(&format!("; {}", bounds.join("; ")));
        }
        if !c.evidence.unknown.is_empty() {
            let vs: Vec<String> = c.evidence.unknown.iter().map(u64::to_string).collect();
            line.push_str(&format!("; unknown at {}", vs.join(", ")));
        }
        if c.shared {
            line.push_str(" (shared by both sides)");
        }
        writeln!(out, "{line}")?;
    }
    let a = inf.agreement;
    writeln!(
        out,
        "  {} probes; agreement with the oracle: {}/{} random variants ({} probes)",
        inf.probes, a.agreed, a.checked, a.probes
    )?;
    if let Some(note) = &inf.note {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}
