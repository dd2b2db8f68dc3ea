//! The store's side of the core: held JOB_CREATED in order, failed writes, restored jobs; and
//! a GRAB that skips a foreground job whose clients are already gone.

use super::*;
use crate::store::{StoreOp, StoredJob};

const T0: u64 = 1_800_000_000_000;

fn added(ops: &[StoreOp]) -> Vec<u64> {
    ops.iter()
        .filter_map(|op| match op {
            StoreOp::Add(j) => Some(j.id),
            StoreOp::Remove(_) => None,
        })
        .collect()
}

#[test]
fn a_background_job_is_acknowledged_only_once_stored_and_later_replies_wait_behind_it() {
    let mut s = ServerCore::default();
    s.enable_store(Vec::new());
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("bg")));
    s.handle(c, submit("bg", "", "one", Priority::Normal, true));
    s.handle(c, Request::Echo(Bytes::from_static(b"after")));
    s.handle(c, submit("bg", "", "fg", Priority::Normal, false));
    // Nothing for the client yet: the echo and the foreground JOB_CREATED wait behind the
    // background one.
    assert_eq!(out(&mut s), vec![]);
    let ops = s.take_store_ops();
    assert_eq!(ops.len(), 1);
    let StoreOp::Add(job) = &ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!((&job.function, &job.data[..]), (&f("bg"), &b"one"[..]));
    s.check_consistency().unwrap();
    // The foreground job is queued already; the background one is not.
    assert_eq!(assigned(&mut s, w).data, Bytes::from_static(b"fg"));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w, Response::NoJob)]);

    s.store_done(&added(&ops), true);
    assert_eq!(
        out(&mut s),
        vec![
            (c, Response::JobCreated(h(1))),
            (c, Response::Echo(Bytes::from_static(b"after"))),
            (c, Response::JobCreated(h(2))),
        ]
    );
    let a = assigned(&mut s, w);
    assert_eq!(a.handle, h(1));
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: h(1),
            data: Bytes::new(),
        }),
    );
    assert_eq!(s.take_store_ops(), vec![StoreOp::Remove(job.id)]);
    s.check_consistency().unwrap();
}

#[test]
fn a_failed_write_refuses_the_submission_and_fails_whoever_joined_it() {
    let mut s = ServerCore::default();
    s.enable_store(Vec::new());
    let (bg, fg, other) = (s.connect(), s.connect(), s.connect());
    s.handle(bg, submit("f", "same", "x", Priority::Normal, true));
    s.handle(other, submit("f", "same", "x", Priority::Normal, true));
    // A foreground client joining the job waiting for the store gets its handle at once.
    s.handle(fg, submit("f", "same", "x", Priority::Normal, false));
    assert_eq!(out(&mut s), vec![(fg, Response::JobCreated(h(1)))]);
    let ops = s.take_store_ops();
    assert_eq!(
        added(&ops).len(),
        1,
        "one write for the job, however many joined"
    );
    s.store_done(&added(&ops), false);
    let refused = error("QUEUE_ERROR", "The job could not be stored");
    assert_eq!(
        out(&mut s),
        vec![
            (bg, refused.clone()),
            (other, refused),
            (fg, Response::Work(WorkUpdate::Fail { handle: h(1) })),
        ]
    );
    assert_eq!(s.job_count(), 0);
    assert!(
        s.take_store_ops().is_empty(),
        "nothing to remove: it was never stored"
    );
    s.check_consistency().unwrap();
}

