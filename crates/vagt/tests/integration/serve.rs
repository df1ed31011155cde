//! `vagt serve` over real loopback sockets: answers, dedup, limits, metrics, shutdown.

use std::io::{Read, Write};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use vagt_dc09::{
    Content, Frame, FrameDecoder, Header, HexField, Key, Sequence, Timestamp, Token, Tolerance,
    encode_frame,
};
use vagt_proto::{Settings, process};
use vagt_testkit::vectors;

use crate::gateway::{Gateway, config_with, export, read_frames, sia};

fn parse(bytes: &[u8]) -> Frame {
    let raw = FrameDecoder::default()
        .decode(&mut BytesMut::from(bytes))
        .unwrap()
        .unwrap();
    Frame::parse(&raw, &Tolerance::default()).unwrap()
}

/// What the protocol function says a clear vector gets, for the gateway's account set.
fn expected_answer(frame: &[u8]) -> Option<Vec<u8>> {
    let now = Timestamp::parse(b"12:00:00,01-01-2030").unwrap();
    let mut buf = BytesMut::from(frame);
    let raw = FrameDecoder::new(1024).decode(&mut buf).ok()??;
    let accounts = vagt_records::Accounts::parse(crate::gateway::ACCOUNTS).unwrap();
    let p = process(&raw, &Settings::default(), now, |f| accounts.key_for(f));
    p.response.encode(now, &mut rand::rng()).unwrap()
}

#[test]
fn clear_vectors_get_the_protocol_answer_over_tcp_and_udp() {
    let g = Gateway::start(&[]);
    let mut checked = 0;
    for v in vectors().iter().filter(|v| v.kind == "dc09_frame") {
        let frame = v.frame();
        // Clear, single, complete frames whose answer does not carry our clock.
        let Some(want) = expected_answer(&frame) else {
            continue;
        };
        if want.windows(5).any(|w| w == b"\"NAK\"")
            || frame.iter().filter(|&&b| b == b'\n').count() != 1
        {
            continue;
        }
        let tcp = g.exchange(&frame, 1);
        assert_eq!(tcp[0], want, "{} over TCP", v.name);
        assert_eq!(g.udp(&frame), want, "{} over UDP", v.name);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} vectors exercised");
    // NAK answers carry the receiver's time: check their fixed header.
    let nak = g.exchange(
        &vectors()
            .iter()
            .find(|v| v.name == "seq_non_numeric")
            .unwrap()
            .frame(),
        1,
    );
    assert!(nak[0].starts_with(b"\n") && nak[0].windows(16).any(|w| w == b"\"NAK\"0000R0L0A0["));
}

#[test]
fn encrypted_account_gets_encrypted_ack_and_clear_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    let key = Key::parse("text:0123456789ABCDEF").unwrap();
    let header = Header {
        token: Token::SiaDcs,
        encrypted: true,
        sequence: Sequence::new(7).unwrap(),
        receiver: None,
        line: HexField::new("0", 1, 6),
        account: HexField::new("5678", 3, 16),
    };
    let (now, _) = vagt_records::time::clock();
    let content = Content {
        data: Bytes::from_static(b"#5678|NMA1"),
        xdata: vec![],
        timestamp: Some(now),
    };
    let frame = encode_frame(&header, &content, Some(&key), &mut rand::rng()).unwrap();
    let answer = g.exchange(&frame, 1).remove(0);
    let ack = parse(&answer);
    assert_eq!(ack.header.token, Token::Ack);
    assert!(ack.header.encrypted);
    assert_eq!(ack.header.sequence.as_str(), "0007");
    let (inner, _) = ack.decrypt(&key).unwrap();
    assert!(inner.timestamp.is_some());
    // The same account in clear text: NAK (downgrade refused), nothing journaled.
    let nak = g.exchange(&sia("5678", 8, "MA1"), 1).remove(0);
    assert!(nak.windows(5).any(|w| w == b"\"NAK\""));
    let data = dir.path().to_owned();
    assert_eq!(g.stop(), Some(0));
    let records = export(&data);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["type"], "*SIA-DCS");
    assert_eq!(records[0]["unknown_account"], false);
}

