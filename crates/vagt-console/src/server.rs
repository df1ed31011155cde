//! The console server: TLS, then a WebSocket, then login; then the queue (snapshot + change
//! feed) and commands, each authorised here before the core sees it.
//!
//! A slow client never holds anyone up: the change feed is a broadcast channel, so a client that
//! falls behind loses its place (not the core's time) and is sent a fresh snapshot.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::{info, warn};
use vagt_core::{Actor, Alarm, AlarmId, Change, Command, CommandError};

use crate::http::{Prefixed, read_head, serve_file};
use crate::protocol::{ClientMsg, ServerMsg, VERSION};
use crate::users::{User, UserRole, Users};

/// Why the core did not carry out a command.
#[derive(Clone, Debug)]
pub enum Failure {
    /// Refused by the core's rules.
    Refused(CommandError),
    /// Not carried out (journal closed, core stopping).
    Unavailable(String),
}

/// A boxed future, for the object-safe [`Backend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the console needs from the core.
pub trait Backend: Send + Sync + 'static {
    /// Journals and applies a command; the changes it made.
    fn command(
        &self,
        actor: Actor,
        command: Command,
        client: Option<SocketAddr>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>>;
    /// Open alarms, most urgent first.
    fn open_alarms(&self) -> Vec<Alarm>;
    /// One open alarm.
    fn alarm(&self, id: AlarmId) -> Option<Alarm>;
    /// The live change feed.
    fn subscribe(&self) -> broadcast::Receiver<Change>;
}

/// Failed logins allowed per client address per minute; then the address waits.
const LOGIN_FAILURES_PER_MINUTE: u32 = 5;
/// Time allowed for the TLS and WebSocket handshakes and the login message.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// The server's shared state.
pub struct Console {
    acceptor: TlsAcceptor,
    users: Users,
    backend: Arc<dyn Backend>,
    failures: DashMap<IpAddr, (u32, Instant)>,
    /// Changes serialized once for every client.
    prepared: broadcast::Sender<Arc<Prepared>>,
}

/// A change as every client receives it, serialized once (not once per client).
struct Prepared {
    /// The `change` message; empty for a resync marker.
    text: Utf8Bytes,
    /// The team of the alarm it concerns, if open (responders see only their team's).
    team: Option<String>,
    /// Whether it concerns an alarm (centre-wide changes do not reach responders).
    concerns_alarm: bool,
    /// The fan-out itself fell behind the core: every client needs a fresh snapshot.
    resync: bool,
}

/// Changes the prepared feed holds for a slow client before it must resync.
const PREPARED_CAPACITY: usize = 16_384;

impl Console {
    /// A console over `backend` with these TLS settings and users.
    pub fn new(
        tls: Arc<rustls::ServerConfig>,
        users: Users,
        backend: Arc<dyn Backend>,
    ) -> Arc<Self> {
        Arc::new(Self {
            acceptor: TlsAcceptor::from(tls),
            users,
            backend,
            failures: DashMap::new(),
            prepared: broadcast::channel(PREPARED_CAPACITY).0,
        })
    }

