//! What a checker's writer did, and what can be read from it: the verdict against the rows
//! a node holds, and the timings a scenario or a benchmark reports.

use std::collections::HashSet;
use std::fmt;
use std::ops::RangeBounds;
use std::time::{Duration, Instant};

use super::Class;

/// One commit attempt: its key, what it proves, and when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The key it inserted (unique across the run).
    pub key: i64,
    /// What its reply proves about its commit.
    pub class: Class,
    /// When the INSERT was sent; for an attempt that could not connect, when it began to.
    pub started: Instant,
    /// When the reply came, or when the attempt was given up.
    pub ended: Instant,
    /// Why it is not acknowledged (the error, the timeout), then any notices the server
    /// sent with it; empty for a plain acknowledgement.
    pub detail: String,
}

impl Attempt {
    /// How long the attempt took.
    pub fn latency(&self) -> Duration {
        self.ended.saturating_duration_since(self.started)
    }
}

/// Every attempt of one run, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    attempts: Vec<Attempt>,
}

impl History {
    /// A history of these attempts.
    pub fn new(attempts: Vec<Attempt>) -> Self {
        Self { attempts }
    }

    /// Every attempt, in the order they were made.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The attempts in `class`.
    pub fn of_class(&self, class: Class) -> impl Iterator<Item = &Attempt> + '_ {
        self.attempts.iter().filter(move |a| a.class == class)
    }

    /// The acknowledged attempts.
    pub fn acknowledged(&self) -> impl Iterator<Item = &Attempt> + '_ {
        self.of_class(Class::Acknowledged)
    }

    /// The attempts whose outcome is unknown.
    pub fn in_doubt(&self) -> impl Iterator<Item = &Attempt> + '_ {
        self.of_class(Class::InDoubt)
    }

    /// The longest time between two successive acknowledgements (zero with fewer than two):
    /// what an outage cost a client that kept committing.
    pub fn longest_ack_gap(&self) -> Duration {
        let mut acks: Vec<Instant> = self.acknowledged().map(|a| a.ended).collect();
        acks.sort_unstable();
        acks.windows(2)
            .map(|w| w[1].saturating_duration_since(w[0]))
            .max()
            .unwrap_or_default()
    }

    /// The time from `since` (a fault, a command) until the acknowledgement of the first
    /// commit sent at or after it; `None` if there was none. Commits already in flight at
    /// `since` are left out: their acknowledgement says nothing about service after it.
    pub fn first_ack_after(&self, since: Instant) -> Option<Duration> {
        self.acknowledged()
            .filter(|a| a.started >= since)
            .map(|a| a.ended.saturating_duration_since(since))
            .min()
    }

    /// The `quantile` (0.5 the median, 0.99 the 99th percentile; nearest rank) of the
    /// latencies of the acknowledged commits sent in `sent`; `None` if there were none.
    /// In-doubt and failed attempts are left out: their time is a timeout's or a refusal's,
    /// not a commit's.
    pub fn latency(&self, quantile: f64, sent: impl RangeBounds<Instant>) -> Option<Duration> {
        let mut latencies: Vec<Duration> = self
            .acknowledged()
            .filter(|a| sent.contains(&a.started))
            .map(Attempt::latency)
            .collect();
        latencies.sort_unstable();
        let rank = nearest_rank(quantile, latencies.len());
        latencies.get(rank.checked_sub(1)?).copied()
    }

    /// Compares the history with the keys `present` in the table on the node that is
    /// primary now.
    pub fn check(&self, present: &HashSet<i64>) -> Verdict {
        let mut verdict = Verdict::default();
        for attempt in &self.attempts {
            let there = present.contains(&attempt.key);
            match attempt.class {
                Class::Acknowledged => {
                    verdict.acknowledged += 1;
                    if !there {
                        verdict.lost.push(attempt.key);
                    }
                }
                Class::InDoubt => {
                    verdict.in_doubt += 1;
                    verdict.in_doubt_present += usize::from(there);
                }
                Class::Failed => {
                    verdict.failed += 1;
                    if there {
                        verdict.failed_present.push(attempt.key);
                    }
                }
            }
        }
        verdict
    }
}

