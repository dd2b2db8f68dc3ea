//! TLS on gearman-server, with our client, worker and admin client: mutual TLS serves jobs;
//! a missing or foreign client certificate, a CA that does not fit, an expired certificate and
//! a wrong server name are typed errors in under a second; a plaintext peer and a stalled
//! handshake are dropped while everyone else is served; a reload keeps live connections.

#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gearman_client::{AdminClient, AdminClientError, Client, Job, TlsError, TlsOptions};
use gearman_proto::FunctionName;
use gearman_server::{Server, ServerConfig, ServerTls};
use gearman_testkit::{raw_packet, Pki, PkiFiles};
use gearman_worker::{Job as WorkerJob, Worker};

const WAIT: Duration = Duration::from_secs(10);

fn f(s: &str) -> FunctionName {
    FunctionName::try_from(s).unwrap()
}

async fn tls_server(pki: &Pki, server: &PkiFiles, mutual: bool) -> Server {
    let mut tls =
        ServerTls::new(&server.cert, &server.key).handshake_timeout(Duration::from_millis(500));
    if mutual {
        tls = tls.client_ca(pki.ca());
    }
    let config = ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    };
    Server::bind("127.0.0.1:0", config).await.unwrap()
}

fn client_tls(ca: &Pki, identity: Option<&PkiFiles>) -> TlsOptions {
    TlsOptions::from_files(
        &ca.ca(),
        identity.map(|i| (i.cert.as_path(), i.key.as_path())),
    )
    .unwrap()
}

