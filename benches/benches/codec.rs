//! Codec benchmarks: gearman-proto beside the two strongest Rust peers, the `gearman` crate 0.2
//! and `rustygear` 0.15, in the same groups so that every ratio comes from one run.
//!
//! Decoding is measured from a fresh receive buffer per iteration (built outside the timing).
//! `ours` decodes and builds the typed, validated message; `ours-framing` only cuts the packet;
//! `gearman-0.2` cuts and splits the fields; `rustygear` cuts without splitting. Encoding starts
//! from the message each library's API takes: for `rustygear` that is a pre-joined body, so the
//! join is part of its cost.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gearman_peer::protocol::{GearmanCodec as PeerCodec, Packet as PeerPacket, PacketType};
use gearman_proto::{
    Decoder, FunctionName, GrabKind, JobAssign, JobHandle, Magic, Packet, Request, Response,
    UniqueId,
};
use rustygear::codec::{Packet as RgPacket, PacketCodec as RgCodec, PacketMagic as RgMagic};
use tokio_util::codec::{Decoder as _, Encoder as _};

/// A message of either direction.
#[derive(Clone)]
enum Msg {
    Req(Request),
    Res(Response),
}

impl Msg {
    fn encode(&self, buf: &mut BytesMut) {
        match self {
            Self::Req(r) => r.encode(buf).unwrap(),
            Self::Res(r) => r.encode(buf).unwrap(),
        }
    }

    fn to_bytes(&self) -> BytesMut {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf
    }

    /// Decodes into the typed form, as a client, worker or server would.
    fn typed(&self, packet: Packet) {
        match self {
            Self::Req(_) => drop(std::hint::black_box(Request::try_from(packet).unwrap())),
            Self::Res(_) => drop(std::hint::black_box(Response::try_from(packet).unwrap())),
        }
    }
}

struct Case {
    name: &'static str,
    message: Msg,
    count: usize,
}

fn assign(data_len: usize) -> Msg {
    Msg::Res(Response::JobAssign(JobAssign {
        handle: JobHandle::try_from("H:bench:1234567").unwrap(),
        function: FunctionName::try_from("build:nova-py27:trusty").unwrap(),
        unique: Some(UniqueId::try_from("0b6c1c5e-9f3a-4a43-8d2b-6a1f1e0c7d11").unwrap()),
        reducer: None,
        data: Bytes::from(vec![b'x'; data_len]),
    }))
}

fn complete(data_len: usize) -> Msg {
    Msg::Res(Response::Work(gearman_proto::WorkUpdate::Complete {
        handle: JobHandle::try_from("H:bench:1234567").unwrap(),
        data: Bytes::from(vec![b'r'; data_len]),
    }))
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "grab_job",
            message: Msg::Req(Request::Grab(GrabKind::Plain)),
            count: 1,
        },
        Case {
            name: "job_assign_uniq_100B",
            message: assign(100),
            count: 1,
        },
        Case {
            name: "work_complete_64KiB",
            message: complete(64 << 10),
            count: 1,
        },
        Case {
            name: "work_complete_16MiB",
            message: complete(16 << 20),
            count: 1,
        },
        Case {
            name: "stream_10k_job_assign_uniq_100B",
            message: assign(100),
            count: 10_000,
        },
    ]
}

fn wire(case: &Case) -> BytesMut {
    let mut buf = BytesMut::new();
    for _ in 0..case.count {
        case.message.encode(&mut buf);
    }
    buf
}

