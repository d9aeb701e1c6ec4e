//! [`Outcome`]: what a scenario saw, whether it held, and its report.

use serde::Serialize;

use super::Takeover;
use crate::sampler::{Sampler, SamplerReport};

/// What a scenario saw.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Scenario number and name.
    pub scenario: String,
    /// The outcome the design expects.
    pub expected: String,
    /// Did it hold (including: the sampler saw no violation, unless the scenario measures one)?
    pub held: bool,
    /// Observations, in order.
    pub observed: Vec<String>,
    /// Fault → b writable / VIP answering on b, when the scenario fails over.
    pub takeover: Option<Takeover>,
    /// The invariant sampler's report.
    pub sampler: SamplerReport,
}

impl Outcome {
    pub(super) fn new(scenario: &str, expected: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            expected: expected.to_owned(),
            held: true,
            observed: Vec::new(),
            takeover: None,
            sampler: SamplerReport::default(),
        }
    }

    /// Records an observation and whether it was what the scenario expects.
    pub(super) fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        self.observed
            .push(format!("{} {what}", if ok { "ok:  " } else { "FAIL:" }));
        self.held &= ok;
    }

    pub(super) fn note(&mut self, what: impl Into<String>) {
        self.observed.push(format!("      {}", what.into()));
    }

    /// Closes the outcome with the sampler's report; `allow_violation` for the scenario that
    /// measures one (12b).
    pub(super) fn finish(mut self, sampler: Sampler, allow_violation: bool) -> Self {
        let report = sampler.stop();
        if !allow_violation {
            self.check(
                report.clean(),
                format!(
                    "invariants: {} samples, two primaries in {}, VIP on both in {}",
                    report.ticks, report.two_primary_samples, report.vip_both_samples
                ),
            );
        }
        self.sampler = report;
        self
    }

    /// A human-readable report.
    pub fn text(&self) -> String {
        let mut s = format!(
            "scenario {}: {}\nexpected: {}\n",
            self.scenario,
            if self.held { "HELD" } else { "DID NOT HOLD" },
            self.expected
        );
        for o in &self.observed {
            s.push_str(&format!("  {o}\n"));
        }
        if let Some(t) = &self.takeover {
            s.push_str(&format!("  takeover: {}\n", t.text()));
        }
        s.push_str("  timeline:\n");
        for line in self.sampler.timeline_text().lines() {
            s.push_str(&format!("    {line}\n"));
        }
        s
    }
}
