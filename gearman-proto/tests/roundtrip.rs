//! Properties: every message round-trips through bytes, and decoding a stream in arbitrary chunks
//! gives the same packets as decoding it at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::{
    AdminCommand, AdminReply, ErrReply, JobRow, PriorityStatusRow, ReplyReader, StatusRow,
    WorkerRow,
};
use gearman_proto::{
    ClientId, Decoder, ErrorPacket, FunctionName, GrabKind, JobAssign, JobHandle, JobStatus,
    OptionName, Packet, Priority, Request, Response, Schedule, Submit, SubmitReduce, UniqueId,
    UniqueStatus, WorkUpdate,
};
use proptest::prelude::*;

fn text(min: usize, max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(1u8..=255, min..=max).prop_map(Bytes::from)
}

fn data() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from)
}

fn function() -> impl Strategy<Value = FunctionName> {
    text(1, 40).prop_map(|b| FunctionName::new(b).unwrap())
}

fn unique() -> impl Strategy<Value = UniqueId> {
    text(0, 63).prop_map(|b| UniqueId::new(b).unwrap())
}

fn handle() -> impl Strategy<Value = JobHandle> {
    text(1, 63).prop_map(|b| JobHandle::new(b).unwrap())
}

fn option() -> impl Strategy<Value = OptionName> {
    text(1, 63).prop_map(|b| OptionName::new(b).unwrap())
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![
        Just(Priority::High),
        Just(Priority::Normal),
        Just(Priority::Low)
    ]
}

fn work() -> impl Strategy<Value = WorkUpdate> {
    prop_oneof![
        (handle(), any::<i64>(), any::<i64>()).prop_map(|(handle, numerator, denominator)| {
            WorkUpdate::Status {
                handle,
                numerator,
                denominator,
            }
        }),
        (handle(), data()).prop_map(|(handle, data)| WorkUpdate::Data { handle, data }),
        (handle(), data()).prop_map(|(handle, data)| WorkUpdate::Warning { handle, data }),
        (handle(), data()).prop_map(|(handle, data)| WorkUpdate::Complete { handle, data }),
        handle().prop_map(|handle| WorkUpdate::Fail { handle }),
        (handle(), data()).prop_map(|(handle, data)| WorkUpdate::Exception { handle, data }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        function().prop_map(Request::CanDo),
        (function(), any::<u32>()).prop_map(|(function, timeout_ms)| Request::CanDoTimeout {
            function,
            timeout_ms
        }),
        function().prop_map(Request::CantDo),
        Just(Request::ResetAbilities),
        Just(Request::PreSleep),
        prop_oneof![
            Just(GrabKind::Plain),
            Just(GrabKind::Uniq),
            Just(GrabKind::All)
        ]
        .prop_map(Request::Grab),
        (function(), unique(), data(), priority(), any::<bool>()).prop_map(
            |(function, unique, data, priority, background)| {
                Request::Submit(Submit {
                    function,
                    unique,
                    data,
                    priority,
                    background,
                })
            }
        ),
        (function(), unique(), any::<u64>(), data()).prop_map(|(function, unique, epoch, data)| {
            Request::SubmitEpoch {
                function,
                unique,
                epoch,
                data,
            }
        }),
        (
            function(),
            unique(),
            prop::array::uniform5(text(0, 4)),
            data()
        )
            .prop_map(
                |(function, unique, [minute, hour, day_of_month, month, day_of_week], data)| {
                    Request::SubmitSched {
                        function,
                        unique,
                        schedule: Schedule {
                            minute,
                            hour,
                            day_of_month,
                            month,
                            day_of_week,
                        },
                        data,
                    }
                }
            ),
        (
            function(),
            unique(),
            function(),
            text(0, 8),
            data(),
            any::<bool>()
        )
            .prop_map(
                |(function, unique, reducer, aggregator, data, background)| {
                    Request::SubmitReduce(SubmitReduce {
                        function,
                        unique,
                        reducer,
                        aggregator,
                        data,
                        background,
                    })
                }
            ),
        work().prop_map(Request::Work),
        handle().prop_map(Request::GetStatus),
        unique().prop_map(Request::GetStatusUnique),
        data().prop_map(Request::Echo),
        text(1, 254).prop_map(|b| Request::SetClientId(ClientId::new(b).unwrap())),
        Just(Request::AllYours),
        option().prop_map(Request::Option),
    ]
}

fn flag_num() -> impl Strategy<Value = (bool, bool, Option<u32>, Option<u32>)> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
    )
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::Noop),
        handle().prop_map(Response::JobCreated),
        Just(Response::NoJob),
        (handle(), function(), prop::option::of(unique()), data()).prop_map(
            |(handle, function, unique, data)| Response::JobAssign(JobAssign {
                handle,
                function,
                unique,
                reducer: None,
                data,
            })
        ),
        (handle(), function(), unique(), function(), data()).prop_map(
            |(handle, function, unique, reducer, data)| Response::JobAssign(JobAssign {
                handle,
                function,
                unique: Some(unique),
                reducer: Some(reducer),
                data,
            })
        ),
        work().prop_map(Response::Work),
        data().prop_map(Response::Echo),
        (text(0, 20), text(0, 60))
            .prop_map(|(code, text)| Response::Error(ErrorPacket { code, text })),
        (handle(), flag_num()).prop_map(|(handle, (known, running, numerator, denominator))| {
            Response::Status(JobStatus {
                handle,
                known,
                running,
                numerator,
                denominator,
            })
        }),
        (unique(), flag_num(), any::<u32>()).prop_map(
            |(unique, (known, running, numerator, denominator), waiting_clients)| {
                Response::StatusUnique(UniqueStatus {
                    unique,
                    known,
                    running,
                    numerator,
                    denominator,
                    waiting_clients,
                })
            }
        ),
        option().prop_map(Response::Option),
    ]
}

