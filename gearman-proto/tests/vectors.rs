//! Decodes every byte vector in `testdata/vectors`, compares the typed result (or the error) with
//! the vector's `expect:` line, and re-encodes it byte for byte.
//!
//! Vector format: `#` comments; `as: request|response|framing`; `expect: <Debug form>` or
//! `expect: error: <Display form>`; optional `reencode: <bytes>` where encoding normalises; then
//! the bytes, as hex (`00 52`, `00000010`), quoted text with `\0 \n \r \t \\ \" \xNN` escapes,
//! `"X"x63` for repetition, and `|` as a visual separator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use gearman_proto::{Decoder, Request, Response};

struct Vector {
    name: String,
    kind: String,
    expect: String,
    reencode: Option<Vec<u8>>,
    bytes: Vec<u8>,
}

fn parse_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '|' => {}
            '"' => {
                let mut s = Vec::new();
                loop {
                    match chars.next().expect("unterminated string") {
                        '"' => break,
                        '\\' => match chars.next().expect("dangling escape") {
                            '0' => s.push(0),
                            'n' => s.push(b'\n'),
                            'r' => s.push(b'\r'),
                            't' => s.push(b'\t'),
                            '\\' => s.push(b'\\'),
                            '"' => s.push(b'"'),
                            'x' => {
                                let hex: String = chars.by_ref().take(2).collect();
                                s.push(u8::from_str_radix(&hex, 16).expect("bad \\x escape"));
                            }
                            other => panic!("unknown escape \\{other}"),
                        },
                        c => s.extend_from_slice(c.to_string().as_bytes()),
                    }
                }
                let times = if chars.peek() == Some(&'x') {
                    chars.next();
                    let mut n = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        n.push(*d);
                        chars.next();
                    }
                    n.parse().expect("bad repeat count")
                } else {
                    1
                };
                for _ in 0..times {
                    out.extend_from_slice(&s);
                }
            }
            h if h.is_ascii_hexdigit() => {
                let lo = chars.next().expect("odd number of hex digits");
                let pair: String = [h, lo].iter().collect();
                out.push(u8::from_str_radix(&pair, 16).expect("bad hex"));
            }
            other => panic!("unexpected character {other:?}"),
        }
    }
    out
}

fn load(path: &Path) -> Vector {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut kind, mut expect, mut reencode, mut data) = (None, None, None, String::new());
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        } else if let Some(v) = line.strip_prefix("as: ") {
            kind = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("expect: ") {
            expect = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("reencode: ") {
            reencode = Some(parse_bytes(v));
        } else {
            data.push_str(line);
            data.push('\n');
        }
    }
    Vector {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        kind: kind.expect("as: line"),
        expect: expect.expect("expect: line"),
        reencode,
        bytes: parse_bytes(&data),
    }
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// Checks one vector; returns the packet type number it framed, if any.
fn check(v: &Vector) -> Result<Option<u32>, String> {
    let mut buf = BytesMut::from(&v.bytes[..]);
    let framed = Decoder::new().decode(&mut buf);
    if v.kind == "framing" {
        return match framed {
            Err(e) if format!("error: {e}") == v.expect => Ok(None),
            other => Err(format!("expected {}, got {other:?}", v.expect)),
        };
    }
    let packet = match framed {
        Ok(Some(p)) if buf.is_empty() => p,
        Ok(Some(_)) => return Err(format!("{} bytes left after the packet", buf.len())),
        other => return Err(format!("framing: {other:?} (check the size field)")),
    };
    let ty = packet.ty().0;
    let (got, encoded) = match v.kind.as_str() {
        "request" => match Request::from_packet(&packet) {
            Ok(m) => (
                format!("{m:?}"),
                Some(m.to_bytes().map_err(|e| e.to_string())?),
            ),
            Err(e) => (format!("error: {e}"), None),
        },
        "response" => match Response::from_packet(&packet) {
            Ok(m) => (
                format!("{m:?}"),
                Some(m.to_bytes().map_err(|e| e.to_string())?),
            ),
            Err(e) => (format!("error: {e}"), None),
        },
        other => return Err(format!("unknown kind {other}")),
    };
    if got != v.expect {
        return Err(format!("\n  expected {}\n       got {got}", v.expect));
    }
    if let Some(encoded) = encoded {
        let want = v.reencode.as_deref().unwrap_or(&v.bytes);
        if encoded[..] != *want {
            return Err(format!("re-encoded as {encoded:?}, want {want:?}"));
        }
    }
    Ok(Some(ty))
}

#[test]
fn every_vector_decodes_and_reencodes() {
    let all = vectors();
    assert!(all.len() >= 50, "only {} vectors found", all.len());
    let mut failures = Vec::new();
    let mut types = BTreeSet::new();
    for v in &all {
        match check(v) {
            Ok(ty) => types.extend(ty),
            Err(e) => failures.push(format!("{}: {e}", v.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let missing: Vec<u32> = (0..=42).filter(|t| !types.contains(t)).collect();
    assert!(missing.is_empty(), "no vector for packet types {missing:?}");
}

#[test]
fn every_vector_decodes_the_same_byte_by_byte() {
    let decoder = Decoder::new();
    for v in vectors() {
        let mut whole = BytesMut::from(&v.bytes[..]);
        let at_once = decoder.decode(&mut whole);
        let mut buf = BytesMut::new();
        let mut trickled = Ok(None);
        for &b in &v.bytes {
            buf.extend_from_slice(&[b]);
            trickled = decoder.decode(&mut buf);
            if !matches!(trickled, Ok(None)) {
                break;
            }
        }
        assert_eq!(at_once, trickled, "{}", v.name);
    }
}