#[test]
fn pipelined_and_split_frames_and_a_retransmission() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    // Three frames in one segment, the last a retransmission of the first.
    let (a, b) = (sia("1234", 1, "QA1"), sia("1234", 2, "QH1"));
    let burst = [a.clone(), b.clone(), a.clone()].concat();
    let answers = g.exchange(&burst, 3);
    let seqs: Vec<String> = answers
        .iter()
        .map(|f| parse(f).header.sequence.as_str().to_owned())
        .collect();
    assert_eq!(seqs, ["0001", "0002", "0001"]);
    // One frame trickled in pieces on one connection.
    let c = sia("1234", 3, "MA2");
    let mut s = g.tcp();
    for piece in c.chunks(5) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        parse(&read_frames(&mut s, 1)[0]).header.sequence.as_str(),
        "0003"
    );
    // A retransmission on a new connection and over UDP: ACKed, not stored again.
    assert_eq!(parse(&g.exchange(&b, 1)[0]).header.token, Token::Ack);
    assert_eq!(parse(&g.udp(&b)).header.token, Token::Ack);
    assert_eq!(g.metric("vagt_dedup_hits_total", ""), 3.0);
    // (The journal also holds the core's set-up and tick records: stored frames are counted
    // by the export below.)
    let data = dir.path().to_owned();
    assert_eq!(g.stop(), Some(0));
    let seqs: Vec<String> = export(&data)
        .iter()
        .map(|r| r["sequence"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seqs, ["0001", "0002", "0003"]);
}

#[test]
fn garbage_and_slow_peers_do_not_stop_a_good_client() {
    let g = Gateway::start(&[]);
    // A slow-loris: half a frame, then nothing.
    let mut slow = g.tcp();
    slow.write_all(&sia("1234", 40, "BA1")[..12]).unwrap();
    // A garbage peer: an HTTP flood larger than the garbage limit (4096 bytes).
    let mut junk = g.tcp();
    let flood = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200);
    let _ = junk.write_all(&flood);
    // The good client is answered meanwhile.
    let ack = g.exchange(&sia("1234", 41, "QA1"), 1).remove(0);
    assert_eq!(parse(&ack).header.sequence.as_str(), "0041");
    // The garbage peer is disconnected without an answer.
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest);
    assert!(rest.is_empty(), "garbage must not be answered: {rest:?}");
    assert!(g.metric("vagt_disconnects_total", "reason=\"garbage\"") >= 1.0);
    assert!(g.metric("vagt_decode_errors_total", "kind=\"garbage\"") >= 1.0);
    // The slow peer is still connected and its frame still completes.
    slow.write_all(&sia("1234", 40, "BA1")[12..]).unwrap();
    assert_eq!(
        parse(&read_frames(&mut slow, 1)[0])
            .header
            .sequence
            .as_str(),
        "0040"
    );
}

#[test]
fn first_frame_deadline_disconnects_silent_peers() {
    let g = Gateway::start(&[
        "--config",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/integration/short-timeouts.toml"
        ),
    ]);
    let mut silent = g.tcp();
    let mut buf = [0u8; 16];
    // The gateway closes the connection (read returns 0) after first_frame_timeout_secs = 1.
    assert_eq!(silent.read(&mut buf).unwrap(), 0);
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"first_frame_timeout\""),
        1.0
    );
}

#[test]
fn metrics_match_what_was_sent() {
    let g = Gateway::start(&[]);
    g.exchange(&[sia("1234", 1, "BA1"), sia("9999", 1, "BA1")].concat(), 2);
    g.exchange(
        &vectors()
            .iter()
            .find(|v| v.name == "bad_crc")
            .unwrap()
            .frame(),
        0,
    );
    g.exchange(
        &vectors()
            .iter()
            .find(|v| v.name == "unknown_id_token")
            .unwrap()
            .frame(),
        1,
    );
    std::thread::sleep(Duration::from_millis(100));
    let body = g.scrape();
    for name in [
        "vagt_frames_total",
        "vagt_ack_latency_seconds_bucket",
        "vagt_journal_commit_seconds_bucket",
        "vagt_journal_batch_records_bucket",
        "vagt_journal_bytes_total",
        "vagt_connections_total",
        "vagt_connections_open",
        "vagt_decode_errors_total",
        "vagt_unknown_account_frames_total",
    ] {
        assert!(body.contains(name), "{name} missing from /metrics");
    }
    assert_eq!(g.metric("vagt_frames_total", "outcome=\"ack\""), 2.0);
    assert_eq!(g.metric("vagt_frames_total", "outcome=\"duh\""), 1.0);
    assert_eq!(
        g.metric("vagt_decode_errors_total", "kind=\"bad_crc\""),
        1.0
    );
    assert_eq!(g.metric("vagt_unknown_account_frames_total", ""), 1.0);
    // Two frames, the core's set-up record, and its clock ticks.
    assert!(g.metric("vagt_journal_records_total", "") >= 3.0);
    assert_eq!(g.metric("vagt_ack_latency_seconds_count", ""), 2.0);
}

#[test]
fn sigterm_finishes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gateway::start_on(dir.path(), &[]);
    g.exchange(&sia("1234", 1, "BA1"), 1);
    let mut idle = g.tcp();
    idle.write_all(&sia("1234", 2, "BA1")).unwrap();
    read_frames(&mut idle, 1);
    let data = dir.path().to_owned();
    assert_eq!(g.stop(), Some(0));
    assert_eq!(export(&data).len(), 2);
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["journal", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("all checksums valid"));
}

