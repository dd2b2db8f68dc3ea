//! Wake-ups: a new job wakes as many sleeping workers as it needs, in turn; a woken worker that
//! takes something else, leaves or never comes is replaced.

use super::*;

const T0: u64 = 1_800_000_000_000;

/// A worker of `functions`, asleep (its GRAB answered NO_JOB, then PRE_SLEEP).
fn sleeper(s: &mut ServerCore, functions: &[&str]) -> ConnId {
    let w = s.connect();
    for name in functions {
        s.handle(w, Request::CanDo(f(name)));
    }
    s.handle(w, Request::Grab(GrabKind::Uniq));
    s.handle(w, Request::PreSleep);
    assert_eq!(out(s), vec![(w, Response::NoJob)]);
    w
}

fn noops(sent: &[(ConnId, Response)]) -> Vec<ConnId> {
    sent.iter()
        .filter(|(_, r)| *r == Response::Noop)
        .map(|(to, _)| *to)
        .collect()
}

fn checked(s: &ServerCore) {
    s.check_consistency().unwrap();
}

#[test]
fn one_job_wakes_one_sleeper_and_the_next_job_the_next_one() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let ws: Vec<ConnId> = (0..3).map(|_| sleeper(&mut s, &["f"])).collect();
    s.handle(c, submit("f", "", "1", Priority::Normal, false));
    let first = noops(&out(&mut s));
    assert_eq!(first, vec![ws[0]], "one NOOP for one job");
    checked(&s);
    // A second job before the first is taken needs a second worker.
    s.handle(c, submit("f", "", "2", Priority::Normal, false));
    assert_eq!(noops(&out(&mut s)), vec![ws[1]]);
    checked(&s);
    // Both take theirs and go back to sleep; the next job goes to the one not woken yet.
    let held: Vec<JobAssign> = ws[..2].iter().map(|&w| assigned(&mut s, w)).collect();
    for (&w, a) in ws.iter().zip(held) {
        s.handle(
            w,
            Request::Work(WorkUpdate::Complete {
                handle: a.handle,
                data: Bytes::new(),
            }),
        );
        s.handle(w, Request::Grab(GrabKind::Uniq));
        s.handle(w, Request::PreSleep);
    }
    let _ = out(&mut s);
    checked(&s);
    s.handle(c, submit("f", "", "3", Priority::Normal, false));
    assert_eq!(noops(&out(&mut s)), vec![ws[2]], "in turn");
    checked(&s);
}

#[test]
fn a_woken_worker_that_takes_another_function_s_job_hands_its_wake_on() {
    let mut s = ServerCore::default();
    let c = s.connect();
    // Registered f then g: g is its newest function, which it takes first.
    let both = sleeper(&mut s, &["f", "g"]);
    let only_f = sleeper(&mut s, &["f"]);
    s.handle(c, submit("f", "", "for f", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![both]);
    s.handle(c, submit("g", "", "for g", Priority::Normal, true));
    assert_eq!(
        noops(&out(&mut s)),
        vec![],
        "the only worker of g is already awake"
    );
    s.handle(both, Request::Grab(GrabKind::Uniq));
    let sent = out(&mut s);
    match sent.first() {
        Some((w, Response::JobAssign(a))) if *w == both => assert_eq!(&a.data[..], b"for g"),
        other => panic!("expected g's job, got {other:?}"),
    }
    // ... so f's job would wait behind it: the other worker of f is woken now.
    assert_eq!(noops(&sent), vec![only_f]);
    checked(&s);
    assert_eq!(&assigned(&mut s, only_f).data[..], b"for f");
}

#[test]
fn a_woken_worker_that_leaves_is_replaced_at_once() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let (w1, w2) = (sleeper(&mut s, &["f"]), sleeper(&mut s, &["f"]));
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w1]);
    s.disconnect(w1);
    assert_eq!(noops(&out(&mut s)), vec![w2]);
    checked(&s);
}

