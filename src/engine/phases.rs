//! Wall-clock time of each phase of one pass (reload, snapshot, each inspector query, plan, claim
//! probe, ...), for the debug log: the latency from a uevent to a `delete` write is the sum of
//! these, and which one dominates is what decides what to make incremental next. Measuring only;
//! nothing here changes what a pass does.

use std::fmt;
use std::time::{Duration, Instant};

/// Phases in the order they ran, each with its duration.
#[derive(Debug, Clone)]
pub struct Phases {
    last: Instant,
    marks: Vec<(&'static str, Duration)>,
}

impl Phases {
    /// Starts timing the first phase now.
    pub fn start() -> Self {
        Self::start_at(Instant::now())
    }

    fn start_at(now: Instant) -> Self {
        Self {
            last: now,
            marks: Vec::new(),
        }
    }

    /// Ends the current phase, naming it; the next one starts now.
    pub fn mark(&mut self, name: &'static str) {
        self.mark_at(name, Instant::now());
    }

    fn mark_at(&mut self, name: &'static str, now: Instant) {
        self.marks
            .push((name, now.saturating_duration_since(self.last)));
        self.last = now;
    }

    /// The phases ended so far, in order.
    pub fn marks(&self) -> &[(&'static str, Duration)] {
        &self.marks
    }

    /// The sum of the phases ended so far.
    pub fn total(&self) -> Duration {
        self.marks.iter().map(|(_, d)| *d).sum()
    }
}

/// `load=0.4ms snapshot=31.2ms ...`: one `key=value` field a phase, milliseconds with 0.1 ms.
impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, d)) in self.marks.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={:.1}ms", d.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_is_the_time_since_the_previous_mark_and_they_sum_to_the_total() {
        let t0 = Instant::now();
        let mut p = Phases::start_at(t0);
        p.mark_at("load", t0 + Duration::from_micros(400));
        p.mark_at("snapshot", t0 + Duration::from_millis(31));
        p.mark_at("plan", t0 + Duration::from_millis(31));
        let names: Vec<_> = p.marks().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["load", "snapshot", "plan"]);
        assert_eq!(p.marks()[1].1, Duration::from_micros(30_600));
        assert_eq!(p.total(), Duration::from_millis(31));
        assert_eq!(p.to_string(), "load=0.4ms snapshot=30.6ms plan=0.0ms");
    }
}
