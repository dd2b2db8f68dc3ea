//! Every program in `examples/` run as a user runs it, against both job servers, with its output
//! checked (cargo test builds the examples before these tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gearman_testkit::{run_example, run_standalone_example, ServerKind, TestServer};

const DEADLINE: Duration = Duration::from_secs(30);

/// `wire_tour`: the offline tour's packets and bytes, the refused 4 GiB header, then the live
/// ECHO and admin `status` against the server in `GEARMAN_SERVER`.
fn wire_tour(kind: ServerKind) {
    let Some(g) = TestServer::start_or_skip(kind, "examples::wire_tour") else {
        return;
    };
    let addr = g.addr().to_string();
    let run = run_example("wire_tour", &addr, &[], DEADLINE);
    assert!(run.success(), "wire_tour failed: {run:?}");
    let out = &run.stdout;
    for packet in [
        "CAN_DO",
        "SUBMIT_JOB",
        "GRAB_JOB_UNIQ",
        "WORK_COMPLETE",
        "JOB_CREATED",
        "JOB_ASSIGN_UNIQ",
    ] {
        assert!(out.contains(packet), "{packet} missing from: {out}");
    }
    // CAN_DO "reverse": request magic, type 1, size 7, the name.
    assert!(
        out.contains("00 52 45 51 00 00 00 01 00 00 00 07 72 65 76 65 72 73 65"),
        "{out}"
    );
    assert!(
        out.contains("4 GiB header -> packet payload of 4294967295 bytes exceeds the cap"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{addr} answered Echo(b\"ping\")")),
        "{out}"
    );
    assert!(out.contains(&format!("{addr} status: Status([])")), "{out}");
    assert_eq!(run.stderr, "", "wire_tour wrote to stderr");
}

gearman_testkit::on_both_servers_blocking!(wire_tour);

/// With an address argument the argument wins over `GEARMAN_SERVER`: a server that is not
/// there makes the live part fail with a non-zero exit after the offline tour.
#[test]
fn wire_tour_reports_an_unreachable_server() {
    // A port that was free a moment ago: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = free.local_addr().unwrap().to_string();
    drop(free);
    let run = run_example("wire_tour", "127.0.0.1:1", &[&dead], DEADLINE);
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{run:?}");
    assert!(run.stdout.contains("JOB_ASSIGN_UNIQ"), "{run:?}");
    assert!(!run.stdout.contains("answered"), "{run:?}");
    assert!(run.stderr.contains("Error"), "{run:?}");
}

/// With neither an argument nor `GEARMAN_SERVER` only the offline tour runs, and says so.
#[test]
fn wire_tour_offline() {
    let run = run_standalone_example("wire_tour", &[], DEADLINE);
    assert!(run.success(), "{run:?}");
    assert!(run.stdout.contains("JOB_ASSIGN_UNIQ"), "{run:?}");
    assert!(
        run.stdout
            .ends_with("no server given (argument or GEARMAN_SERVER): offline tour only\n"),
        "{run:?}"
    );
}
