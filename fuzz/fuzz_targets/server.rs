//! Random byte streams from four connections into the server, through the same decoding and
//! sorting the listener does (`gearman_server::inbound`), with a clock that moves and
//! connections that drop: no panic, every response encodable, no connection buffering past the
//! cap however large a header claims, and the core's indexes consistent after every step.
//!
//! Input: a first byte whose low bit turns the job store on, then a sequence of ops.
//! `0..=3 L bytes...`: connection k receives L bytes. `4 n`: the clock moves n x 100 ms.
//! `5 k`: connection k drops and a new one takes its place. `6 b`: the store finishes its
//! oldest write, successfully when b is even (with the store on; nothing otherwise).
#![no_main]

use bytes::BytesMut;
use gearman_proto::Decoder;
use gearman_server::inbound::{classify, Inbound};
use gearman_server::{ConnId, CoreConfig, ServerCore};
use libfuzzer_sys::fuzz_target;

const MAX_BODY: u32 = 4096;
const MAX_LINE: usize = 1024;

struct Conn {
    id: ConnId,
    buf: BytesMut,
}

fuzz_target!(|data: &[u8]| {
    let mut core = ServerCore::new(CoreConfig {
        max_retries: Some(3),
        max_jobs: 64,
        ..CoreConfig::default()
    });
    let mut now = 1_800_000_000_000u64;
    core.advance(now);
    let decoder = Decoder::new()
        .with_max_body(MAX_BODY)
        .with_max_line(MAX_LINE);
    let mut conns: Vec<Conn> = (0..4)
        .map(|_| Conn {
            id: core.connect(),
            buf: BytesMut::new(),
        })
        .collect();
    let Some((&mode, mut input)) = data.split_first() else { return };
    // The store's writes not yet finished, oldest first.
    let mut writes: std::collections::VecDeque<Vec<u64>> = std::collections::VecDeque::new();
    if mode & 1 == 1 {
        core.enable_store(Vec::new());
    }
    let mut out = BytesMut::new();
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        match op % 7 {
            k @ 0..=3 => {
                let Some((&len, rest)) = input.split_first() else { break };
                let take = usize::from(len).min(rest.len());
                let (chunk, rest) = rest.split_at(take);
                input = rest;
                let conn = &mut conns[usize::from(k)];
                conn.buf.extend_from_slice(chunk);
                let mut close = false;
                while let Some(frame) = decoder.decode_frame(&mut conn.buf).transpose() {
                    match classify(frame, true) {
                        Inbound::Request(req) => core.handle(conn.id, *req),
                        Inbound::Admin(cmd) => {
                            out.clear();
                            core.admin(&cmd).encode(&mut out);
                        }
                        Inbound::Reply(res) => {
                            out.clear();
                            res.encode(&mut out).expect("the server's own ERROR encodes");
                        }
                        Inbound::Text(_) => {}
                        Inbound::Close(_) => {
                            close = true;
                            break;
                        }
                    }
                }
                // However large a header claims, a connection holds no more than one packet
                // at the cap, or one line at its cap, plus what one read brought.
                assert!(conn.buf.len() <= MAX_BODY as usize + 12 + 256);
                assert!(conn.buf.capacity() <= 4 * (MAX_BODY as usize + 12 + 256).max(MAX_LINE));
                if close {
                    core.disconnect(conn.id);
                    conn.id = core.connect();
                    conn.buf.clear();
                }
            }
            4 => {
                let Some((&n, rest)) = input.split_first() else { break };
                input = rest;
                now += u64::from(n) * 100;
                core.advance(now);
            }
            6 => {
                let Some((&b, rest)) = input.split_first() else { break };
                input = rest;
                if let Some(added) = writes.pop_front() {
                    core.store_done(&added, b % 2 == 0);
                }
            }
            _ => {
                let Some((&k, rest)) = input.split_first() else { break };
                input = rest;
                let conn = &mut conns[usize::from(k % 4)];
                core.disconnect(conn.id);
                conn.id = core.connect();
                conn.buf.clear();
            }
        }
        let ops = core.take_store_ops();
        if !ops.is_empty() {
            writes.push_back(
                ops.iter()
                    .filter_map(|op| match op {
                        gearman_server::store::StoreOp::Add(job) => Some(job.id),
                        gearman_server::store::StoreOp::Remove(_) => None,
                    })
                    .collect(),
            );
        }
        while let Some((_, res)) = core.poll_output() {
            out.clear();
            res.encode(&mut out).expect("every response the core makes encodes");
        }
        if let Err(e) = core.check_consistency() {
            panic!("inconsistent core: {e}");
        }
    }
});
