//! `maxqueue`, the job limit, and `drop function`.

use gearman_proto::admin::{AdminCommand, AdminReply, MaxQueueSizes};

use super::*;

fn errors(got: &[(ConnId, Response)]) -> Vec<String> {
    got.iter()
        .filter_map(|(_, r)| match r {
            Response::Error(e) => Some(format!(
                "{} {}",
                String::from_utf8_lossy(&e.code),
                String::from_utf8_lossy(&e.text)
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn maxqueue_counts_running_jobs_and_refuses_with_queue_error() {
    let mut s = ServerCore::default();
    let (c, w) = (s.connect(), s.connect());
    s.handle(w, Request::CanDo(f("q")));
    let ok = s.admin(&AdminCommand::MaxQueue {
        function: f("q"),
        sizes: MaxQueueSizes::PerPriority {
            high: 3,
            normal: 2,
            low: 0,
        },
    });
    assert!(matches!(ok, AdminReply::Ok(_)));
    s.handle(c, submit("q", "", "1", Priority::Normal, true));
    let _ = assigned(&mut s, w);
    s.handle(c, submit("q", "", "2", Priority::Normal, true));
    s.handle(c, submit("q", "", "3", Priority::Normal, true));
    s.handle(c, submit("q", "", "4", Priority::High, true));
    s.handle(c, submit("q", "", "5", Priority::High, true));
    s.handle(c, submit("q", "", "6", Priority::Low, true));
    let got = out(&mut s);
    assert_eq!(
        errors(&got),
        vec![
            "QUEUE_ERROR Job queue is full".to_string(),
            "QUEUE_ERROR Job queue is full".to_string()
        ],
        "normal refused at total 2 (one running), high at 3, low unlimited: {got:?}"
    );
    assert_eq!(s.job_count(), 4);
    s.check_consistency().unwrap();
}

#[test]
fn a_coalesced_submission_is_not_refused_by_maxqueue() {
    let mut s = ServerCore::default();
    let c = s.connect();
    s.handle(c, submit("q", "same", "1", Priority::Normal, true));
    let _ = s.admin(&AdminCommand::MaxQueue {
        function: f("q"),
        sizes: MaxQueueSizes::All(1),
    });
    s.handle(c, submit("q", "same", "1", Priority::Normal, true));
    s.handle(c, submit("q", "other", "1", Priority::Normal, true));
    let got = out(&mut s);
    assert_eq!(got[1], (c, Response::JobCreated(h(1))), "joins the job");
    assert_eq!(errors(&got).len(), 1);
}

#[test]
fn maxqueue_for_an_unknown_function_is_ok_and_changes_nothing() {
    let mut s = ServerCore::default();
    let c = s.connect();
    let _ = s.admin(&AdminCommand::MaxQueue {
        function: f("later"),
        sizes: MaxQueueSizes::All(1),
    });
    for _ in 0..3 {
        s.handle(c, submit("later", "", "x", Priority::Normal, true));
    }
    assert!(errors(&out(&mut s)).is_empty());
}

#[test]
fn the_server_job_limit_refuses_beyond_it() {
    let mut s = ServerCore::new(CoreConfig {
        max_jobs: 2,
        ..CoreConfig::default()
    });
    let c = s.connect();
    for i in 0..3 {
        s.handle(c, submit("a", "", &i.to_string(), Priority::Low, true));
    }
    assert_eq!(
        errors(&out(&mut s)),
        vec!["QUEUE_ERROR Server job limit reached".to_string()]
    );
    assert_eq!(s.job_count(), 2);
}

#[test]
fn drop_function_fails_its_queued_jobs_instead_of_orphaning_them() {
    let mut s = ServerCore::default();
    s.advance(1_000_000);
    let c = s.connect();
    s.handle(c, submit("d", "", "x", Priority::Normal, false));
    s.handle(
        c,
        Request::SubmitEpoch {
            function: f("d"),
            unique: u(""),
            epoch: 10_000,
            data: Bytes::new(),
        },
    );
    let _ = out(&mut s);
    let reply = s.admin(&AdminCommand::DropFunction(f("d")));
    assert!(matches!(reply, AdminReply::Ok(_)), "{reply:?}");
    assert_eq!(
        out(&mut s),
        vec![(c, Response::Work(WorkUpdate::Fail { handle: h(1) }))]
    );
    assert_eq!(s.job_count(), 0);
    assert_eq!(s.next_deadline(), None);
    assert!(matches!(
        s.admin(&AdminCommand::DropFunction(f("d"))),
        AdminReply::Err(_)
    ));
    s.check_consistency().unwrap();
}

#[test]
fn drop_function_is_refused_while_a_worker_has_it() {
    let mut s = ServerCore::default();
    let w = s.connect();
    s.handle(w, Request::CanDo(f("busy")));
    assert!(matches!(
        s.admin(&AdminCommand::DropFunction(f("busy"))),
        AdminReply::Err(_)
    ));
}