fn decode_one(bytes: &[u8]) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let p = Decoder::new().decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty());
    p
}

fn decode_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Packet> {
    let decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    bounds.push(bytes.len());
    bounds.sort_unstable();
    for end in bounds {
        buf.extend_from_slice(&bytes[at..end.max(at)]);
        at = end.max(at);
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            out.push(p);
        }
    }
    assert!(buf.is_empty());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(req in request()) {
        let bytes = req.to_bytes().unwrap();
        prop_assert_eq!(Request::from_packet(&decode_one(&bytes)).unwrap(), req);
    }

    #[test]
    fn responses_round_trip(res in response()) {
        let bytes = res.to_bytes().unwrap();
        prop_assert_eq!(Response::from_packet(&decode_one(&bytes)).unwrap(), res);
    }

    #[test]
    fn chunked_decoding_equals_whole(
        reqs in prop::collection::vec(request(), 1..20),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        let mut wire = BytesMut::new();
        for r in &reqs {
            r.encode(&mut wire).unwrap();
        }
        let whole = decode_chunked(&wire, &[]);
        let pieces = decode_chunked(&wire, &cuts);
        prop_assert_eq!(&whole, &pieces);
        let typed: Vec<Request> = pieces.iter().map(|p| Request::from_packet(p).unwrap()).collect();
        prop_assert_eq!(typed, reqs);
    }

    #[test]
    fn admin_status_replies_round_trip(
        rows in prop::collection::vec(("[a-z0-9:_.-]{1,20}", any::<u32>(), any::<u32>(), any::<u32>()), 0..20),
        prio in prop::collection::vec(("[a-z0-9:_.-]{1,20}", any::<[u32; 4]>()), 0..20),
        workers in prop::collection::vec(
            (any::<i64>(), "[0-9.:]{1,15}", prop::option::of("[a-zA-Z0-9_ -]{0,9}[a-zA-Z0-9_-]"),
             prop::collection::vec("[a-z0-9:_.-]{1,20}", 0..5)), 0..10),
        jobs in prop::collection::vec(("H:[a-z0-9]{1,10}:[0-9]{1,5}", any::<u32>(), any::<bool>(), any::<bool>()), 0..10),
    ) {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let replies = [
            (AdminCommand::Status, AdminReply::Status(rows.iter().map(|(f, t, r, w)| StatusRow {
                function: b(f), total: *t, running: *r, workers: *w }).collect())),
            (AdminCommand::PriorityStatus, AdminReply::PriorityStatus(prio.iter().map(|(f, [h, n, l, w])| PriorityStatusRow {
                function: b(f), high: *h, normal: *n, low: *l, workers: *w }).collect())),
            (AdminCommand::Workers, AdminReply::Workers(workers.iter().map(|(fd, ip, id, fs)| WorkerRow {
                fd: *fd, ip: b(ip), client_id: id.as_deref().filter(|i| *i != "-").map(b),
                functions: fs.iter().map(|f| b(f)).collect() }).collect())),
            (AdminCommand::ShowJobs, AdminReply::Jobs(jobs.iter().map(|(h, r, i, q)| JobRow {
                handle: b(h), retries: *r, ignore: *i, queued: *q }).collect())),
            (AdminCommand::Version, AdminReply::Ok(b("1.1.20+ds"))),
            (AdminCommand::Status, AdminReply::Err(ErrReply { code: b("UNKNOWN_COMMAND"), text: b("Unknown+server+command") })),
        ];
        let mut wire = BytesMut::new();
        for (_, reply) in &replies {
            reply.encode(&mut wire);
        }
        let mut reader = ReplyReader::new();
        for (cmd, reply) in replies {
            prop_assert_eq!(reader.read(&cmd, &mut wire).unwrap(), Some(reply));
        }
        prop_assert!(wire.is_empty());
    }
}