#[test]
fn a_woken_worker_that_never_comes_is_replaced_after_the_grace() {
    let mut s = ServerCore::default();
    s.advance(T0);
    let c = s.connect();
    let (w1, w2) = (sleeper(&mut s, &["f"]), sleeper(&mut s, &["f"]));
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w1]);
    assert_eq!(s.next_deadline(), Some(T0 + WAKE_GRACE_MS));
    s.advance(T0 + WAKE_GRACE_MS - 1);
    assert_eq!(out(&mut s), vec![]);
    s.advance(T0 + WAKE_GRACE_MS);
    assert_eq!(noops(&out(&mut s)), vec![w2]);
    checked(&s);
    // The late one still gets the job if it comes first; the other then finds nothing.
    let _ = assigned(&mut s, w1);
    s.handle(w2, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w2, Response::NoJob)]);
    checked(&s);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn a_sleeper_that_takes_on_a_function_with_work_waiting_is_woken() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let w = sleeper(&mut s, &["f"]);
    s.handle(c, submit("g", "", "", Priority::Normal, true));
    assert_eq!(out(&mut s), vec![(c, Response::JobCreated(h(1)))]);
    s.handle(w, Request::CanDo(f("g")));
    assert_eq!(out(&mut s), vec![(w, Response::Noop)]);
    checked(&s);
}

#[test]
fn wake_up_all_wakes_every_sleeper_as_gearmand_does() {
    let mut s = ServerCore::new(CoreConfig {
        wake_up: WakeUp::All,
        ..CoreConfig::default()
    });
    let c = s.connect();
    let ws: Vec<ConnId> = (0..3).map(|_| sleeper(&mut s, &["f"])).collect();
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), ws);
    checked(&s);
    let _ = assigned(&mut s, ws[2]);
    for &w in &ws[..2] {
        s.handle(w, Request::Grab(GrabKind::Uniq));
        assert_eq!(out(&mut s), vec![(w, Response::NoJob)]);
    }
    checked(&s);
}

#[test]
fn a_pre_sleep_behind_a_job_that_already_woke_a_worker_sleeps() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let (w1, w2) = (sleeper(&mut s, &["f"]), sleeper(&mut s, &["f"]));
    // w1 is woken and finds nothing (another took the job)...
    s.handle(c, submit("f", "", "1", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w1]);
    let other = s.connect();
    s.handle(other, Request::CanDo(f("f")));
    let _ = assigned(&mut s, other);
    s.handle(w1, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w1, Response::NoJob)]);
    // ... a job comes before its PRE_SLEEP and wakes w2; w1's PRE_SLEEP then sleeps.
    s.handle(c, submit("f", "", "2", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w2]);
    s.handle(w1, Request::PreSleep);
    assert_eq!(out(&mut s), vec![]);
    checked(&s);
    // A job no sleeping worker is left to wake for is answered at the next PRE_SLEEP.
    s.handle(c, submit("f", "", "3", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w1]);
    let _ = assigned(&mut s, w2);
    s.handle(c, submit("f", "", "4", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![], "nobody asleep");
    s.handle(w2, Request::PreSleep);
    assert_eq!(out(&mut s), vec![(w2, Response::Noop)]);
    checked(&s);
}

#[test]
fn a_dropped_function_leaves_no_worker_counted_as_woken_for_it() {
    use gearman_proto::admin::AdminCommand;
    let mut s = ServerCore::default();
    let c = s.connect();
    let w = sleeper(&mut s, &["f"]);
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w]);
    s.handle(w, Request::CantDo(f("f")));
    let _ = s.admin(&AdminCommand::DropFunction(f("f")));
    checked(&s);
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    checked(&s);
}

#[test]
fn wake_up_all_wakes_nobody_when_no_job_waits() {
    let mut s = ServerCore::new(CoreConfig {
        wake_up: WakeUp::All,
        ..CoreConfig::default()
    });
    let c = s.connect();
    let (a, b) = (sleeper(&mut s, &["f"]), sleeper(&mut s, &["f"]));
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![a, b]);
    // `a` takes it and sleeps again before `b` comes: `b`'s GRAB must not wake `a` again.
    let _ = assigned(&mut s, a);
    s.handle(a, Request::Grab(GrabKind::Uniq));
    s.handle(a, Request::PreSleep);
    let _ = out(&mut s);
    s.handle(b, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(b, Response::NoJob)]);
    // Nor a sleeper taking on a function with nothing queued.
    s.handle(a, Request::CanDo(f("g")));
    assert_eq!(out(&mut s), vec![]);
    checked(&s);
}

#[test]
fn a_woken_worker_that_drops_the_function_is_replaced_at_once() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let (w1, w2) = (sleeper(&mut s, &["f"]), sleeper(&mut s, &["f"]));
    s.handle(c, submit("f", "", "", Priority::Normal, true));
    assert_eq!(noops(&out(&mut s)), vec![w1]);
    s.handle(w1, Request::ResetAbilities);
    assert_eq!(noops(&out(&mut s)), vec![w2]);
    checked(&s);
}
