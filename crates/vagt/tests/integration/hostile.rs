//! Hostile peers on real loopback sockets (promise 8): a peer that never reads its ACKs, filler
//! streams, filler that would keep an idle connection open. Each is cut off while a good device
//! is answered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::gateway::{Gateway, read_frames, sia};

/// Polls `f` for up to `secs`; whether it became true.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Reads until the gateway closes the connection; whether it did within the read timeout.
fn closed_by_gateway(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            // Reset (we still had unread bytes on either side) also means closed.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Writes one NUL every 100 ms on `s`, far below the garbage limit, for up to 10 s or until
/// the gateway closes it.
fn trickle(s: &TcpStream) -> std::thread::JoinHandle<()> {
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b"\0").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

#[test]
fn a_peer_that_never_reads_its_acks_is_bounded_and_closed() {
    let g = Gateway::start_configured(&[("write_timeout_secs = 10", "write_timeout_secs = 2")]);
    // 20 000 valid frames pipelined on one connection whose ACKs are never read.
    const FRAMES: u16 = 20_000;
    let flood: Vec<u8> = (0..FRAMES)
        .flat_map(|i| sia("1234", i % 9_999 + 1, "BA1"))
        .collect();
    let hostile = g.tcp();
    let mut writer = hostile.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&flood);
    });
    // The gateway stops reading once its send buffer and our receive window are full, and
    // closes the connection after write_timeout_secs.
    assert!(
        eventually(30, || g
            .metric("vagt_disconnects_total", "reason=\"write_timeout\"")
            == 1.0),
        "the non-reading peer was never closed"
    );
    sender.join().unwrap();
    let answered = g.metric("vagt_frames_total", "outcome=\"ack\"")
        + g.metric("vagt_frames_total", "outcome=\"duplicate\"");
    assert!(
        answered < f64::from(FRAMES) / 2.0,
        "{answered} of {FRAMES} frames were processed for a peer that reads nothing"
    );
    // A good device is answered meanwhile and after.
    assert_eq!(g.exchange(&sia("4321", 1, "BA1"), 1).len(), 1);
    drop(hostile);
}

#[test]
fn filler_streams_count_as_garbage() {
    let g = Gateway::start(&[]);
    for filler in [b"\0".as_slice(), b"\r", b" ", b"\t", b"\0\r \t"] {
        let mut s = g.tcp();
        s.write_all(&sia("1234", 1, "BA1")).unwrap();
        read_frames(&mut s, 1);
        // Past the garbage limit (4096 bytes), only filler.
        let _ = s.write_all(&filler.repeat(8192 / filler.len()));
        assert!(
            closed_by_gateway(&mut s),
            "{filler:?} kept the connection open"
        );
    }
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"garbage\""),
        5.0
    );
    // A few filler bytes between frames are harmless: the limit counts from the last frame.
    let mut s = g.tcp();
    for seq in 2..40u16 {
        s.write_all(&[sia("1234", seq, "BA1"), b"\r\0\0 ".repeat(100)].concat())
            .unwrap();
        read_frames(&mut s, 1);
    }
}

#[test]
fn a_garbage_stream_is_slowed_down_yet_its_valid_frame_is_answered() {
    let g = Gateway::start(&[]);
    let mut s = g.tcp();
    // 1 000 bytes of filler: past what a device sends between frames, under the garbage limit.
    s.write_all(&b"\0".repeat(1000)).unwrap();
    assert!(
        eventually(10, || g.metric("vagt_tarpitted_connections_total", "")
            == 1.0),
        "a garbage stream was not slowed down"
    );
    s.write_all(&sia("1234", 1, "BA1")).unwrap();
    assert_eq!(
        read_frames(&mut s, 1).len(),
        1,
        "the valid frame was not answered"
    );
    // Its valid frame reset the count: a device that talks is never slowed again.
    s.write_all(&sia("1234", 2, "BA1")).unwrap();
    assert_eq!(read_frames(&mut s, 1).len(), 1);
    // A slowed peer that goes on is still cut at the limit.
    let _ = s.write_all(&b"\0".repeat(8192));
    assert!(
        closed_by_gateway(&mut s),
        "the garbage stream kept its connection"
    );
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"garbage\""),
        1.0
    );
    // A device that sends no garbage is never counted.
    let mut good = g.tcp();
    good.write_all(&sia("4321", 1, "BA1")).unwrap();
    read_frames(&mut good, 1);
    assert_eq!(g.metric("vagt_tarpitted_connections_total", ""), 1.0);
    // A slowed peer that hangs up is noticed: its connection is closed, not leaked.
    let mut quitter = g.tcp();
    quitter.write_all(&b"\0".repeat(1000)).unwrap();
    assert!(eventually(10, || g
        .metric("vagt_tarpitted_connections_total", "")
        == 2.0));
    drop(quitter);
    assert!(
        eventually(10, || g.metric("vagt_connections_open", "") == 1.0),
        "the slowed peer's connection stayed open after it hung up"
    );
}