/// The TLS error an admin `version` over `tls` ends with, and how long it took.
async fn admin_refusal(addr: SocketAddr, tls: TlsOptions) -> (Option<TlsError>, Duration) {
    let started = Instant::now();
    let admin = AdminClient::new(addr.to_string(), Duration::from_secs(5)).with_tls(tls);
    match admin.version().await {
        Err(AdminClientError::Connect(e)) => (e.tls, started.elapsed()),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

async fn serve_echo_over_tls(addr: SocketAddr, worker_tls: TlsOptions, client_tls: TlsOptions) {
    let worker = Worker::builder()
        .server(addr.to_string())
        .tls(worker_tls)
        .function(f("tls:echo"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let client = Client::builder()
        .server(addr.to_string())
        .tls(client_tls)
        .spawn()
        .unwrap();
    let done = tokio::time::timeout(WAIT, client.call(Job::new(f("tls:echo"), "over tls")))
        .await
        .expect("in time")
        .unwrap();
    assert_eq!(done, Bytes::from_static(b"over tls"));
    worker.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_serves_and_refuses_clients_without_a_trusted_certificate() {
    let pki = Pki::new("mutual");
    let other = Pki::new("other");
    let server = tls_server(&pki, &pki.server("server", &[]), true).await;
    let addr = server.local_addr();
    let (w, c) = (pki.client("worker"), pki.client("client"));
    serve_echo_over_tls(addr, client_tls(&pki, Some(&w)), client_tls(&pki, Some(&c))).await;

    // No client certificate.
    let (why, took) = admin_refusal(addr, client_tls(&pki, None)).await;
    assert!(matches!(why, Some(TlsError::Refused(_))), "{why:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // A client certificate from another CA.
    let stranger = other.client("stranger");
    let (why, took) = admin_refusal(addr, client_tls(&pki, Some(&stranger))).await;
    assert!(matches!(why, Some(TlsError::Refused(_))), "{why:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Trusting another CA than the server's.
    let (why, _) = admin_refusal(addr, client_tls(&other, Some(&stranger))).await;
    assert_eq!(why, Some(TlsError::UnknownIssuer));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificates_and_wrong_names_are_typed_errors() {
    let pki = Pki::new("verify");
    let server = tls_server(&pki, &pki.expired_server("old"), false).await;
    let (why, _) = admin_refusal(server.local_addr(), client_tls(&pki, None)).await;
    assert_eq!(why, Some(TlsError::Expired));
    server.shutdown().await;

    let server = tls_server(&pki, &pki.server("named", &["gearman.test"]), false).await;
    let addr = server.local_addr();
    let wrong = client_tls(&pki, None)
        .with_server_name("elsewhere.test")
        .unwrap();
    let (why, _) = admin_refusal(addr, wrong).await;
    assert_eq!(why, Some(TlsError::WrongName));
    // The right name, given explicitly, and the IP address by default, both verify.
    for tls in [
        client_tls(&pki, None)
            .with_server_name("gearman.test")
            .unwrap(),
        client_tls(&pki, None),
    ] {
        let admin = AdminClient::new(addr.to_string(), WAIT).with_tls(tls);
        assert!(!admin.version().await.unwrap().is_empty());
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_peers_and_stalled_handshakes_are_dropped_while_others_are_served() {
    let pki = Pki::new("hostile");
    let server = tls_server(&pki, &pki.server("server", &[]), false).await;
    let addr = server.local_addr();
    let (plain, stalled) = tokio::task::spawn_blocking(move || {
        // A plaintext ECHO on the TLS port: no ECHO_RES comes back, and the connection ends.
        let mut plain = std::net::TcpStream::connect(addr).unwrap();
        plain.set_read_timeout(Some(WAIT)).unwrap();
        plain.write_all(&raw_packet(16, &[b"hello"])).unwrap();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        while let Ok(n @ 1..) = plain.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        // A peer that connects and says nothing is dropped at the handshake bound (500 ms).
        let started = Instant::now();
        let mut stalled = std::net::TcpStream::connect(addr).unwrap();
        stalled.set_read_timeout(Some(WAIT)).unwrap();
        let n = stalled.read(&mut buf).unwrap_or(0);
        (got, (n, started.elapsed()))
    })
    .await
    .unwrap();
    assert!(!plain.windows(4).any(|w| w == b"\0RES"), "{plain:?}");
    assert_eq!(stalled.0, 0);
    assert!(
        stalled.1 >= Duration::from_millis(400) && stalled.1 < Duration::from_secs(5),
        "{:?}",
        stalled.1
    );
    // Everyone else is still served.
    let admin = AdminClient::new(addr.to_string(), WAIT).with_tls(client_tls(&pki, None));
    assert!(!admin.version().await.unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_takes_new_certificates_and_keeps_live_connections() {
    let old = Pki::new("old-ca");
    let new = Pki::new("new-ca");
    let files = old.server("server", &[]);
    let server = tls_server(&old, &files, false).await;
    let addr = server.local_addr();
    let client = Client::builder()
        .server(addr.to_string())
        .tls(client_tls(&old, None))
        .spawn()
        .unwrap();
    let worker = Worker::builder()
        .server(addr.to_string())
        .tls(client_tls(&old, None))
        .function(f("tls:reload"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let first = tokio::time::timeout(WAIT, client.call(Job::new(f("tls:reload"), "1")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, Bytes::from_static(b"1"));
    // Swap the files for ones from another CA and reload.
    let fresh = new.server("server", &[]);
    std::fs::copy(&fresh.cert, &files.cert).unwrap();
    std::fs::copy(&fresh.key, &files.key).unwrap();
    server.reload_tls().unwrap();
    // New connections see the new certificate ...
    let (why, _) = admin_refusal(addr, client_tls(&old, None)).await;
    assert_eq!(why, Some(TlsError::UnknownIssuer));
    let admin = AdminClient::new(addr.to_string(), WAIT).with_tls(client_tls(&new, None));
    assert!(!admin.version().await.unwrap().is_empty());
    // ... and the live ones go on.
    let second = tokio::time::timeout(WAIT, client.call(Job::new(f("tls:reload"), "2")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second, Bytes::from_static(b"2"));
    // A broken file leaves the last good configuration in use.
    std::fs::write(&files.key, "not a key").unwrap();
    assert!(server.reload_tls().is_err());
    assert!(!admin.version().await.unwrap().is_empty());
    worker.shutdown(Duration::from_secs(1)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_decides_who_registers_submits_and_administers() {
    let pki = Pki::new("acl");
    let files = pki.server("server", &[]);
    let acl = gearman_server::Acl::parse(
        "[w]\nregister = acl:ok$\n[c]\ninvoke = acl:\n[ops]\nadmin = true\n",
    )
    .unwrap();
    let config = ServerConfig {
        tls: Some(ServerTls::new(&files.cert, &files.key).client_ca(pki.ca())),
        acl: Some(acl),
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", config).await.unwrap();
    let addr = server.local_addr();
    let (w, c, ops) = (pki.client("w"), pki.client("c"), pki.client("ops"));
    let worker = Worker::builder()
        .server(addr.to_string())
        .tls(client_tls(&pki, Some(&w)))
        .function(f("acl:ok"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .function(f("acl:secret"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let client = Client::builder()
        .server(addr.to_string())
        .tls(client_tls(&pki, Some(&c)))
        .spawn()
        .unwrap();
    let done = tokio::time::timeout(WAIT, client.call(Job::new(f("acl:ok"), "yes")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done, Bytes::from_static(b"yes"));
    // `w` may not register acl:secret: the server holds no worker for it.
    let stats = server.stats().await.unwrap();
    let workers = |name: &str| {
        stats
            .iter()
            .find(|s| s.function.as_bytes() == name.as_bytes())
            .map_or(0, |s| s.workers)
    };
    assert_eq!((workers("acl:ok"), workers("acl:secret")), (1, 0));
    // `c` may not submit outside acl:..., nor use admin commands; `ops` may.
    let refused = tokio::time::timeout(WAIT, client.call(Job::new(f("other"), "no")))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        refused.to_string().contains("PERMISSION_DENIED"),
        "{refused}"
    );
    let as_c = AdminClient::new(addr.to_string(), WAIT).with_tls(client_tls(&pki, Some(&c)));
    match as_c.status().await {
        Err(AdminClientError::Refused(e)) => assert_eq!(&e.code[..], b"PERMISSION_DENIED"),
        other => panic!("{other:?}"),
    }
    let as_ops = AdminClient::new(addr.to_string(), WAIT).with_tls(client_tls(&pki, Some(&ops)));
    assert!(as_ops.status().await.is_ok());
    assert!(server.acl_refusals() >= 3, "{}", server.acl_refusals());
    worker.shutdown(Duration::from_secs(1)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_worker_is_down_with_the_tls_reason() {
    let pki = Pki::new("retry");
    let server = tls_server(&pki, &pki.server("server", &[]), true).await;
    let worker = Worker::builder()
        .server(server.local_addr().to_string())
        .tls(client_tls(&pki, None))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(50))
        .function(f("tls:never"), |job: WorkerJob| async move {
            Ok(job.data().clone())
        })
        .spawn()
        .unwrap();
    let down_with_tls = || {
        matches!(
            &worker.servers()[0].state,
            gearman_worker::ConnState::Down(e) if matches!(e.tls, Some(TlsError::Refused(_)))
        )
    };
    gearman_testkit::until("the worker is down for TLS", WAIT, || async {
        down_with_tls()
    })
    .await;
    // Later attempts are refused alike: the state stays Down for the same reason.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(down_with_tls());
    assert_eq!(worker.connected(), 0);
    worker.shutdown(Duration::from_secs(1)).await.unwrap();
    server.shutdown().await;
}
