//! A client that stops reading falls behind the change feed and is resynced with a snapshot;
//! a client that keeps reading gets the whole feed meanwhile. Real TLS and WebSockets on
//! loopback; the core is replaced by a feed this test drives.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};
use vagt_console::server::Console;
use vagt_core::{Actor, AlarmId, Change, ChangeKind};

fn change(n: u64) -> Change {
    Change {
        at: n,
        actor: Actor::system(),
        kind: ChangeKind::Noted {
            alarm: AlarmId(1),
            text: format!("change {n} {}", "x".repeat(200)),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_resynced_and_delays_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = vagt_console::tls::dev_cert(dir.path(), &[]).unwrap();
    let users = common::users(&["ole"]);
    let (feed, tx) = common::Feed::new();
    // A client more than 4 batches behind is resynced.
    let console = Console::with_feed_capacity(
        vagt_console::tls::server_config(&cert, &key).unwrap(),
        users,
        Arc::new(feed),
        4,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(console.serve(listener));

    let client = vagt_console::tls::client_config(&cert).unwrap();
    let connect = |small_buffer: bool| {
        let client = Arc::clone(&client);
        async move {
            let socket = TcpSocket::new_v4().unwrap();
            if small_buffer {
                socket.set_recv_buffer_size(4096).unwrap();
            }
            let tcp = socket.connect(addr).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let tls = tokio_rustls::TlsConnector::from(client)
                .connect(name, tcp)
                .await
                .unwrap();
            let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/", tls)
                .await
                .unwrap();
            common::login(&mut ws, "ole").await;
            ws
        }
    };
    let mut slow = connect(true).await;
    let mut fast = connect(false).await;
    // Both logged in: welcome + snapshot each.
    for ws in [&mut slow, &mut fast] {
        for kind in ["welcome", "snapshot"] {
            let msg = ws.next().await.unwrap().unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            assert_eq!(v["type"], kind);
        }
    }
    // 20 000 changes of ~250 bytes (5 MB) over ~2.4 s while `slow` reads nothing; `fast` reads
    // along.
    const N: u64 = 20_000;
    let produced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::clone(&produced);
    let producer = tokio::spawn(async move {
        for n in 1..=N {
            tx.send((change(n), None)).unwrap();
            // Paced, so that the changes span many batches.
            if n % 500 == 0 {
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        tx
    });
    let (mut last_seen, mut batches, mut resynced_fast) = (0, 0, false);
    while last_seen < N {
        let msg = tokio::time::timeout(Duration::from_secs(30), fast.next())
            .await
            .expect("the fast client is not held up")
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        match v["type"].as_str() {
            Some("changes") => {
                let batch = v["changes"].as_array().unwrap();
                if resynced_fast {
                    // After a resync the feed goes on from the snapshot.
                    last_seen = batch[0]["at"].as_u64().unwrap() - 1;
                    resynced_fast = false;
                }
                // In the core's order, none lost: each batch starts where the last ended.
                for c in batch {
                    assert_eq!(c["at"].as_u64().unwrap(), last_seen + 1, "{v}");
                    last_seen += 1;
                }
                batches += 1;
            }
            // On a starved machine the reader may itself fall behind: a resync after the last
            // change brings it up to date just as well.
            Some("snapshot") if produced.load(std::sync::atomic::Ordering::SeqCst) => break,
            Some("snapshot") => resynced_fast = true,
            _ => {}
        }
    }
    let _tx = producer.await.unwrap();
    // Batched: far fewer messages than changes.
    assert!(batches < N, "{batches} messages for {N} changes");
    // Now the slow client reads: somewhere in its stream the server resynced it.
    let mut resynced = false;
    let mut changes = 0;
    loop {
        let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), slow.next()).await
        else {
            break;
        };
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        match v["type"].as_str() {
            Some("snapshot") => resynced = true,
            Some("changes") => changes += v["changes"].as_array().unwrap().len() as u64,
            _ => {}
        }
    }
    assert!(
        resynced,
        "the slow client was not resynced ({changes} changes received)"
    );
    assert!(
        changes < N,
        "the slow client cannot have received every change"
    );
}

/// The core never waits for the console: when the feed's queue is full it drops changes and
/// says so; the console then resyncs every client from the core's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowed_feed_resyncs_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = vagt_console::tls::dev_cert(dir.path(), &[]).unwrap();
    let (feed, tx, overflowed) = common::Feed::with_capacity(8);
    let console = Console::new(
        vagt_console::tls::server_config(&cert, &key).unwrap(),
        common::users(&["ole"]),
        Arc::new(feed),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(console.serve(listener));
    let mut ws = vagt_console::client::connect(addr, "localhost", &cert)
        .await
        .unwrap();
    common::login(&mut ws, "ole").await;
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let msg = ws.next().await.unwrap().unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        kinds.push(v["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(kinds, ["welcome", "snapshot"]);
    // As the core does: a full queue drops the change and sets the flag.
    for n in 1..=100 {
        if tx.try_send((change(n), None)).is_err() {
            overflowed.store(true, std::sync::atomic::Ordering::Release);
        }
    }
    assert!(overflowed.load(std::sync::atomic::Ordering::Acquire));
    let resynced = next_of(&mut ws, "snapshot").await;
    assert_eq!(resynced["alarms"], json!([]));
    // The flag was taken and the queue emptied: the next change flows as a batch again.
    assert!(!overflowed.load(std::sync::atomic::Ordering::Acquire));
    tx.try_send((change(101), None)).unwrap();
    let next = next_of(&mut ws, "changes").await;
    assert_eq!(next["changes"][0]["at"], 101, "{next}");
}

/// The next message of type `kind` (others skipped).
async fn next_of(ws: &mut vagt_console::client::ConsoleStream, kind: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} message"))
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        if v["type"] == kind {
            return v;
        }
    }
}
