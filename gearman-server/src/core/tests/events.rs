//! The job events the core records for metrics, on a clock driven by hand.

use super::*;

const T0: u64 = 1_800_000_000_000;

fn ended(outcome: JobOutcome, ran_ms: Option<u64>) -> JobEvent {
    JobEvent::Ended { outcome, ran_ms }
}

#[test]
fn nothing_is_recorded_unless_asked() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("e")));
    s.handle(c, submit("e", "", "x", Priority::Normal, true));
    let _ = assigned(&mut s, w);
    assert_eq!(s.take_events(), vec![]);
}

#[test]
fn waits_runs_and_outcomes_on_the_cores_clock() {
    let mut s = ServerCore::default();
    s.record_events(true);
    s.advance(T0);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("e")));
    s.handle(c, submit("e", "u", "x", Priority::Normal, false));
    // A second submission of the same unique joins the job: no new job.
    s.handle(c, submit("e", "u", "x", Priority::Normal, false));
    s.advance(T0 + 40);
    let a = assigned(&mut s, w);
    s.advance(T0 + 140);
    s.handle(
        w,
        Request::Work(WorkUpdate::Exception {
            handle: a.handle,
            data: Bytes::from_static(b"boom"),
        }),
    );
    s.handle(c, submit("e", "", "y", Priority::Normal, true));
    let b = assigned(&mut s, w);
    s.handle(w, Request::Work(WorkUpdate::Fail { handle: b.handle }));
    assert_eq!(
        s.take_events(),
        vec![
            JobEvent::Submitted,
            JobEvent::Assigned { waited_ms: 40 },
            ended(JobOutcome::Exception, Some(100)),
            JobEvent::Submitted,
            JobEvent::Assigned { waited_ms: 0 },
            ended(JobOutcome::Fail, Some(0)),
        ]
    );
    assert_eq!(s.take_events(), vec![], "taken once");
}

#[test]
fn requeues_timeouts_and_the_retry_cap() {
    let mut s = ServerCore::new(CoreConfig {
        max_retries: Some(2),
        ..CoreConfig::default()
    });
    s.record_events(true);
    s.advance(T0);
    let (c, w1, w2) = (s.connect(), s.connect(), s.connect());
    s.handle(
        w1,
        Request::CanDoTimeout {
            function: f("e"),
            timeout_ms: 1000,
        },
    );
    s.handle(w2, Request::CanDo(f("e")));
    s.handle(c, submit("e", "", "x", Priority::Normal, false));
    let _ = assigned(&mut s, w1);
    s.advance(T0 + 1000);
    let _ = assigned(&mut s, w2);
    s.advance(T0 + 1500);
    s.disconnect(w2);
    let events = s.take_events();
    assert_eq!(
        events,
        vec![
            JobEvent::Submitted,
            JobEvent::Assigned { waited_ms: 0 },
            ended(JobOutcome::TimedOut, Some(1000)),
            JobEvent::Assigned { waited_ms: 0 },
            ended(JobOutcome::Requeued, Some(500)),
            ended(JobOutcome::RetriesExhausted, None),
        ]
    );
    assert_eq!(s.job_count(), 0);
    s.check_consistency().unwrap();
}