/// The 1-based nearest rank of `quantile` among `len` sorted values (`ceil(quantile ·
/// len)`, at least 1); 0 when there are none.
fn nearest_rank(quantile: f64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let rank = (quantile.clamp(0.0, 1.0) * len as f64).ceil();
    #[allow(clippy::cast_possible_truncation)] // a whole number in 0..=len
    let rank = rank as usize;
    rank.clamp(1, len)
}

/// A history held against the keys a node holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// How many commits were acknowledged.
    pub acknowledged: usize,
    /// The acknowledged keys that are missing: what the failover lost.
    pub lost: Vec<i64>,
    /// How many attempts are in doubt.
    pub in_doubt: usize,
    /// How many of those are present (committed after all).
    pub in_doubt_present: usize,
    /// How many attempts certainly failed.
    pub failed: usize,
    /// Failed keys that are present anyway: a bug of the checker's classification or an
    /// anomaly of the server's, never a fault of the failover.
    pub failed_present: Vec<i64>,
}

impl Verdict {
    /// Whether every acknowledged commit is present and no failed one is.
    pub fn holds(&self) -> bool {
        self.lost.is_empty() && self.failed_present.is_empty()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} acknowledged, {} lost, {} in doubt ({} present), {} failed",
            self.acknowledged,
            self.lost.len(),
            self.in_doubt,
            self.in_doubt_present,
            self.failed
        )?;
        if !self.lost.is_empty() {
            write!(f, "; lost: {}", some_keys(&self.lost))?;
        }
        if !self.failed_present.is_empty() {
            write!(
                f,
                "; ANOMALY (checker or server): {} failed yet present: {}",
                self.failed_present.len(),
                some_keys(&self.failed_present)
            )?;
        }
        Ok(())
    }
}

