//! A tour of the wire: builds the packets of a job's life, shows their bytes, and reads them back.
//! With an address (`cargo run -p gearman-proto --example wire_tour -- 127.0.0.1:4730`) it also
//! sends an ECHO and an admin `status` to that server and prints what came back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gearman_proto::admin::{AdminCommand, ReplyReader};
use gearman_proto::{
    Decoder, FunctionName, GrabKind, JobAssign, JobHandle, Packet, Priority, Request, Response,
    Submit, UniqueId, WorkUpdate,
};

fn show(label: &str, wire: &[u8], packet: &Packet, typed: &dyn std::fmt::Debug) {
    let hex: Vec<String> = wire.iter().take(40).map(|b| format!("{b:02x}")).collect();
    let more = if wire.len() > 40 { " ..." } else { "" };
    println!(
        "{label:<10} {:<16} {}{more}",
        format!("{:?}", packet.ty()),
        hex.join(" ")
    );
    println!("{:<10} {typed:?}", "");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = JobHandle::try_from("H:vm:1")?;
    let function = FunctionName::try_from("reverse")?;
    let requests = [
        ("worker", Request::CanDo(function.clone())),
        (
            "client",
            Request::Submit(Submit {
                function: function.clone(),
                unique: UniqueId::try_from("u1")?,
                data: Bytes::from_static(b"hello\0world"),
                priority: Priority::Normal,
                background: false,
            }),
        ),
        ("worker", Request::Grab(GrabKind::Uniq)),
        (
            "worker",
            Request::Work(WorkUpdate::Complete {
                handle: handle.clone(),
                data: Bytes::from_static(b"dlrow\0olleh"),
            }),
        ),
    ];
    let responses = [
        ("server", Response::JobCreated(handle.clone())),
        (
            "server",
            Response::JobAssign(JobAssign {
                handle: handle.clone(),
                function,
                unique: Some(UniqueId::try_from("u1")?),
                reducer: None,
                data: Bytes::from_static(b"hello\0world"),
            }),
        ),
    ];
    let decoder = Decoder::new();
    for (who, req) in &requests {
        let wire = req.to_bytes()?;
        let packet = decoder
            .decode(&mut BytesMut::from(&wire[..]))?
            .ok_or("incomplete")?;
        show(who, &wire, &packet, &Request::try_from(&packet)?);
    }
    for (who, res) in &responses {
        let wire = res.to_bytes()?;
        let packet = decoder
            .decode(&mut BytesMut::from(&wire[..]))?
            .ok_or("incomplete")?;
        show(who, &wire, &packet, &Response::try_from(&packet)?);
    }
    let oversize = b"\0REQ\0\0\0\x10\xff\xff\xff\xff";
    match decoder.decode(&mut BytesMut::from(&oversize[..])) {
        Err(e) => println!("4 GiB header -> {e}"),
        Ok(_) => return Err("a 4 GiB header was not refused".into()),
    }

    if let Some(addr) = std::env::args().nth(1) {
        let mut s = TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(&Request::Echo(Bytes::from_static(b"ping")).to_bytes()?)?;
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        let echoed = loop {
            if let Some(p) = decoder.decode(&mut buf)? {
                break Response::try_from(p)?;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        println!("{addr} answered {echoed:?}");
        let mut line = Vec::new();
        AdminCommand::Status.encode(&mut line)?;
        s.write_all(&line)?;
        let mut reader = ReplyReader::new();
        let reply = loop {
            if let Some(r) = reader.read(&AdminCommand::Status, &mut buf)? {
                break r;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        println!("{addr} status: {reply:?}");
    }
    Ok(())
}