#[test]
fn bad_config_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = vagt::config::DEFAULT_CONFIG.replace("[dedup]", "[dedup]\nwindow_sec = 5");
    std::fs::write(&path, text).unwrap();
    for cmd in ["check-config", "serve"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args([cmd, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("window_sec"), "{cmd}: {err}");
    }
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .arg("check-config")
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("config OK"));
}

#[test]
fn the_per_address_cap_counts_silent_connections_and_max_connections_all() {
    let g = Gateway::start_configured(&[(
        "max_connections_per_ip = 1000",
        "max_connections_per_ip = 2",
    )]);
    // Five devices behind one address (a NAT): each talks, so none counts against the cap.
    let mut talking: Vec<_> = (0..5u16)
        .map(|i| {
            let mut c = g.tcp();
            c.write_all(&sia("1234", 100 + i, "BA1")).unwrap();
            read_frames(&mut c, 1);
            c
        })
        .collect();
    // Two connections that say nothing fill the cap; a third from the address takes the place
    // of the oldest, which is closed.
    let mut silent: Vec<_> = (0..2)
        .map(|_| {
            let c = g.tcp();
            std::thread::sleep(Duration::from_millis(50));
            c
        })
        .collect();
    let mut third = g.tcp();
    third.write_all(&sia("1234", 110, "BA1")).unwrap();
    read_frames(&mut third, 1);
    let mut buf = Vec::new();
    assert_eq!(
        silent[0].read_to_end(&mut buf).unwrap(),
        0,
        "the oldest is closed"
    );
    assert_eq!(g.metric("vagt_disconnects_total", "reason=\"per_ip\""), 1.0);
    silent[1].write_all(&sia("1234", 111, "BA1")).unwrap();
    read_frames(&mut silent[1], 1);
    // The talking devices are still served.
    for (i, c) in talking.iter_mut().enumerate() {
        c.write_all(&sia("1234", 120 + i as u16, "BA1")).unwrap();
        read_frames(c, 1);
    }
    drop((silent, third));
    drop(g);

    let g = Gateway::start_configured(&[("max_connections = 10000", "max_connections = 1")]);
    let mut first = g.tcp();
    first.write_all(&sia("1234", 1, "BA1")).unwrap();
    read_frames(&mut first, 1);
    let mut second = g.tcp();
    let mut buf = Vec::new();
    let _ = second.read_to_end(&mut buf);
    assert!(buf.is_empty());
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"max_connections\""),
        1.0
    );
}

#[test]
fn unknown_accounts_can_be_refused_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with(
        dir.path(),
        &[("unknown_account = \"accept\"", "unknown_account = \"nak\"")],
    );
    let g = Gateway::start_on(dir.path(), &["--config", &cfg]);
    let answer = g.exchange(&sia("9999", 1, "BA1"), 1).remove(0);
    assert!(answer.windows(5).any(|w| w == b"\"NAK\""));
    // A configured account is still acknowledged.
    assert_eq!(
        parse(&g.exchange(&sia("1234", 1, "BA1"), 1)[0])
            .header
            .token,
        Token::Ack
    );
    assert_eq!(g.stop(), Some(0));
    let records = export(dir.path());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["account"], "1234");
}

/// `vagt serve` with `args` until its ready line, then SIGTERM: its exit code and stderr.
fn serve_logs(args: &[&str]) -> (Option<i32>, String) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::gateway::serve_command(dir.path())
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("listening on"), "{ready}");
    crate::gateway::signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn logs_are_plain_text_off_a_terminal_or_json_lines() {
    let (code, text) = serve_logs(&[]);
    assert_eq!(code, Some(0));
    assert!(text.contains("SIGTERM: stopping gracefully"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "colour codes in a log file: {text:?}"
    );
    let (code, json) = serve_logs(&["--log-format", "json"]);
    assert_eq!(code, Some(0));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{json}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "SIGTERM: stopping gracefully"),
        "{json}"
    );
    // A bad value is a one-line error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
        .args(["serve", "--log-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn vagt_health_says_ready_alive_or_why_not_in_one_line() {
    let g = Gateway::start(&[]);
    let health = |addr: std::net::SocketAddr, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vagt"))
            .args(["health", "--metrics", &addr.to_string()])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = health(g.metrics, &[]);
    assert_eq!((code, out.trim()), (Some(0), "/readyz: ready"));
    let (code, out, _) = health(g.metrics, &["--live"]);
    assert_eq!((code, out.trim()), (Some(0), "/healthz: ok"));
    // Nothing listening there: exit 2 and one line saying what was asked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, err) = health(closed, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("asking http://{closed}/readyz")),
        "{err}"
    );
    assert_eq!(g.stop(), Some(0));
}
