//! A tour of the wire: builds the packets of a job's life, shows their bytes, and reads them back.
//! Given a server it also sends an ECHO and an admin `status` there and prints what came back:
//! the address is the first argument
//! (`cargo run -p gearman-proto --example wire_tour -- 127.0.0.1:4730`), else `GEARMAN_SERVER`
//! (as for every example of this workspace); with neither, only the offline tour runs.

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

    let server = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("GEARMAN_SERVER").ok());
    match server {
        Some(addr) => live(&decoder, &addr),
        None => {
            println!("no server given (argument or GEARMAN_SERVER): offline tour only");
            Ok(())
        }
    }
}

/// Reads at most this many chunks for one answer, each within the socket's read timeout.
const MAX_READS: usize = 1000;

/// An ECHO and an admin `status` on one connection to `addr`.
fn live(decoder: &Decoder, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(&Request::Echo(Bytes::from_static(b"ping")).to_bytes()?)?;
    let mut buf = BytesMut::new();
    let mut echoed = None;
    for _ in 0..MAX_READS {
        if let Some(p) = decoder.decode(&mut buf)? {
            echoed = Some(Response::try_from(p)?);
            break;
        }
        read_more(&mut s, &mut buf)?;
    }
    let echoed = echoed.ok_or("no ECHO_RES")?;
    println!("{addr} answered {echoed:?}");
    let mut line = Vec::new();
    AdminCommand::Status.encode(&mut line)?;
    s.write_all(&line)?;
    let mut reader = ReplyReader::new();
    let mut reply = None;
    for _ in 0..MAX_READS {
        if let Some(r) = reader.read(&AdminCommand::Status, &mut buf)? {
            reply = Some(r);
            break;
        }
        read_more(&mut s, &mut buf)?;
    }
    let reply = reply.ok_or("no status reply")?;
    println!("{addr} status: {reply:?}");
    Ok(())
}

/// One read from `s` appended to `buf`; a closed connection is an error.
fn read_more(s: &mut TcpStream, buf: &mut BytesMut) -> Result<(), Box<dyn std::error::Error>> {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk)?;
    if n == 0 {
        return Err("server closed the connection".into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}
