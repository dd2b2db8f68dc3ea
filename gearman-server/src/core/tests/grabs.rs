//! `newest_grab`: a server that stands in for one predating GRAB_JOB_UNIQ or GRAB_JOB_ALL.

use super::*;

fn server_knowing(newest: GrabKind) -> ServerCore {
    ServerCore::new(CoreConfig {
        newest_grab: newest,
        ..CoreConfig::default()
    })
}

fn assigned_by(s: &mut ServerCore, w: ConnId, kind: GrabKind) -> JobAssign {
    s.handle(w, Request::Grab(kind));
    match out(s).pop() {
        Some((to, Response::JobAssign(a))) if to == w => a,
        other => panic!("expected an assignment, got {other:?}"),
    }
}

fn refused() -> Response {
    error("INVALID_COMMAND", "Command not expected")
}

#[test]
fn grabs_newer_than_the_newest_known_are_refused_and_older_ones_served() {
    let mut s = server_knowing(GrabKind::Plain);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("a")));
    s.handle(c, submit("a", "u1", "x", Priority::Normal, true));
    let _ = out(&mut s);
    s.handle(w, Request::Grab(GrabKind::All));
    s.handle(w, Request::Grab(GrabKind::Uniq));
    assert_eq!(out(&mut s), vec![(w, refused()), (w, refused())]);
    // Refused grabs took nothing: the job is still queued for the GRAB_JOB that follows.
    assert_eq!(s.queued(&f("a")), 1);
    let job = assigned_by(&mut s, w, GrabKind::Plain);
    assert_eq!((job.unique, job.reducer), (None, None));
}

#[test]
fn a_server_knowing_uniq_refuses_only_grab_all() {
    let mut s = server_knowing(GrabKind::Uniq);
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("a")));
    s.handle(c, submit("a", "u1", "x", Priority::Normal, true));
    let _ = out(&mut s);
    s.handle(w, Request::Grab(GrabKind::All));
    assert_eq!(out(&mut s), vec![(w, refused())]);
    assert_eq!(assigned_by(&mut s, w, GrabKind::Uniq).unique, Some(u("u1")));
}

#[test]
fn by_default_every_grab_is_known() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("a")));
    s.handle(c, submit("a", "u1", "x", Priority::Normal, true));
    let _ = out(&mut s);
    assert_eq!(assigned_by(&mut s, w, GrabKind::All).unique, Some(u("u1")));
}
