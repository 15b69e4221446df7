//! The live oracle for `bisect --target`: each batch of the search goes out
//! as one concurrent probe run (distinct source ports, rate-bounded), and
//! each probe's outcome comes back in order.

use std::net::SocketAddr;

use super::live::{self, LiveError, LiveOptions};
use super::privilege::Reopen;
use crate::handshake::Outcome;
use crate::model::Attributes;
use crate::oracle::{Oracle, OracleError, ProbeRequest};

/// Probes a real endpoint.
pub struct LiveOracle {
    target: SocketAddr,
    opts: LiveOptions,
}

impl LiveOracle {
    /// Checks the target and privileges now, so that a search that cannot
    /// probe fails before its first batch.
    pub fn new(target: SocketAddr, mut opts: LiveOptions) -> Result<Self, LiveError> {
        live::preflight(target, &opts)?;
        // Each batch opens its own sockets, so CAP_NET_RAW stays permitted
        // (never effective) between batches.
        opts.reopen = Reopen::PerBatch;
        Ok(LiveOracle { target, opts })
    }
}

impl Oracle for LiveOracle {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> Vec<Result<Outcome, OracleError>> {
        let specs: Vec<Attributes> = batch.iter().map(|r| r.spec.clone()).collect();
        match live::run_batch(&specs, self.target, &self.opts) {
            Ok(results) => {
                let missing = Err(OracleError::Failed {
                    reason: "no result for this probe".into(),
                });
                let mut outcomes = vec![missing; batch.len()];
                for r in results {
                    if let Some(slot) = outcomes.get_mut(r.index) {
                        *slot = Ok(r.outcome);
                    }
                }
                outcomes
            }
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::warn!("live batch failed: {reason}");
                batch
                    .iter()
                    .map(|_| {
                        Err(OracleError::Failed {
                            reason: reason.clone(),
                        })
                    })
                    .collect()
            }
        }
    }
}
