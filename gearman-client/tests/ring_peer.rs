//! Routing by unique id through three live gearman-servers: jobs land where the ring says,
//! whatever the order of the client's server list; the `gearman` crate 0.2.0 (an independent
//! port of libgearman 2.2's ketama selection) sends every unique to the same server, also with
//! one server down; `status_unique` asks the server the job went to.
//!
//! Agreement is read off the servers: every client submits the same background job (function
//! `ring<i>`, unique `u<i>`), which a server coalesces into one; a job sent elsewhere would be a
//! second job on a second server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use gearman_client::{AdminClient, Client, Job, Ring};
use gearman_peer::client::{Client as PeerClient, ServerSelection, SubmitOptions};
use gearman_server::ServerConfig;
use gearman_testkit::{until, Embedded};

const WAIT: Duration = Duration::from_secs(30);
const UNIQUES: usize = 120;

/// Queued jobs per function on each server, by server name.
async fn queued(servers: &[String]) -> BTreeMap<String, Vec<(String, u32)>> {
    let mut by_function: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for name in servers {
        let rows = AdminClient::new(name.clone(), WAIT).status().await.unwrap();
        for row in rows.into_iter().filter(|r| r.total > 0) {
            let function = String::from_utf8_lossy(&row.function).into_owned();
            by_function
                .entry(function)
                .or_default()
                .push((name.clone(), row.total));
        }
    }
    by_function
}

async fn our_client(list: &[&String]) -> Client {
    let mut b = Client::builder();
    for name in list {
        b = b.server((*name).clone());
    }
    let client = b.spawn().unwrap();
    until("every connection up", WAIT, || async {
        client.connected() == list.len()
    })
    .await;
    client
}

async fn peer_client(list: &[&String]) -> PeerClient {
    tokio::time::timeout(
        WAIT,
        PeerClient::builder()
            .servers(list.iter().map(|s| (*s).clone()))
            .server_selection(ServerSelection::ByUnique)
            .connect(),
    )
    .await
    .expect("the peer connected in time")
    .unwrap()
}

/// Submits `prefix<i>` / `u<i>` in the background; returns the server name each went to.
async fn submit_ours(client: &Client, list: &[&String], prefix: &str) -> Vec<String> {
    let mut went = Vec::new();
    for i in 0..UNIQUES {
        let job = Job::new(format!("{prefix}{i}"), "x")
            .unique(format!("u{i}"))
            .background();
        let stream = tokio::time::timeout(WAIT, client.submit(job))
            .await
            .unwrap()
            .unwrap();
        went.push(list[stream.server()].clone());
    }
    went
}

async fn submit_peer(client: &PeerClient, prefix: &str) {
    let background = SubmitOptions {
        background: true,
        ..SubmitOptions::default()
    };
    for i in 0..UNIQUES {
        let unique = format!("u{i}");
        tokio::time::timeout(
            WAIT,
            client.submit(&format!("{prefix}{i}"), Some(&unique), "x", background),
        )
        .await
        .unwrap()
        .unwrap();
    }
}

/// Each `prefix<i>` is one job on exactly the server `want[i]`.
async fn assert_one_job_each(servers: &[String], prefix: &str, want: &[String]) {
    let by_function = queued(servers).await;
    for (i, server) in want.iter().enumerate() {
        let function = format!("{prefix}{i}");
        assert_eq!(
            by_function.get(&function),
            Some(&vec![(server.clone(), 1)]),
            "{function}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_and_the_gearman_crate_send_a_unique_to_one_server() {
    let mut servers: Vec<Embedded> = (0..3)
        .map(|_| Embedded::start(ServerConfig::default(), None).unwrap())
        .collect();
    let names: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
    let [a, b, c] = [&names[0], &names[1], &names[2]];
    let ring = Ring::new(&names);
    let predicted: Vec<String> = (0..UNIQUES)
        .map(|i| names[ring.order(format!("u{i}").as_bytes())[0]].clone())
        .collect();

    // Ours, listed one way: each job where the ring says.
    let first = our_client(&[a, b, c]).await;
    assert_eq!(submit_ours(&first, &[a, b, c], "ring").await, predicted);
    assert_one_job_each(&names, "ring", &predicted).await;
    // Ours, listed the other ways round: the same servers (the jobs coalesce).
    for list in [[c, b, a], [b, c, a]] {
        let other = our_client(&list).await;
        assert_eq!(submit_ours(&other, &list, "ring").await, predicted);
    }
    // The gearman crate's ketama client: the same servers again.
    let peer = peer_client(&[b, a, c]).await;
    submit_peer(&peer, "ring").await;
    assert_one_job_each(&names, "ring", &predicted).await;
    // status_unique asks the server the job went to.
    for i in 0..UNIQUES {
        let status = first.status_unique(format!("u{i}")).await.unwrap();
        assert!(status.known, "u{i} not found where it went");
    }

    // One server down: both fail over along the ring to the same server.
    servers[1].kill();
    until("our client saw the server go", WAIT, || async {
        first.connected() == 2
    })
    .await;
    let alive = [names[0].clone(), names[2].clone()];
    let went = submit_ours(&first, &[a, b, c], "fo").await;
    let want: Vec<String> = (0..UNIQUES)
        .map(|i| {
            let order = ring.order(format!("u{i}").as_bytes());
            let live = order.into_iter().find(|&s| s != 1).unwrap();
            names[live].clone()
        })
        .collect();
    assert_eq!(went, want);
    let peer = peer_client(&[c, b, a]).await;
    submit_peer(&peer, "fo").await;
    assert_one_job_each(&alive, "fo", &want).await;
}
