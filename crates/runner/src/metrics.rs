//! Counters, gauges and the step latency histogram, rendered in the
//! Prometheus text format; plain atomics, so recording costs no lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::execute::Outcome;

/// Upper bounds (seconds) of the step latency histogram's buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The runner's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    runs: [AtomicU64; 4],
    rejected: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    step_count: AtomicU64,
    step_sum_micros: AtomicU64,
    egress_denied: AtomicU64,
}

impl Metrics {
    /// Counts a finished run.
    pub fn run_finished(&self, outcome: Outcome) {
        self.runs[outcome as usize].fetch_add(1, Relaxed);
    }

    /// Counts a run refused because the queue was full or the runner draining.
    pub fn run_rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// Counts a request refused by the egress allowlist.
    pub fn egress_denied(&self) {
        self.egress_denied.fetch_add(1, Relaxed);
    }

    /// Records one step's latency.
    pub fn observe_step(&self, took: Duration) {
        let mut batch = StepBatch::default();
        batch.observe(took);
        self.add_steps(&mut batch);
    }

    /// Adds the latencies in `batch` and empties it.
    pub fn add_steps(&self, batch: &mut StepBatch) {
        if batch.count == 0 {
            return;
        }
        // Buckets are stored non-cumulatively and summed when rendered.
        for (shared, n) in self.buckets.iter().zip(&batch.buckets) {
            if *n > 0 {
                shared.fetch_add(*n, Relaxed);
            }
        }
        self.step_count.fetch_add(batch.count, Relaxed);
        self.step_sum_micros.fetch_add(batch.sum_micros, Relaxed);
        *batch = StepBatch::default();
    }

    /// The Prometheus exposition, with the gauges passed in.
    pub fn render(&self, in_flight: usize, queued: usize, snapshot_sets: usize, corrupt_sets: usize) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP testmesh_runner_runs_total Finished runs by outcome.\n# TYPE testmesh_runner_runs_total counter\n",
        );
        for o in Outcome::ALL {
            let _ = writeln!(
                out,
                "testmesh_runner_runs_total{{outcome=\"{}\"}} {}",
                o.as_str(),
                self.runs[o as usize].load(Relaxed)
            );
        }
        let _ = writeln!(out, "testmesh_runner_runs_total{{outcome=\"rejected\"}} {}", self.rejected.load(Relaxed));
        out.push_str("# HELP testmesh_runner_step_duration_seconds Latency of flow steps (request through body).\n# TYPE testmesh_runner_step_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "testmesh_runner_step_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.step_count.load(Relaxed);
        let _ = writeln!(out, "testmesh_runner_step_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "testmesh_runner_step_duration_seconds_sum {}",
            self.step_sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "testmesh_runner_step_duration_seconds_count {count}");
        let gauges = [
            ("testmesh_runner_runs_in_flight", "Runs executing now.", in_flight),
            ("testmesh_runner_runs_queued", "Runs waiting for a worker.", queued),
            ("testmesh_runner_snapshot_sets", "Verified golden snapshot sets on disk.", snapshot_sets),
            ("testmesh_runner_snapshot_sets_corrupt", "Snapshot files that failed verification.", corrupt_sets),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP testmesh_runner_egress_denied_total Outbound requests refused by ALLOWED_NETWORKS.\n# TYPE testmesh_runner_egress_denied_total counter\ntestmesh_runner_egress_denied_total {}",
            self.egress_denied.load(Relaxed)
        );
        out
    }
}

/// Step latencies counted by one run before they are added to [`Metrics`].
///
/// Every step adding to the shared counters itself makes the worker threads
/// pass those cache lines back and forth; a run counts locally and adds
/// its counts now and then (see [`crate::execute`]).
#[derive(Debug, Default, Clone)]
pub struct StepBatch {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_micros: u64,
}

impl StepBatch {
    /// Counts one step's latency.
    pub fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum_micros += took.as_micros() as u64;
    }

    /// Steps counted since the batch was last added.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no step was counted since the batch was last added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe_step(Duration::from_micros(500));
        m.observe_step(Duration::from_millis(20));
        m.observe_step(Duration::from_secs(60));
        m.run_finished(Outcome::Passed);
        let mut batch = StepBatch::default();
        batch.observe(Duration::from_millis(3));
        batch.observe(Duration::from_millis(4));
        m.add_steps(&mut batch);
        assert!(batch.is_empty());
        let text = m.render(1, 0, 2, 0);
        assert!(text.contains("testmesh_runner_step_duration_seconds_bucket{le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("testmesh_runner_step_duration_seconds_bucket{le=\"0.005\"} 3\n"), "{text}");
        assert!(text.contains("testmesh_runner_step_duration_seconds_bucket{le=\"0.025\"} 4\n"), "{text}");
        assert!(text.contains("testmesh_runner_step_duration_seconds_bucket{le=\"+Inf\"} 5\n"), "{text}");
        assert!(text.contains("testmesh_runner_step_duration_seconds_count 5\n"), "{text}");
        assert!(text.contains("testmesh_runner_runs_total{outcome=\"passed\"} 1\n"), "{text}");
        assert!(text.contains("testmesh_runner_runs_in_flight 1\n"), "{text}");
        assert!(text.contains("testmesh_runner_snapshot_sets 2\n"), "{text}");
    }
}