/// The first few of `keys`, for a report line.
fn some_keys(keys: &[i64]) -> String {
    const SHOWN: usize = 10;
    let shown: Vec<String> = keys.iter().take(SHOWN).map(i64::to_string).collect();
    let more = if keys.len() > SHOWN { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::{Acknowledged as Ack, Failed, InDoubt as Doubt};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A history of `(key, class, started ms, ended ms)` from one origin.
    fn history(t0: Instant, attempts: &[(i64, Class, u64, u64)]) -> History {
        History::new(
            attempts
                .iter()
                .map(|&(key, class, started, ended)| Attempt {
                    key,
                    class,
                    started: t0 + ms(started),
                    ended: t0 + ms(ended),
                    detail: String::new(),
                })
                .collect(),
        )
    }

    #[test]
    fn longest_ack_gap_spans_in_doubt_and_failed_attempts() {
        let t0 = Instant::now();
        let h = history(
            t0,
            &[
                (0, Ack, 0, 5),
                (1, Ack, 10, 15),
                (2, Doubt, 20, 2020),
                (3, Failed, 2020, 2520),
                (4, Ack, 2530, 2540),
                (5, Ack, 2550, 2555),
            ],
        );
        assert_eq!(h.longest_ack_gap(), ms(2525));
    }

    #[test]
    fn longest_ack_gap_is_zero_below_two_acks() {
        let t0 = Instant::now();
        assert_eq!(History::default().longest_ack_gap(), Duration::ZERO);
        assert_eq!(
            history(t0, &[(0, Ack, 0, 5), (1, Doubt, 10, 20)]).longest_ack_gap(),
            Duration::ZERO
        );
    }

    #[test]
    fn first_ack_after_skips_commits_in_flight_and_unacknowledged_ones() {
        let t0 = Instant::now();
        let h = history(
            t0,
            &[
                (0, Ack, 0, 5),
                (1, Ack, 90, 130), // in flight at 100
                (2, Failed, 140, 150),
                (3, Doubt, 160, 170),
                (4, Ack, 180, 190),
                (5, Ack, 200, 205),
            ],
        );
        assert_eq!(h.first_ack_after(t0 + ms(100)), Some(ms(90)));
        assert_eq!(h.first_ack_after(t0 + ms(201)), None);
    }

    #[test]
    fn latency_is_the_nearest_rank_of_acknowledged_commits_in_range() {
        let t0 = Instant::now();
        // Latencies 1..=100 ms, sent at 1000 ms apart; one slow in-doubt attempt among them.
        let mut attempts: Vec<(i64, Class, u64, u64)> = (1..=100u64)
            .map(|n| (i64::try_from(n).unwrap(), Ack, n * 1000, n * 1000 + n))
            .collect();
        attempts.push((101, Doubt, 50_500, 52_500));
        let h = history(t0, &attempts);
        assert_eq!(h.latency(0.5, ..), Some(ms(50)));
        assert_eq!(h.latency(0.99, ..), Some(ms(99)));
        assert_eq!(h.latency(1.0, ..), Some(ms(100)));
        assert_eq!(h.latency(0.0, ..), Some(ms(1)));
        // Sent from 91 s on: latencies 91..=100 ms.
        assert_eq!(h.latency(0.5, t0 + ms(91_000)..), Some(ms(95)));
        assert_eq!(h.latency(0.5, ..t0 + ms(1_000)), None);
    }

    #[test]
    fn nearest_rank_stays_within_the_values() {
        assert_eq!(nearest_rank(0.5, 0), 0);
        assert_eq!(nearest_rank(0.0, 3), 1);
        assert_eq!(nearest_rank(0.5, 3), 2);
        assert_eq!(nearest_rank(2.0, 3), 3);
        assert_eq!(nearest_rank(-1.0, 3), 1);
        assert_eq!(nearest_rank(f64::NAN, 3), 1);
    }

    #[test]
    fn check_counts_lost_in_doubt_and_anomalies() {
        let t0 = Instant::now();
        let h = history(
            t0,
            &[
                (0, Ack, 0, 1),
                (1, Ack, 1, 2),
                (2, Ack, 2, 3),
                (3, Doubt, 3, 4),
                (4, Doubt, 4, 5),
                (5, Doubt, 5, 6),
                (6, Failed, 6, 7),
                (7, Failed, 7, 8),
            ],
        );
        let present: HashSet<i64> = [0, 2, 3, 5, 7].into();
        let verdict = h.check(&present);
        assert_eq!(
            verdict,
            Verdict {
                acknowledged: 3,
                lost: vec![1],
                in_doubt: 3,
                in_doubt_present: 2,
                failed: 2,
                failed_present: vec![7],
            }
        );
        assert!(!verdict.holds());
        assert_eq!(
            verdict.to_string(),
            "3 acknowledged, 1 lost, 3 in doubt (2 present), 2 failed; lost: [1]; \
             ANOMALY (checker or server): 1 failed yet present: [7]"
        );
    }

    #[test]
    fn check_holds_when_every_ack_is_present_whatever_the_in_doubt_ones_did() {
        let t0 = Instant::now();
        let h = history(t0, &[(0, Ack, 0, 1), (1, Doubt, 1, 2), (2, Failed, 2, 3)]);
        let verdict = h.check(&[0].into());
        assert!(verdict.holds());
        assert_eq!(
            verdict.to_string(),
            "1 acknowledged, 0 lost, 1 in doubt (0 present), 1 failed"
        );
        assert!(h.check(&[0, 1].into()).holds());
    }

    #[test]
    fn some_keys_shows_the_first_ten() {
        let keys: Vec<i64> = (0..12).collect();
        assert_eq!(some_keys(&keys), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …]");
        assert_eq!(some_keys(&[4]), "[4]");
    }
}
