//! Before login nobody can hurt anyone: concurrent password guesses are all counted, a success
//! on one account resets no one else's count, another user behind the same address still logs
//! in, an unknown user gets the same answer as a wrong password, and a huge message before
//! login is refused without being buffered. Real TLS and WebSockets on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use vagt_console::client::connect_as;
use vagt_console::server::Console;
use vagt_console::tls::{dev_cert, server_config_with_clients};

async fn console(dir: &Path) -> SocketAddr {
    dev_cert(dir, &[]).unwrap();
    let (cert, key) = (dir.join("console-cert.pem"), dir.join("console-key.pem"));
    let tls = server_config_with_clients(&cert, &key, None).unwrap();
    let (feed, _tx) = common::Feed::new();
    let console = Console::new(
        tls,
        common::users(&["ole", "mette", "sara"]),
        Arc::new(feed),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(console.serve(listener));
    addr
}

/// Sends `first` as the first message; the server's answer, or why there was none.
async fn first_answer(addr: SocketAddr, dir: &Path, first: Message) -> Result<Value, String> {
    let attempt = async {
        let mut ws = connect_as(addr, "localhost", &dir.join("console-cert.pem"), None)
            .await
            .map_err(|e| format!("{e:#}"))?;
        ws.send(first).await.map_err(|e| e.to_string())?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) => Ok(serde_json::from_str(t.as_str()).unwrap()),
            other => Err(format!("no answer: {other:?}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(60), attempt)
        .await
        .expect("the server answers or hangs up")
}

async fn login(addr: SocketAddr, dir: &Path, user: &str, password: &str) -> Value {
    let msg = json!({"type": "login", "user": user, "password": password}).to_string();
    first_answer(addr, dir, Message::Text(msg.into()))
        .await
        .unwrap()
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_are_all_counted_and_other_users_are_not_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let addr = console(dir).await;
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let dir = dir.to_owned();
            tokio::spawn(async move { login(addr, &dir, "ole", &format!("guess-{i}")).await })
        })
        .collect();
    let mut checked = 0;
    let mut limited = 0;
    for g in guesses {
        let answer = g.await.unwrap();
        assert_eq!(answer["type"], "denied", "{answer}");
        match reason(&answer) {
            "wrong user name or password" => checked += 1,
            r if r.contains("too many login attempts for this user") => limited += 1,
            other => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!(
        (checked, limited),
        (5, 15),
        "5 guesses a minute, however concurrent"
    );
    // The right password for ole is refused too now: the limit holds for the minute.
    assert!(reason(&login(addr, dir, "ole", "ole-password").await).contains("too many"));
    // Another operator behind the same address logs in; her success resets nobody's count.
    assert_eq!(
        login(addr, dir, "mette", "mette-password").await["type"],
        "welcome"
    );
    assert!(reason(&login(addr, dir, "ole", "ole-password").await).contains("too many"));
    // An unknown user is told exactly what a wrong password is told (and takes as long: the
    // check runs against a dummy hash).
    let unknown = login(addr, dir, "nobody", "whatever").await;
    assert_eq!(reason(&unknown), "wrong user name or password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_centre_behind_one_address_logs_in_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let addr = console(dir).await;
    // More successful logins from one address than its limit of attempts: none is refused.
    for round in 0..12 {
        for user in ["ole", "mette", "sara"] {
            let answer = login(addr, dir, user, &format!("{user}-password")).await;
            assert_eq!(answer["type"], "welcome", "round {round}, {user}: {answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_message_before_login_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let addr = console(dir).await;
    let huge = "x".repeat(4 << 20);
    let answer = first_answer(addr, dir, Message::Text(huge.into())).await;
    assert!(
        answer.is_err(),
        "a 4 MiB message before login must be refused: {answer:?}"
    );
    // The console serves on.
    assert_eq!(
        login(addr, dir, "sara", "sara-password").await["type"],
        "welcome"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_slot_before_login_and_a_ping_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let addr = console(dir).await;
    let cert = dir.join("console-cert.pem");
    let mut idle = Vec::new();
    for _ in 0..32 {
        idle.push(connect_as(addr, "localhost", &cert, None).await.unwrap());
    }
    let msg = json!({"type": "login", "user": "ole", "password": "ole-password"}).to_string();
    let refused = first_answer(addr, dir, Message::Text(msg.clone().into())).await;
    assert!(
        refused.is_err(),
        "a 33rd connection waiting to log in: {refused:?}"
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Logged in, the connection answers pings (the web console's liveness check).
    let mut ws = connect_as(addr, "localhost", &cert, None).await.unwrap();
    ws.send(Message::Text(msg.into())).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "ping", "id": 77}).to_string().into(),
    ))
    .await
    .unwrap();
    let mut kinds = Vec::new();
    while let Some(Ok(Message::Text(t))) = ws.next().await {
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        kinds.push(v["type"].as_str().unwrap().to_owned());
        if v["type"] == "pong" {
            assert_eq!(v["id"], 77);
            break;
        }
    }
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("welcome"),
        "{kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("pong"), "{kinds:?}");
}
