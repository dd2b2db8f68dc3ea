//! Epoch jobs and CAN_DO_TIMEOUT, with the clock driven by hand.

use super::*;

const T0: u64 = 1_800_000_000_000;

fn epoch_submit(function: &str, unique: &str, at_secs: u64) -> Request {
    Request::SubmitEpoch {
        function: f(function),
        unique: u(unique),
        epoch: at_secs,
        data: Bytes::from_static(b"later"),
    }
}

#[test]
fn an_epoch_job_waits_for_its_time_and_then_wakes_the_sleeping_worker() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("e")));
    s.handle(c, epoch_submit("e", "u", T0 / 1000 + 5));
    assert_eq!(out(&mut s), vec![(c, Response::JobCreated(h(1)))]);
    assert_eq!(s.queued(&f("e")), 1, "counted as queued, as gearmand does");
    assert_eq!(s.next_deadline(), Some(T0 + 5000));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    s.handle(w, Request::PreSleep);
    assert_eq!(
        out(&mut s),
        vec![(w, Response::NoJob)],
        "not before its time"
    );
    s.advance(T0 + 4999);
    assert_eq!(out(&mut s), vec![]);
    s.advance(T0 + 5000);
    assert_eq!(
        out(&mut s),
        vec![(w, Response::Noop)],
        "woken on time (gearmand 1.1.20 does not)"
    );
    assert_eq!(assigned(&mut s, w).handle, h(1));
    assert_eq!(s.next_deadline(), None);
    s.check_consistency().unwrap();
}

#[test]
fn an_epoch_in_the_past_runs_at_once_and_status_knows_a_scheduled_job() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (c, w) = (s.connect(), s.connect());
    s.handle(c, epoch_submit("e", "", 0));
    s.handle(c, epoch_submit("e", "", u64::MAX));
    s.handle(c, Request::GetStatus(h(2)));
    let got = out(&mut s);
    assert!(
        matches!(&got[2].1, Response::Status(st) if st.known && !st.running),
        "{got:?}"
    );
    s.handle(w, Request::CanDo(f("e")));
    assert_eq!(assigned(&mut s, w).handle, h(1));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(
        out(&mut s),
        vec![(w, Response::NoJob)],
        "u64::MAX seconds saturates"
    );
    s.check_consistency().unwrap();
}

#[test]
fn can_do_timeout_requeues_on_expiry_and_the_late_result_is_refused() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (c, w1, w2) = (s.connect(), s.connect(), s.connect());
    s.handle(
        w1,
        Request::CanDoTimeout {
            function: f("slow"),
            timeout_ms: 10,
        },
    );
    s.handle(c, submit("slow", "", "x", Priority::Normal, false));
    let _ = out(&mut s);
    let a = assigned(&mut s, w1);
    assert_eq!(s.next_deadline(), Some(T0 + 1000), "10 ms is raised to 1 s");
    s.handle(w2, Request::CanDo(f("slow")));
    s.handle(w2, Request::PreSleep);
    s.advance(T0 + 999);
    assert_eq!(out(&mut s), vec![]);
    s.advance(T0 + 1000);
    assert_eq!(
        out(&mut s),
        vec![(w2, Response::Noop)],
        "re-queued and woken"
    );
    let again = assigned(&mut s, w2);
    assert_eq!(again.handle, a.handle);
    s.handle(
        w1,
        Request::Work(WorkUpdate::Complete {
            handle: a.handle.clone(),
            data: Bytes::new(),
        }),
    );
    assert!(
        matches!(&out(&mut s)[..], [(to, Response::Error(e))] if *to == w1 && &e.code[..] == b"JOB_NOT_FOUND")
    );
    s.handle(
        w2,
        Request::Work(WorkUpdate::Complete {
            handle: a.handle.clone(),
            data: Bytes::from_static(b"ok"),
        }),
    );
    assert!(
        matches!(&out(&mut s)[..], [(to, Response::Work(WorkUpdate::Complete { .. }))] if *to == c)
    );
    assert_eq!(s.next_deadline(), None, "no timer left behind");
    s.check_consistency().unwrap();
}

#[test]
fn a_job_finished_in_time_leaves_no_timer_and_plain_can_do_clears_the_timeout() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (c, w) = (s.connect(), s.connect());
    s.handle(
        w,
        Request::CanDoTimeout {
            function: f("t"),
            timeout_ms: 5000,
        },
    );
    s.handle(c, submit("t", "", "x", Priority::Normal, true));
    let a = assigned(&mut s, w);
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: a.handle,
            data: Bytes::new(),
        }),
    );
    assert_eq!(s.next_deadline(), None);
    s.handle(w, Request::CanDo(f("t")));
    s.handle(c, submit("t", "", "y", Priority::Normal, true));
    let _ = assigned(&mut s, w);
    assert_eq!(s.next_deadline(), None, "CAN_DO replaced CAN_DO_TIMEOUT");
    s.check_consistency().unwrap();
}