#[test]
fn stored_jobs_are_queued_again_and_epoch_ones_scheduled() {
    let mut s = ServerCore::default();
    s.advance(1_000_000);
    let job = |id, data: &'static str, run_at| StoredJob {
        id,
        function: f("r"),
        unique: u(""),
        priority: Priority::Normal,
        run_at,
        data: Bytes::from_static(data.as_bytes()),
    };
    s.enable_store(vec![job(7, "now", None), job(9, "later", Some(2_000_000))]);
    assert_eq!(s.queued(&f("r")), 2);
    assert_eq!(s.next_deadline(), Some(2_000_000));
    let w = s.connect();
    s.handle(w, Request::CanDo(f("r")));
    assert_eq!(assigned(&mut s, w).data, Bytes::from_static(b"now"));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w, Response::NoJob)]);
    s.advance(2_000_000);
    let _ = out(&mut s);
    let later = assigned(&mut s, w);
    assert_eq!(later.data, Bytes::from_static(b"later"));
    // New jobs get ids past the stored ones.
    let c = s.connect();
    s.handle(c, submit("r", "", "new", Priority::Normal, true));
    assert_eq!(added(&s.take_store_ops()), vec![10]);
    s.check_consistency().unwrap();
}

#[test]
fn a_grab_drops_a_foreground_job_whose_clients_are_gone_before_their_close_arrives() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (a, b, w) = (s.connect(), s.connect(), s.connect());
    s.handle(a, submit("g", "", "left", Priority::Normal, false));
    s.handle(b, submit("g", "", "stays", Priority::Normal, false));
    s.handle(a, submit("g", "shared", "half", Priority::Normal, false));
    s.handle(b, submit("g", "shared", "half", Priority::Normal, false));
    let _ = out(&mut s);
    s.handle(w, Request::CanDo(f("g")));
    s.advance(T0 + ASK_GONE_AFTER_MS);
    // `a` has closed (its close not yet delivered): its own job is dropped, the others run.
    let gone = |c: ConnId| c == a;
    s.handle_with(w, Request::Grab(GrabKind::Uniq), &gone);
    let first = match out(&mut s).pop() {
        Some((_, Response::JobAssign(j))) => j,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.data, Bytes::from_static(b"stays"));
    s.handle_with(w, Request::Grab(GrabKind::Uniq), &gone);
    let second = match out(&mut s).pop() {
        Some((_, Response::JobAssign(j))) => j,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        second.data,
        Bytes::from_static(b"half"),
        "b still waits for it"
    );
    s.handle_with(w, Request::Grab(GrabKind::Uniq), &gone);
    assert_eq!(out(&mut s), vec![(w, Response::NoJob)]);
    s.check_consistency().unwrap();
    s.handle(
        w,
        Request::Work(WorkUpdate::Complete {
            handle: second.handle.clone(),
            data: Bytes::new(),
        }),
    );
    assert_eq!(
        out(&mut s),
        vec![(
            b,
            Response::Work(WorkUpdate::Complete {
                handle: second.handle,
                data: Bytes::new()
            })
        )],
        "only the client still there is answered"
    );
    s.disconnect(a);
    s.check_consistency().unwrap();
}

#[test]
fn a_stored_submission_counts_as_submitted_and_its_queue_wait_starts_when_stored() {
    let mut s = ServerCore::default();
    s.enable_store(Vec::new());
    s.record_events(true);
    s.advance(1_000);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("m")));
    s.handle(c, submit("m", "", "x", Priority::Normal, true));
    assert_eq!(s.take_events(), vec![JobEvent::Submitted]);
    s.advance(1_500);
    let ops = s.take_store_ops();
    s.store_done(&added(&ops), true);
    s.advance(1_700);
    let _ = assigned(&mut s, w);
    assert_eq!(s.take_events(), vec![JobEvent::Assigned { waited_ms: 200 }]);
}

#[test]
fn a_job_queued_moments_ago_is_handed_out_without_asking_after_its_clients() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("g")));
    s.handle(c, submit("g", "", "fresh", Priority::Normal, false));
    let _ = out(&mut s);
    s.advance(T0 + ASK_GONE_AFTER_MS - 1);
    let asked = std::cell::Cell::new(0);
    let gone = |_: ConnId| {
        asked.set(asked.get() + 1);
        true
    };
    s.handle_with(w, Request::Grab(GrabKind::Uniq), &gone);
    assert!(matches!(
        out(&mut s).pop(),
        Some((_, Response::JobAssign(_)))
    ));
    assert_eq!(asked.get(), 0, "no system call for a job this fresh");
    s.check_consistency().unwrap();
}
