//! The terminal client (`vagt console`): line mode for operators on a terminal and for scripts.
//!
//! Standard input: the first line is the password (or set `VAGT_PASSWORD`; none with a client
//! certificate), then one command
//! per line — `claim 12`, `release 12`, `note 12 text…`, `callback 12 text…`,
//! `classify 12 false_call`, `forward 12 [team]`, `accept 12`, `arrive 12`,
//! `close 12 emergency`, `reassign 12 mette`, `emergency on|off` — or a raw JSON `Command`.
//! Standard output: every server message as one JSON line. End of input closes the session
//! once every command is answered.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use vagt_core::{AlarmId, Classification, Command};

/// A line that is a whole protocol message: a JSON object with a `type` (not a login).
fn protocol_message(line: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let m = v.as_object()?;
    let kind = m.get("type")?.as_str()?;
    (!matches!(kind, "login" | "setup")).then(|| m.clone())
}

/// Parses one input line into a command.
pub fn parse_line(line: &str) -> anyhow::Result<Command> {
    let line = line.trim();
    if line.starts_with('{') {
        return serde_json::from_str(line).context("not a JSON command");
    }
    let mut words = line.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let arg = words.next();
    let rest = words.next().map(str::to_owned);
    let alarm = || -> anyhow::Result<AlarmId> {
        let a = arg.context("which alarm? (e.g. `claim 12`)")?;
        Ok(AlarmId(
            a.parse()
                .with_context(|| format!("not an alarm id: {a:?}"))?,
        ))
    };
    let class = |text: Option<String>| -> anyhow::Result<Classification> {
        let t = text.context(
            "which classification? (false_call, repeat_call, reassurance_call, emergency, technical)",
        )?;
        serde_json::from_value(serde_json::Value::String(t.clone()))
            .with_context(|| format!("not a classification: {t:?}"))
    };
    Ok(match verb {
        "claim" => Command::Claim { alarm: alarm()? },
        "release" => Command::Release { alarm: alarm()? },
        "accept" => Command::Accept { alarm: alarm()? },
        "arrive" => Command::Arrive { alarm: alarm()? },
        "note" => Command::Note {
            alarm: alarm()?,
            text: rest.context("note needs a text")?,
        },
        "callback" => Command::Callback {
            alarm: alarm()?,
            text: rest.context("callback needs a text")?,
        },
        "classify" => Command::Classify {
            alarm: alarm()?,
            classification: class(rest)?,
        },
        "close" => Command::Close {
            alarm: alarm()?,
            classification: class(rest)?,
        },
        "forward" => Command::Forward {
            alarm: alarm()?,
            team: rest,
        },
        "reassign" => Command::Reassign {
            alarm: alarm()?,
            to: rest.context("reassign to whom?")?,
        },
        "emergency" => Command::EmergencyMode {
            on: match arg {
                Some("on") => true,
                Some("off") => false,
                _ => bail!("`emergency on` or `emergency off`"),
            },
        },
        other => bail!("unknown command {other:?}"),
    })
}

