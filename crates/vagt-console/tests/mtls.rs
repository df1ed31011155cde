//! Client certificates (mTLS): a certificate from the configured CA logs its user in without a
//! password; it cannot log in as anyone else; with `required`, no certificate (or one from
//! another CA) gets no connection at all; with `optional`, passwords still work. Real TLS and
//! WebSockets on loopback.

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
use vagt_console::tls::{ClientCerts, dev_cert, dev_client_cert, server_config_with_clients};

/// A console whose client certificates must chain to `ca`.
async fn console(dir: &Path, ca: &Path, mode: ClientCerts) -> SocketAddr {
    let (cert, key) = (dir.join("console-cert.pem"), dir.join("console-key.pem"));
    let tls = server_config_with_clients(&cert, &key, Some((ca, mode))).unwrap();
    let (feed, _tx) = common::Feed::new();
    let console = Console::new(tls, common::users(&["ole", "mette"]), Arc::new(feed));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(console.serve(listener));
    addr
}

/// Connects (with the certificate and key of `who` in `certs`, if given), sends `login` and
/// returns the first answer, or the error that ended the connection first.
async fn login(
    addr: SocketAddr,
    dir: &Path,
    who: Option<(&Path, &str)>,
    login: Value,
) -> Result<Value, String> {
    let paths = who.map(|(certs, name)| {
        (
            certs.join(format!("{name}-cert.pem")),
            certs.join(format!("{name}-key.pem")),
        )
    });
    let identity = paths.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    let attempt = async {
        let mut ws = connect_as(addr, "localhost", &dir.join("console-cert.pem"), identity)
            .await
            .map_err(|e| format!("{e:#}"))?;
        ws.send(Message::Text(login.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) => Ok(serde_json::from_str(t.as_str()).unwrap()),
            other => Err(format!("no answer: {other:?}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), attempt)
        .await
        .expect("the server answers or hangs up")
}

/// Logs in as `user` with no password, presenting `cert_of`'s certificate from `certs`.
async fn with_certificate(
    addr: SocketAddr,
    dir: &Path,
    certs: &Path,
    cert_of: &str,
    user: &str,
) -> Result<Value, String> {
    let login_msg = json!({"type": "login", "user": user});
    login(addr, dir, Some((certs, cert_of)), login_msg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_log_their_user_in() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    dev_cert(dir, &[]).unwrap();
    // The centre's CA issues ole's certificate and one for a name that is no user; another CA
    // issues a second certificate for ole.
    let (ca, _, _) = dev_client_cert(dir, "ole").unwrap();
    dev_client_cert(dir, "ghost").unwrap();
    let other = dir.join("other-ca");
    dev_client_cert(&other, "ole").unwrap();

    let addr = console(dir, &ca, ClientCerts::Required).await;
    // ole's certificate: no password needed.
    let welcome = with_certificate(addr, dir, dir, "ole", "ole")
        .await
        .unwrap();
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["user"], "ole");
    // ole's certificate does not log in mette, even with mette's password.
    let denied = login(
        addr,
        dir,
        Some((dir, "ole")),
        json!({"type": "login", "user": "mette", "password": "mette-password"}),
    )
    .await
    .unwrap();
    assert_eq!(denied["type"], "denied", "{denied}");
    assert!(
        denied["reason"]
            .as_str()
            .unwrap()
            .contains("certificate is for \"ole\""),
        "{denied}"
    );
    // A valid certificate for a name the users file does not have: denied.
    let ghost = with_certificate(addr, dir, dir, "ghost", "ghost")
        .await
        .unwrap();
    assert_eq!(ghost["type"], "denied", "{ghost}");
    // Required: a password alone, or a certificate from another CA, gets no connection.
    let password = json!({"type": "login", "user": "ole", "password": "ole-password"});
    let bare = login(addr, dir, None, password.clone()).await;
    assert!(bare.is_err(), "connected without a certificate: {bare:?}");
    let foreign = login(addr, dir, Some((&other, "ole")), password.clone()).await;
    assert!(
        foreign.is_err(),
        "connected with another CA's certificate: {foreign:?}"
    );

    // Optional: the password login works again beside the certificate one.
    let addr = console(dir, &ca, ClientCerts::Optional).await;
    let welcome = login(addr, dir, None, password).await.unwrap();
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let welcome = with_certificate(addr, dir, dir, "ole", "ole")
        .await
        .unwrap();
    assert_eq!(welcome["user"], "ole", "{welcome}");
    let foreign = with_certificate(addr, dir, &other, "ole", "ole").await;
    assert!(
        foreign.is_err(),
        "accepted another CA's certificate: {foreign:?}"
    );
}