#[test]
fn filler_does_not_keep_an_idle_connection_open() {
    let g = Gateway::start_configured(&[("idle_timeout_secs = 300", "idle_timeout_secs = 2")]);
    let mut s = g.tcp();
    s.write_all(&sia("1234", 1, "BA1")).unwrap();
    read_frames(&mut s, 1);
    let trickle = trickle(&s);
    assert!(closed_by_gateway(&mut s), "a NUL trickle kept it open");
    trickle.join().unwrap();
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"idle_timeout\""),
        1.0
    );
}

#[test]
fn udp_junk_is_counted_and_never_answered() {
    let g = Gateway::start(&[]);
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    junk.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for i in 0..50u8 {
        junk.send_to(&[i; 64], g.addr).unwrap();
    }
    let mut buf = [0u8; 256];
    assert!(
        junk.recv_from(&mut buf).is_err(),
        "junk must not be answered"
    );
    assert!(eventually(5, || g
        .metric("vagt_decode_errors_total", "kind=\"garbage\"")
        >= 49.0));
    // A frame in a datagram is still answered.
    assert!(!g.udp(&sia("1234", 1, "BA1")).is_empty());
}

#[test]
fn frames_the_protocol_refuses_do_not_take_a_connection_out_of_the_per_address_cap() {
    let g = Gateway::start_configured(&[
        (
            "max_connections_per_ip = 1000",
            "max_connections_per_ip = 2",
        ),
        ("unknown_account = \"accept\"", "unknown_account = \"nak\""),
    ]);
    // Two connections send frames with a good CRC that are refused (NAK: unknown account).
    let mut refused: Vec<TcpStream> = (0..2u16)
        .map(|i| {
            let mut c = g.tcp();
            c.write_all(&sia("9999", i + 1, "BA1")).unwrap();
            let nak = read_frames(&mut c, 1).remove(0);
            assert!(nak.windows(5).any(|w| w == b"\"NAK\""));
            std::thread::sleep(Duration::from_millis(50));
            c
        })
        .collect();
    // They are still silent: a third connection from the address takes the oldest one's place.
    let mut third = g.tcp();
    third.write_all(&sia("1234", 1, "BA1")).unwrap();
    read_frames(&mut third, 1);
    assert!(
        closed_by_gateway(&mut refused[0]),
        "a NAKed connection kept its place"
    );
    assert_eq!(g.metric("vagt_disconnects_total", "reason=\"per_ip\""), 1.0);
    drop(refused);
}

#[test]
fn a_slowed_peer_that_trickles_bytes_is_still_cut_at_its_deadline() {
    let g = Gateway::start_configured(&[("idle_timeout_secs = 300", "idle_timeout_secs = 2")]);
    let mut s = g.tcp();
    s.write_all(&sia("1234", 1, "BA1")).unwrap();
    read_frames(&mut s, 1);
    // Past the tarpit's threshold, then a byte every 100 ms: each slowed read finds one.
    s.write_all(&b"\0".repeat(600)).unwrap();
    assert!(eventually(10, || g
        .metric("vagt_tarpitted_connections_total", "")
        == 1.0));
    let trickle = trickle(&s);
    assert!(
        closed_by_gateway(&mut s),
        "a slowed peer's trickle held its idle deadline off"
    );
    trickle.join().unwrap();
    assert_eq!(
        g.metric("vagt_disconnects_total", "reason=\"idle_timeout\""),
        1.0
    );
}

#[test]
fn a_slowed_silent_connection_still_gives_up_its_place_in_the_per_address_cap() {
    let g = Gateway::start_configured(&[(
        "max_connections_per_ip = 1000",
        "max_connections_per_ip = 2",
    )]);
    // The oldest silent connection sends only garbage and is slowed down.
    let mut slowed = g.tcp();
    slowed.write_all(&b"\0".repeat(600)).unwrap();
    assert!(eventually(10, || g
        .metric("vagt_tarpitted_connections_total", "")
        == 1.0));
    let _second = g.tcp();
    std::thread::sleep(Duration::from_millis(50));
    // A device behind the same address gets in, and the slowed connection makes room.
    let mut device = g.tcp();
    device.write_all(&sia("1234", 1, "BA1")).unwrap();
    read_frames(&mut device, 1);
    assert!(
        closed_by_gateway(&mut slowed),
        "the slowed connection kept its place"
    );
    assert_eq!(g.metric("vagt_disconnects_total", "reason=\"per_ip\""), 1.0);
}
