//! What `gearmanctl bench` reports: rates, latency percentiles, CPU per job.

use std::time::Duration;

/// The figures of one run.
#[derive(Debug)]
pub(crate) struct Summary {
    jobs: usize,
    bad: usize,
    elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    cpu: Option<f64>,
}

/// This process's CPU time (user + system) in seconds, from `/proc/self/stat`.
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks_per_second())
}

/// The kernel's clock tick (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl Summary {
    pub(crate) fn new(
        jobs: usize,
        bad: usize,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
        cpu: Option<f64>,
    ) -> Self {
        latencies.sort_unstable();
        Self {
            jobs,
            bad,
            elapsed,
            latencies,
            cpu,
        }
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)].as_secs_f64() * 1e3
    }

    fn rate(&self) -> f64 {
        self.jobs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn cpu_us_per_job(&self) -> Option<f64> {
        self.cpu.map(|c| c * 1e6 / self.jobs.max(1) as f64)
    }

    /// One line for people.
    pub(crate) fn text(&self, mode: &str, size: usize) -> String {
        let cpu = self
            .cpu_us_per_job()
            .map_or_else(String::new, |c| format!("; client CPU {c:.1} us/job"));
        format!(
            "{mode}: {} jobs of {size} B in {:.3} s: {:.0} jobs/s; latency p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms{cpu}; {} failed",
            self.jobs,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.quantile_ms(1.0),
            self.bad
        )
    }

    /// One JSON line, with the C peer's keys.
    pub(crate) fn json(&self, mode: &str, size: usize) -> String {
        serde_json::json!({
            "mode": mode,
            "jobs": self.jobs,
            "size": size,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "jobs_per_s": self.rate(),
            "p50_ms": self.quantile_ms(0.5),
            "p99_ms": self.quantile_ms(0.99),
            "p999_ms": self.quantile_ms(0.999),
            "max_ms": self.quantile_ms(1.0),
            "cpu_us_per_job": self.cpu_us_per_job(),
            "done": self.jobs - self.bad,
            "bad": self.bad,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_rate() {
        let lat: Vec<Duration> = (1..=1000).rev().map(Duration::from_millis).collect();
        let s = Summary::new(1000, 2, Duration::from_secs(2), lat, Some(0.5));
        assert_eq!(s.quantile_ms(0.5).round(), 501.0);
        assert_eq!(s.quantile_ms(0.99).round(), 990.0);
        assert_eq!(s.quantile_ms(1.0), 1000.0);
        assert_eq!(s.rate(), 500.0);
        assert_eq!(s.cpu_us_per_job(), Some(500.0));
        let v: serde_json::Value = serde_json::from_str(&s.json("pipe", 100)).unwrap();
        assert_eq!(v["done"], 998);
        assert_eq!(v["jobs_per_s"], 500.0);
    }

    #[test]
    fn cpu_time_is_read() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(cpu_seconds().is_some_and(|c| c > 0.0));
    }
}