/// The console's address and the name its certificate must be for, from `wss://host:port/`
/// or `host:port` (the host resolved here).
pub fn parse_server(text: &str) -> anyhow::Result<(SocketAddr, String)> {
    use std::net::ToSocketAddrs;
    let rest = match text.split_once("://") {
        Some(("wss", rest)) => rest,
        Some((scheme, _)) => bail!("the console speaks wss://, not {scheme}:// ({text:?})"),
        None => text,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .with_context(|| format!("{text:?} needs a port (e.g. wss://vagt.example:7443/)"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("not a port: {port:?} in {text:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("{text:?} names no host");
    }
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok((addr, host.to_owned()))
}

/// A WebSocket to the console over TLS.
pub type ConsoleStream =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Opens a WebSocket to the console at `server` over TLS, trusting `cert` and checking it is
/// for `host`.
pub async fn connect(server: SocketAddr, host: &str, cert: &Path) -> anyhow::Result<ConsoleStream> {
    connect_as(server, host, cert, None).await
}

/// As [`connect`], presenting a client certificate and key (`identity`) for mTLS.
pub async fn connect_as(
    server: SocketAddr,
    host: &str,
    cert: &Path,
    identity: Option<(&Path, &Path)>,
) -> anyhow::Result<ConsoleStream> {
    let config = crate::tls::client_config_with_identity(cert, identity)?;
    let tcp = TcpStream::connect(server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .with_context(|| format!("bad server name {host:?}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    let (ws, _) = tokio_tungstenite::client_async(format!("wss://{host}/ws"), tls)
        .await
        .context("WebSocket handshake")?;
    Ok(ws)
}

/// Connects to `server` over TLS (trusting `cert`, checking it is for `host`), logs in — with
/// the client certificate in `identity` if given, else with a password — and runs the line
/// protocol between `input` and `output`.
pub async fn run(
    server: SocketAddr,
    host: &str,
    cert: &Path,
    user: &str,
    identity: Option<(&Path, &Path)>,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> anyhow::Result<()> {
    let mut lines = BufReader::new(input).lines();
    let password = match std::env::var("VAGT_PASSWORD") {
        // The certificate is the credential.
        _ if identity.is_some() => String::new(),
        Ok(p) => p,
        Err(_) => lines
            .next_line()
            .await?
            .context("no password on standard input")?,
    };
    let mut ws = connect_as(server, host, cert, identity).await?;
    let login = json!({"type": "login", "user": user, "password": password});
    ws.send(Message::Text(login.to_string().into())).await?;
    let (mut next_id, mut waiting, mut input_done) = (1u64, 0u64, false);
    // Ends only after the login was answered, so that even empty input shows the welcome.
    let mut welcomed = false;
    loop {
        tokio::select! {
            line = lines.next_line(), if !input_done => match line? {
                None => input_done = true,
                Some(l) if l.trim().is_empty() => {}
                // A whole protocol message (`{"type": "admin", …}`, `detail`, `report`, `ping`),
                // sent as it is, with the next id when it has none.
                Some(l) if protocol_message(&l).is_some() => {
                    if let Some(mut msg) = protocol_message(&l) {
                        msg.entry("id").or_insert_with(|| json!(next_id));
                        next_id += 1;
                        waiting += 1;
                        let text = serde_json::Value::Object(msg).to_string();
                        ws.send(Message::Text(text.into())).await?;
                    }
                }
                Some(l) => match parse_line(&l) {
                    Ok(command) => {
                        let msg = json!({"type": "command", "id": next_id, "command": command});
                        next_id += 1;
                        waiting += 1;
                        ws.send(Message::Text(msg.to_string().into())).await?;
                    }
                    Err(e) => {
                        let msg = json!({"type": "input_error", "message": format!("{e:#}")});
                        output.write_all(format!("{msg}\n").as_bytes()).await?;
                    }
                },
            },
            msg = ws.next() => {
                let Some(msg) = msg else { break };
                if let Message::Text(text) = msg? {
                    output.write_all(text.as_bytes()).await?;
                    output.write_all(b"\n").await?;
                    output.flush().await?;
                    let v: serde_json::Value = serde_json::from_str(text.as_str())?;
                    match v["type"].as_str() {
                        Some("denied") => bail!("login refused: {}", v["reason"]),
                        Some("welcome") => welcomed = true,
                        Some("result" | "refused" | "error" | "admin" | "detail" | "report" | "pong")
                            if v["id"].is_u64() =>
                        {
                            waiting = waiting.saturating_sub(1);
                        }
                        _ => {}
                    }
                }
            },
        }
        if input_done && waiting == 0 && welcomed {
            break;
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_and_addresses() {
        let local: SocketAddr = "127.0.0.1:7443".parse().unwrap();
        assert_eq!(
            parse_server("wss://127.0.0.1:7443/").unwrap(),
            (local, "127.0.0.1".to_owned())
        );
        assert_eq!(
            parse_server("127.0.0.1:7443").unwrap(),
            (local, "127.0.0.1".to_owned())
        );
        let (addr, host) = parse_server("wss://localhost:7443").unwrap();
        assert_eq!((addr.port(), host.as_str()), (7443, "localhost"));
        assert!(addr.ip().is_loopback());
        let (v6, host) = parse_server("wss://[::1]:7443/ws").unwrap();
        assert_eq!((v6, host.as_str()), ("[::1]:7443".parse().unwrap(), "::1"));
        for (bad, says) in [
            ("https://127.0.0.1:7443/", "wss://"),
            ("wss://127.0.0.1/", "port"),
            ("127.0.0.1:http", "not a port"),
            ("wss://:7443/", "no host"),
        ] {
            let e = format!("{:#}", parse_server(bad).unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn lines_become_commands() {
        assert_eq!(
            parse_line("claim 12").unwrap(),
            Command::Claim { alarm: AlarmId(12) }
        );
        assert_eq!(
            parse_line("close 12 false_call").unwrap(),
            Command::Close {
                alarm: AlarmId(12),
                classification: Classification::FalseCall
            }
        );
        assert_eq!(
            parse_line("forward 3").unwrap(),
            Command::Forward {
                alarm: AlarmId(3),
                team: None
            }
        );
        assert_eq!(
            parse_line("note 3 called back, all well").unwrap(),
            Command::Note {
                alarm: AlarmId(3),
                text: "called back, all well".into()
            }
        );
        assert_eq!(
            parse_line(r#"{"command":"emergency_mode","on":true}"#).unwrap(),
            Command::EmergencyMode { on: true }
        );
        for bad in [
            "claim",
            "claim x",
            "close 1 oops",
            "dance 1",
            "emergency maybe",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