fn bench_decode(c: &mut Criterion) {
    for case in cases() {
        let wire = wire(&case);
        let mut g = c.benchmark_group(format!("decode/{}", case.name));
        if case.count > 1 {
            g.throughput(Throughput::Elements(case.count as u64));
        } else {
            g.throughput(Throughput::Bytes(wire.len() as u64));
        }
        if wire.len() > 1 << 20 {
            g.sample_size(10);
        }
        let size = if wire.len() > 1 << 20 {
            BatchSize::LargeInput
        } else {
            BatchSize::SmallInput
        };
        let n = case.count;
        let msg = case.message.clone();
        g.bench_function("ours", |b| {
            let decoder = Decoder::new();
            b.iter_batched(
                || wire.clone(),
                |mut buf| {
                    for _ in 0..n {
                        msg.typed(decoder.decode(&mut buf).unwrap().unwrap());
                    }
                },
                size,
            )
        });
        g.bench_function("ours-framing", |b| {
            let decoder = Decoder::new();
            b.iter_batched(
                || wire.clone(),
                |mut buf| {
                    for _ in 0..n {
                        std::hint::black_box(decoder.decode(&mut buf).unwrap().unwrap());
                    }
                },
                size,
            )
        });
        g.bench_function("gearman-0.2", |b| {
            let mut codec = PeerCodec::new();
            b.iter_batched(
                || wire.clone(),
                |mut buf| {
                    for _ in 0..n {
                        std::hint::black_box(codec.decode(&mut buf).unwrap().unwrap());
                    }
                },
                size,
            )
        });
        g.bench_function("rustygear", |b| {
            let mut codec = RgCodec;
            b.iter_batched(
                || wire.clone(),
                |mut buf| {
                    for _ in 0..n {
                        std::hint::black_box(codec.decode(&mut buf).unwrap().unwrap());
                    }
                },
                size,
            )
        });
        g.finish();
    }
}

/// The message as the peers take it: type number and fields.
fn peer_parts(msg: &Msg) -> (u32, bool, Vec<Bytes>) {
    let bytes = msg.to_bytes();
    let mut buf = BytesMut::from(&bytes[..]);
    let p = Decoder::new().decode(&mut buf).unwrap().unwrap();
    let fields = p.fields().map(|f| p.body().slice_ref(f)).collect();
    (p.ty().0, p.magic() == Magic::Req, fields)
}

fn bench_encode(c: &mut Criterion) {
    for case in cases() {
        let mut g = c.benchmark_group(format!("encode/{}", case.name));
        let len = case.message.to_bytes().len() * case.count;
        if case.count > 1 {
            g.throughput(Throughput::Elements(case.count as u64));
        } else {
            g.throughput(Throughput::Bytes(len as u64));
        }
        if len > 1 << 20 {
            g.sample_size(10);
        }
        let n = case.count;
        let msg = case.message.clone();
        let (ty, request, fields) = peer_parts(&msg);
        g.bench_function("ours", |b| {
            let mut buf = BytesMut::with_capacity(len);
            b.iter(|| {
                buf.clear();
                for _ in 0..n {
                    msg.encode(&mut buf);
                }
                std::hint::black_box(&buf);
            })
        });
        g.bench_function("gearman-0.2", |b| {
            let mut codec = PeerCodec::new();
            let ptype = PacketType::try_from(ty).unwrap();
            let mut buf = BytesMut::with_capacity(len);
            b.iter(|| {
                buf.clear();
                for _ in 0..n {
                    let p = if request {
                        PeerPacket::request(ptype, fields.clone())
                    } else {
                        PeerPacket::response(ptype, fields.clone())
                    };
                    codec.encode(p, &mut buf).unwrap();
                }
                std::hint::black_box(&buf);
            })
        });
        g.bench_function("rustygear", |b| {
            let mut codec = RgCodec;
            let mut buf = BytesMut::with_capacity(len);
            b.iter(|| {
                buf.clear();
                for _ in 0..n {
                    let body = Bytes::from(fields.join(&0u8));
                    let p = RgPacket {
                        magic: if request { RgMagic::REQ } else { RgMagic::RES },
                        ptype: ty,
                        psize: body.len() as u32,
                        data: body,
                    };
                    codec.encode(p, &mut buf).unwrap();
                }
                std::hint::black_box(&buf);
            })
        });
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = bench_decode, bench_encode }
criterion_main!(benches);
