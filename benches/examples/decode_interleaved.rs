//! Decode timings of gearman-proto beside the `gearman` crate 0.2, interleaved: every round times
//! each contender once on fresh copies of the same wire bytes, so that a neighbour's load on a
//! shared machine falls on all of them alike. Prints the minimum and median per packet over the
//! rounds, and the ratios (gearman 0.2's time over ours: above 1 means ours is faster).
//!
//! `cargo run --release -p gearman-benches --example decode_interleaved -- [ROUNDS]`
//!
//! *typed* decodes and builds the typed message, *framing* only cuts the packet, `gearman` 0.2
//! cuts and splits the fields into a `Vec`: the same three as `benches/codec.rs`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use gearman_peer::protocol::GearmanCodec as PeerCodec;
use gearman_proto::{
    Decoder, FunctionName, GrabKind, JobAssign, JobHandle, Request, Response, UniqueId, WorkUpdate,
};
use tokio_util::codec::Decoder as _;

fn wire(message: &Response, count: usize) -> BytesMut {
    let mut buf = BytesMut::new();
    for _ in 0..count {
        message.encode(&mut buf).unwrap();
    }
    buf
}

/// Nanoseconds per packet for one contender over `batch` fresh buffers of `n` packets.
fn time(which: usize, wire: &BytesMut, n: usize, request: bool, batch: usize) -> f64 {
    let bufs: Vec<BytesMut> = (0..batch).map(|_| wire.clone()).collect();
    let decoder = Decoder::new();
    let mut peer = PeerCodec::new();
    let start = Instant::now();
    for mut buf in bufs {
        for _ in 0..n {
            match which {
                0 => {
                    let p = decoder.decode(&mut buf).unwrap().unwrap();
                    if request {
                        drop(black_box(Request::try_from(p).unwrap()));
                    } else {
                        drop(black_box(Response::try_from(p).unwrap()));
                    }
                }
                1 => drop(black_box(decoder.decode(&mut buf).unwrap().unwrap())),
                _ => drop(black_box(peer.decode(&mut buf).unwrap().unwrap())),
            }
        }
    }
    start.elapsed().as_nanos() as f64 / (batch * n) as f64
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(30, |s| s.parse().expect("ROUNDS is a number"));
    let assign = Response::JobAssign(JobAssign {
        handle: JobHandle::try_from("H:bench:1234567").unwrap(),
        function: FunctionName::try_from("build:nova-py27:trusty").unwrap(),
        unique: Some(UniqueId::try_from("0b6c1c5e-9f3a-4a43-8d2b-6a1f1e0c7d11").unwrap()),
        reducer: None,
        data: Bytes::from(vec![b'x'; 100]),
    });
    let complete = Response::Work(WorkUpdate::Complete {
        handle: JobHandle::try_from("H:bench:1234567").unwrap(),
        data: Bytes::from(vec![b'r'; 64 << 10]),
    });
    let mut grab = BytesMut::new();
    Request::Grab(GrabKind::Plain).encode(&mut grab).unwrap();
    // (name, wire, packets per buffer, request?, buffers per round)
    let cases = [
        ("grab_job", grab, 1, true, 2000),
        ("job_assign_uniq_100B", wire(&assign, 1), 1, false, 2000),
        ("work_complete_64KiB", wire(&complete, 1), 1, false, 200),
        (
            "stream_10k_job_assign_uniq_100B",
            wire(&assign, 10_000),
            10_000,
            false,
            3,
        ),
    ];
    for (name, wire, n, request, batch) in cases {
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (which, t) in times.iter_mut().enumerate() {
                t.push(time(which, &wire, n, request, batch));
            }
        }
        let [typed, framing, peer] = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[0], t[t.len() / 2])
        });
        println!(
            "{name}: typed {:.1}/{:.1} ns, framing {:.1}/{:.1} ns, gearman-0.2 {:.1}/{:.1} ns \
             (min/median per packet); gearman/typed {:.2}x/{:.2}x, gearman/framing {:.2}x/{:.2}x",
            typed.0,
            typed.1,
            framing.0,
            framing.1,
            peer.0,
            peer.1,
            peer.0 / typed.0,
            peer.1 / typed.1,
            peer.0 / framing.0,
            peer.1 / framing.1,
        );
    }
}
