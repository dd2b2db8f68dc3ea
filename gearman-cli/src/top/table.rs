//! What `gearmanctl top` shows, apart from the terminal: rows from admin `status`, rates from
//! the difference between two polls, sorting.

use std::collections::HashMap;
use std::time::Instant;

use clap::ValueEnum;
use gearman_proto::admin::StatusRow;

/// The column rows are sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SortKey {
    /// Jobs queued (waiting for a worker).
    Queued,
    /// Jobs running.
    Running,
    /// Workers registered.
    Workers,
    /// How fast the queue grows or shrinks.
    Rate,
    /// The function's name.
    Name,
}

impl SortKey {
    /// The next key, for the `s` key.
    pub(crate) fn next(self) -> Self {
        match self {
            Self::Queued => Self::Running,
            Self::Running => Self::Workers,
            Self::Workers => Self::Rate,
            Self::Rate => Self::Name,
            Self::Name => Self::Queued,
        }
    }

    /// The column's heading.
    pub(crate) fn heading(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Workers => "WORKERS",
            Self::Rate => "QUEUE/s",
            Self::Name => "FUNCTION",
        }
    }
}

/// One function's line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Line {
    pub(crate) function: String,
    pub(crate) queued: u32,
    pub(crate) running: u32,
    pub(crate) workers: u32,
    /// Change of its queued + running jobs per second since the previous poll (`None` on the
    /// first).
    pub(crate) rate: Option<f64>,
}

/// The table across polls.
#[derive(Debug, Default)]
pub(crate) struct Table {
    previous: Option<(Instant, HashMap<String, u32>)>,
    pub(crate) lines: Vec<Line>,
}

impl Table {
    /// Takes a poll's rows at `now`.
    pub(crate) fn update(&mut self, now: Instant, rows: &[StatusRow]) {
        let totals: HashMap<String, u32> = rows
            .iter()
            .map(|r| (String::from_utf8_lossy(&r.function).into_owned(), r.total))
            .collect();
        let rate = |function: &str, total: u32| {
            let (at, before) = self.previous.as_ref()?;
            let dt = now.duration_since(*at).as_secs_f64();
            (dt > 0.0)
                .then(|| (f64::from(total) - f64::from(*before.get(function).unwrap_or(&0))) / dt)
        };
        self.lines = rows
            .iter()
            .map(|r| {
                let function = String::from_utf8_lossy(&r.function).into_owned();
                Line {
                    rate: rate(&function, r.total),
                    queued: r.total.saturating_sub(r.running),
                    running: r.running,
                    workers: r.workers,
                    function,
                }
            })
            .collect();
        self.previous = Some((now, totals));
    }

    /// The lines sorted by `key`, largest first (names alphabetically), `reverse` flips it.
    pub(crate) fn sorted(&self, key: SortKey, reverse: bool) -> Vec<Line> {
        let mut lines = self.lines.clone();
        lines.sort_by(|a, b| {
            let order = match key {
                SortKey::Queued => b.queued.cmp(&a.queued),
                SortKey::Running => b.running.cmp(&a.running),
                SortKey::Workers => b.workers.cmp(&a.workers),
                SortKey::Rate => b.rate.unwrap_or(0.0).total_cmp(&a.rate.unwrap_or(0.0)),
                SortKey::Name => a.function.cmp(&b.function),
            };
            order.then_with(|| a.function.cmp(&b.function))
        });
        if reverse {
            lines.reverse();
        }
        lines
    }

    /// Totals over every function: queued, running, workers.
    pub(crate) fn totals(&self) -> (u64, u64, u64) {
        self.lines.iter().fold((0, 0, 0), |(q, r, w), l| {
            (
                q + u64::from(l.queued),
                r + u64::from(l.running),
                w + u64::from(l.workers),
            )
        })
    }
}

/// A rate for people: `+12.0`, `-3.5`, or `-` before the second poll.
pub(crate) fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{r:+.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    fn row(f: &'static str, total: u32, running: u32, workers: u32) -> StatusRow {
        StatusRow {
            function: Bytes::from_static(f.as_bytes()),
            total,
            running,
            workers,
        }
    }

    #[test]
    fn rates_come_from_two_polls_and_sorting_follows_the_key() {
        let mut t = Table::default();
        let t0 = Instant::now();
        t.update(t0, &[row("a", 10, 2, 1), row("b", 0, 0, 5)]);
        assert_eq!(t.lines[0].rate, None);
        assert_eq!(t.lines[0].queued, 8);
        t.update(
            t0 + Duration::from_secs(2),
            &[row("a", 4, 2, 1), row("b", 6, 0, 5), row("c", 1, 0, 0)],
        );
        let by_rate = t.sorted(SortKey::Rate, false);
        let names: Vec<&str> = by_rate.iter().map(|l| l.function.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        assert_eq!(by_rate[0].rate, Some(3.0));
        assert_eq!(by_rate[2].rate, Some(-3.0));
        let by_workers = t.sorted(SortKey::Workers, true);
        assert_eq!(by_workers.last().map(|l| l.function.as_str()), Some("b"));
        assert_eq!(t.totals(), (2 + 6 + 1, 2, 6));
        assert_eq!(rate_text(Some(3.0)), "+3.0");
        assert_eq!(rate_text(None), "-");
        assert_eq!(SortKey::Name.next(), SortKey::Queued);
    }
}
