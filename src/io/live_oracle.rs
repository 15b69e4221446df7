//! The live oracle for `bisect --target`: one live session for the whole
//! search (sockets, runtime, privileges, port block and RST rule opened
//! once), each batch of the search sent as one concurrent probe run, each
//! probe's outcome coming back in order.

use std::net::SocketAddr;

use super::live::{CapturedFrame, ExchangeOptions, LiveError, LiveOptions, LiveSession};
use crate::handshake::Outcome;
use crate::model::Attributes;
use crate::oracle::{Answer, BatchAnswers, Halted, Oracle, OracleError, ProbeRequest};
use crate::probe::RttEstimator;
use crate::trace::{Sender, Tally};

/// Probes a real endpoint.
pub struct LiveOracle {
    session: LiveSession,
    /// Each probe an exchange past the handshake (`bisect --exchange`).
    exchange: Option<ExchangeOptions>,
    /// The last batch's frames, when the session keeps them (`--pcap`).
    frames: Vec<CapturedFrame>,
    /// Who answered: the SYN-ACKs' and RSTs' senders, told apart.
    who: Tally,
}

impl LiveOracle {
    /// Checks the target and privileges and opens the session now, so
    /// that a search that cannot probe fails before its first batch.
    /// `budget`: the most probes the search will make.
    pub fn new(target: SocketAddr, opts: &LiveOptions, budget: usize) -> Result<Self, LiveError> {
        Ok(LiveOracle {
            session: LiveSession::open(target, opts, budget)?,
            exchange: None,
            frames: Vec::new(),
            who: Tally::default(),
        })
    }

    /// An oracle over a session already open (see
    /// [`LiveSession::over_sockets`]).
    pub fn from_session(session: LiveSession) -> Self {
        LiveOracle {
            session,
            exchange: None,
            frames: Vec::new(),
            who: Tally::default(),
        }
    }

    /// Answer with exchanges: each probe's outcome is how its exchange
    /// ended (the session must suppress RSTs).
    pub fn with_exchange(self, ex: ExchangeOptions) -> Self {
        LiveOracle {
            exchange: Some(ex),
            ..self
        }
    }

    /// The frames of the last batch (our SYNs, the answers, the kernel's
    /// RSTs, ICMP errors), when the session was opened with
    /// `keep_frames`; taken, so each batch's are handed over once.
    pub fn take_frames(&mut self) -> Vec<CapturedFrame> {
        std::mem::take(&mut self.frames)
    }

    /// The RSTs so far that a box on the path sent in the endpoint's name,
    /// with the evidence ([`Tally::evidence`]).
    pub fn injected(&self) -> Option<String> {
        self.who.evidence()
    }

    /// The RSTs so far that a box on the path sent in the endpoint's name,
    /// alike ones counted together, with each one's evidence.
    pub fn injected_answers(&self) -> Vec<crate::trace::Injected> {
        self.who.marked()
    }

    /// Routers between us and the endpoint, from the first SYN-ACK.
    pub fn endpoint_distance(&self) -> Option<u8> {
        self.who.endpoint_distance()
    }

    /// The round-trip estimate so far.
    pub fn rtt(&self) -> &RttEstimator {
        self.session.rtt()
    }

    /// The session itself, for more probes on it once the search is done
    /// (`bisect --locate` traces on it: a second session could not be
    /// opened, the process holds no capability by then).
    pub fn session_mut(&mut self) -> &mut LiveSession {
        &mut self.session
    }

    /// End the session, removing the RST rule (reporting a failure to).
    pub fn close(self) -> Result<(), LiveError> {
        self.session.close()
    }
}

impl Oracle for LiveOracle {
    fn probe_batch(&mut self, batch: &[ProbeRequest]) -> BatchAnswers {
        let specs: Vec<Attributes> = batch.iter().map(|r| r.spec.clone()).collect();
        let run = match &self.exchange {
            Some(ex) => self.session.run_exchanges(&specs, ex),
            None => self.session.run_batch(&specs),
        };
        match run {
            Ok(mut run) => {
                self.frames = std::mem::take(&mut run.frames);
                let missing = Err(OracleError::Failed {
                    reason: "no result for this probe".into(),
                });
                let mut outcomes = vec![missing; batch.len()];
                for r in run.results {
                    let sender = r.reply.as_ref().map(Sender::of);
                    match (r.outcome, sender) {
                        (Outcome::SynAck, Some(s)) => self.who.syn_ack(s),
                        (Outcome::Reset, Some(s)) => self.who.reset(s),
                        _ => {}
                    }
                    if let Some(slot) = outcomes.get_mut(r.index) {
                        *slot = Ok(Answer::new(r.outcome, r.src_port));
                    }
                }
                Ok(outcomes)
            }
            Err(e) if e.ends_session() => {
                // What the interrupted batch sent and heard stays for --pcap.
                self.frames = self.session.take_unfinished_frames();
                Err(Halted { cause: Box::new(e) })
            }
            Err(e) => {
                // A send error and the like: the search retries these
                // probes a few times, then calls the variant unresolved.
                let reason = e.to_string();
                tracing::warn!("live batch failed: {reason}");
                Ok(batch
                    .iter()
                    .map(|_| {
                        Err(OracleError::Failed {
                            reason: reason.clone(),
                        })
                    })
                    .collect())
            }
        }
    }
}