    /// Serializes each change from the core once and hands it to every client.
    async fn fan_out(self: Arc<Self>) {
        let mut rx = self.backend.subscribe();
        loop {
            let prepared = match rx.recv().await {
                Ok(change) => {
                    let alarm = change.kind.alarm().and_then(|id| self.backend.alarm(id));
                    let concerns_alarm = change.kind.alarm().is_some();
                    let team = alarm.as_ref().and_then(|a| a.team.clone());
                    let msg = ServerMsg::Change {
                        change,
                        alarm: alarm.map(Box::new),
                    };
                    let Ok(text) = serde_json::to_string(&msg) else {
                        continue;
                    };
                    Prepared {
                        text: text.into(),
                        team,
                        concerns_alarm,
                        resync: false,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(
                        missed,
                        "console fan-out fell behind the core; resyncing every client"
                    );
                    Prepared {
                        text: Utf8Bytes::default(),
                        team: None,
                        concerns_alarm: false,
                        resync: true,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let _ = self.prepared.send(Arc::new(prepared));
        }
    }

    /// Accepts connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        tokio::spawn(Arc::clone(&self).fan_out());
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                continue;
            };
            let me = Arc::clone(&self);
            tokio::spawn(async move {
                if let Err(e) = me.connection(tcp, peer).await {
                    info!(%peer, "console connection ended: {e:#}");
                }
            });
        }
    }

    async fn connection(&self, tcp: TcpStream, peer: SocketAddr) -> anyhow::Result<()> {
        let _ = tcp.set_nodelay(true);
        // Plain text (or anything but TLS) fails here: the console is TLS only.
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await??;
        let Some(head) = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(&mut tls)).await??
        else {
            return Ok(());
        };
        if !head.websocket {
            // A browser loading the web console.
            return Ok(serve_file(&mut tls, &head.path).await?);
        }
        let stream = Prefixed::new(head.bytes, tls);
        let mut ws =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::accept_async(stream))
                .await??;
        let Some(user) = self.login(&mut ws, peer).await? else {
            return Ok(());
        };
        info!(%peer, user = %user.name, role = ?user.role, "console login");
        send(
            &mut ws,
            &ServerMsg::Welcome {
                v: VERSION,
                user: user.name.clone(),
                role: user.role,
                team: user.team.clone(),
            },
        )
        .await?;
        // Subscribe before the snapshot: nothing falls between them.
        let mut feed = self.prepared.subscribe();
        self.snapshot(&mut ws, &user).await?;
        loop {
            tokio::select! {
                msg = ws.next() => {
                    let Some(msg) = msg else { return Ok(()) };
                    match msg? {
                        Message::Text(text) => {
                            let reply = self.handle(&user, peer, text.as_str()).await;
                            send(&mut ws, &reply).await?;
                        }
                        Message::Close(_) => return Ok(()),
                        _ => {}
                    }
                }
                change = feed.recv() => match change {
                    Ok(p) if p.resync => self.snapshot(&mut ws, &user).await?,
                    Ok(p) => {
                        let visible = user.role != UserRole::Responder
                            || (p.concerns_alarm && p.team.is_some() && p.team == user.team);
                        if visible {
                            ws.send(Message::Text(p.text.clone())).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        info!(%peer, missed, "console client fell behind; resyncing");
                        feed = self.prepared.subscribe();
                        self.snapshot(&mut ws, &user).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    /// Reads and checks the login message; `None` if refused (the client was told why).
    async fn login<S>(
        &self,
        ws: &mut WebSocketStream<S>,
        peer: SocketAddr,
    ) -> anyhow::Result<Option<User>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.next()).await?;
        let Some(Ok(Message::Text(text))) = first else {
            return Ok(None);
        };
        let Ok(ClientMsg::Login { user, password }) = serde_json::from_str(text.as_str()) else {
            send(ws, &denied("the first message must be a login")).await?;
            return Ok(None);
        };
        let ip = peer.ip();
        if self.failures.get(&ip).is_some_and(|f| {
            f.0 >= LOGIN_FAILURES_PER_MINUTE && f.1.elapsed() < Duration::from_secs(60)
        }) {
            warn!(%peer, %user, "console login refused: too many failed logins");
            send(ws, &denied("too many failed logins; wait a minute")).await?;
            return Ok(None);
        }
        // argon2 is deliberately slow: off the async threads.
        let users = self.users.clone();
        let name = user.clone();
        let found =
            tokio::task::spawn_blocking(move || users.check(&name, &password).cloned()).await?;
        match found {
            Some(u) => {
                self.failures.remove(&ip);
                Ok(Some(u))
            }
            None => {
                let mut f = self.failures.entry(ip).or_insert((0, Instant::now()));
                if f.1.elapsed() >= Duration::from_secs(60) {
                    *f = (0, Instant::now());
                }
                f.0 += 1;
                drop(f);
                warn!(%peer, %user, "console login failed");
                send(ws, &denied("wrong user name or password")).await?;
                Ok(None)
            }
        }
    }

    async fn snapshot<S>(&self, ws: &mut WebSocketStream<S>, user: &User) -> anyhow::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let alarms = self
            .backend
            .open_alarms()
            .into_iter()
            .filter(|a| visible(user, a))
            .collect();
        send(ws, &ServerMsg::Snapshot { alarms }).await
    }

    async fn handle(&self, user: &User, peer: SocketAddr, text: &str) -> ServerMsg {
        let (id, command) = match serde_json::from_str::<ClientMsg>(text) {
            Ok(ClientMsg::Command { id, command }) => (id, command),
            Ok(ClientMsg::Login { .. }) => return error(None, "already logged in"),
            Err(e) => return error(None, &format!("bad message: {e}")),
        };
        let Some(role) = user.role.core_role() else {
            return error(
                Some(id),
                &format!("the {:?} role may not give commands", user.role),
            );
        };
        if user.role == UserRole::Responder {
            let mine = command
                .alarm()
                .and_then(|a| self.backend.alarm(a))
                .is_some_and(|a| visible(user, &a));
            if !mine {
                return error(Some(id), "not an alarm of your team");
            }
        }
        let actor = Actor {
            name: user.name.clone(),
            role,
        };
        match self.backend.command(actor, command, Some(peer)).await {
            Ok(changes) => ServerMsg::Result { id, changes },
            Err(Failure::Refused(error)) => ServerMsg::Refused { id, error },
            Err(Failure::Unavailable(e)) => error(Some(id), &format!("core unavailable: {e}")),
        }
    }
}

fn visible(user: &User, alarm: &Alarm) -> bool {
    user.role != UserRole::Responder || (alarm.team.is_some() && alarm.team == user.team)
}

fn denied(reason: &str) -> ServerMsg {
    ServerMsg::Denied {
        reason: reason.into(),
    }
}

fn error(id: Option<u64>, message: &str) -> ServerMsg {
    ServerMsg::Error {
        id,
        message: message.into(),
    }
}

async fn send<S>(ws: &mut WebSocketStream<S>, msg: &ServerMsg) -> anyhow::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let text = serde_json::to_string(msg)?;
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}
