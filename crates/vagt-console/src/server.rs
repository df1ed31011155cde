//! The console server: TLS, then a WebSocket, then login; then the queue (snapshot + change
//! feed) and commands, each authorised here before the core sees it.
//!
//! Nobody holds the core up: the console polls the core's feed (a bounded queue the core never
//! waits on) and keeps its own copy of the open alarms, so it never reads the core's state while
//! the core runs. A slow client never holds anyone up either: batches go to clients through a
//! broadcast channel, so a client that falls behind loses its place and is sent a fresh
//! snapshot.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::{info, warn};
use vagt_core::{Actor, Alarm, AlarmId, Change, Command, CommandError};

use crate::admin::{AccountsChange, RegisterChange, UsersFile};
use crate::audit::{AdminAction, NoteBudget, RecentViews, Refusal, RefusalBudget, View, bounded};
use crate::guard::{LoginGuard, PreLogin};
use crate::http::{Prefixed, read_head, serve_file};
use crate::protocol::{
    AccountInfo, BATCH_WINDOW_MS, ClientMsg, QueueAlarm, ReportRequest, ServerMsg, VERSION,
};
use crate::setup::Setup;
use crate::users::{User, UserRole, Users};

/// Why the core did not carry out a command.
#[derive(Clone, Debug)]
pub enum Failure {
    /// Refused by the core's rules.
    Refused(CommandError),
    /// Not carried out (journal closed, core stopping).
    Unavailable(String),
    /// A responder's command on an alarm not forwarded to their team.
    NotYours,
}

/// A boxed future, for the object-safe [`Backend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the console needs from the core.
pub trait Backend: Send + Sync + 'static {
    /// Journals and applies a command; the changes it made. With `team` (a responder's), only
    /// if the command's alarm is forwarded to that team right now ([`Failure::NotYours`]).
    fn command(
        &self,
        actor: Actor,
        command: Command,
        client: Option<SocketAddr>,
        team: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<Change>, Failure>>;
    /// Open alarms (the console's starting point, and again after its feed overflowed).
    fn open_alarms(&self) -> Vec<Alarm>;
    /// An open alarm's changes, oldest first, as the core keeps them (across restarts). Read
    /// on the gateway's threads, never the console's low-priority ones (which must not hold the
    /// core's locks).
    fn history(&self, alarm: AlarmId) -> BoxFuture<'_, Vec<Change>> {
        let _ = alarm;
        Box::pin(async { Vec::new() })
    }
    /// The live feed: every change with the alarm as it is after it. Taken once.
    fn tap(&self) -> Option<Tap>;
    /// The teams the accounts file forwards to (providers, districts, backup teams).
    fn teams(&self) -> Vec<String> {
        Vec::new()
    }
    /// The call type of `account` in the accounts in use (`nodkald` …); `None`: not an account
    /// of the centre's. Asked for every alarm the queue shows (keep it cheap).
    fn call_type(&self, account: &str) -> Option<&'static str> {
        let _ = account;
        None
    }
    /// What the accounts file says about `account`.
    fn account(&self, account: &str) -> Option<AccountInfo> {
        let _ = account;
        None
    }
    /// Whether admins may change the users, the register and the accounts here (`Err`: why
    /// not, e.g. a cluster node, whose files are its own).
    fn admin_edits(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether emergency staffing mode is on.
    fn emergency_mode(&self) -> bool {
        false
    }
    /// Whether the node acknowledges on its own disk alone (a cluster whose database is not
    /// committing): every console shows it.
    fn degraded(&self) -> bool {
        false
    }
    /// While degraded: the alarms acknowledged and not yet in the shared queue.
    fn provisional(&self) -> Vec<crate::protocol::Provisional> {
        Vec::new()
    }
    /// Journals a request the console refused itself, for the audit trail (the core journals
    /// its own refusals with the command). `Err`: it could not be recorded.
    fn audit_refusal(&self, refusal: Refusal) -> BoxFuture<'_, Result<(), String>> {
        let _ = refusal;
        Box::pin(async { Ok(()) })
    }
    /// The citizen behind a reference, from the register.
    fn citizen(&self, reference: &str) -> Option<vagt_records::Citizen> {
        let _ = reference;
        None
    }
    /// Journals that a user was shown a citizen's record (before it is shown). `Err`: it could
    /// not be recorded, and the record is not shown.
    fn audit_view(&self, view: View) -> BoxFuture<'_, Result<(), String>> {
        let _ = view;
        Box::pin(async { Ok(()) })
    }
    /// Journals an admin's change to the users before it is made. `Err`: it could not be
    /// recorded, and it is not made.
    fn audit_admin(&self, action: AdminAction) -> BoxFuture<'_, Result<(), String>> {
        let _ = action;
        Box::pin(async { Ok(()) })
    }
    /// The citizen register as it is now.
    fn register(&self) -> Arc<vagt_records::Citizens> {
        Arc::default()
    }
    /// Changes the citizen register: journals `action` (with the register's new version),
    /// writes the register's file and uses it from now on; the register as it is then.
    fn change_register(
        &self,
        action: AdminAction,
        change: RegisterChange,
    ) -> BoxFuture<'_, Result<Arc<vagt_records::Citizens>, String>> {
        let _ = (action, change);
        Box::pin(async { Err("this server keeps no citizen register".to_owned()) })
    }
    /// The accounts in use (for the admin page).
    fn accounts(&self) -> Vec<crate::protocol::AccountView> {
        Vec::new()
    }
    /// Changes the accounts: journals `action` (with the changed fields), writes the accounts
    /// file and uses it from now on, as a reload does; the accounts as they are then.
    fn change_accounts(
        &self,
        action: AdminAction,
        change: AccountsChange,
    ) -> BoxFuture<'_, Result<Vec<crate::protocol::AccountView>, String>> {
        let _ = (action, change);
        Box::pin(async { Err("this server has no accounts file to change".to_owned()) })
    }
    /// Computes a report from the journal (`Err`: why not, for the user).
    fn report(&self, request: ReportRequest) -> BoxFuture<'_, Result<String, String>> {
        let _ = request;
        Box::pin(async { Err("reports are not available on this server".to_owned()) })
    }
}

/// The core's live feed as the console reads it: a bounded queue it polls and never waits on,
/// so the core never waits for the console (whose threads may run at the lowest priority): a
/// full queue sets `overflowed` instead, and the console starts again from
/// [`Backend::open_alarms`].
pub struct Tap {
    /// Each change, with the alarm it concerns as it is after it (`None`: no longer open, or
    /// a centre-wide change).
    pub rx: crossbeam_channel::Receiver<(Change, Option<Alarm>)>,
    /// Set by the core when the queue was full and something was dropped.
    pub overflowed: Arc<AtomicBool>,
}

/// What a responder hears about another team's alarm.
const NOT_YOURS: &str = "not an alarm of your team";

/// Console connections at once (each holds at most one small message before login).
const MAX_CONNECTIONS: usize = 512;
/// The largest WebSocket message (and frame) a client may send: commands, notes and logins
/// are small; nothing big is buffered for a client that has not logged in.
const MAX_CLIENT_MESSAGE: usize = 64 << 10;
/// Requests of one connection being answered at once, at most (see the session loop).
const IN_FLIGHT: usize = 16;
/// Time allowed for the TLS and WebSocket handshakes and the login message.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// The server's shared state.
pub struct Console {
    acceptor: TlsAcceptor,
    /// Replaced whole when the first admin is created or an admin changes a user.
    users: RwLock<Arc<Users>>,
    /// Told whenever `users` is replaced: sessions of a changed user end.
    users_changed: tokio::sync::watch::Sender<()>,
    /// Where admins' changes to the users are written (set by [`Console::manage_users`]).
    pub(crate) users_file: std::sync::OnceLock<UsersFile>,
    /// The first-run set-up, while the users file has no admin.
    setup: Mutex<Option<Arc<Setup>>>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) logins: LoginGuard,
    /// Each user's budget of notes.
    notes: NoteBudget,
    /// Each user's budget of journaled refusals.
    refusals: RefusalBudget,
    /// When each user was last journaled viewing each alarm's citizen.
    views: RecentViews,
    connections: Arc<tokio::sync::Semaphore>,
    pre_login: Arc<DashMap<std::net::IpAddr, usize>>,
    /// Batches of changes, serialized once for every client.
    prepared: broadcast::Sender<Arc<Prepared>>,
    /// Batches handed to `prepared` so far (each counted before it is sent).
    published: AtomicU64,
    /// The last whole-queue snapshot, shared by every client that needs one while it is
    /// fresh enough (200 consoles reconnecting at once cost one snapshot, not 200).
    snapshot: Mutex<Option<Arc<SharedSnapshot>>>,
    /// The open alarms as the feed has told them (the console never reads the core's state
    /// while the core runs).
    mirror: RwLock<HashMap<AlarmId, Alarm>>,
}

/// A batch of changes as every client receives it, serialized once per audience (not once per
/// client).
struct Prepared {
    /// Its number in the feed (1, 2, …).
    seq: u64,
    /// The `changes` message for roles that see every alarm.
    all: Utf8Bytes,
    /// The `changes` message for each responder team the batch concerns.
    teams: HashMap<String, Utf8Bytes>,
    /// The fan-out itself fell behind the core: every client needs a fresh snapshot.
    resync: bool,
}

impl Prepared {
    fn resync() -> Self {
        Self {
            seq: 0,
            all: Utf8Bytes::default(),
            teams: HashMap::new(),
            resync: true,
        }
    }

    /// What `user` is sent of this batch, if anything.
    fn for_user(&self, user: &User) -> Option<&Utf8Bytes> {
        if user.role == UserRole::Responder {
            self.teams.get(user.team.as_deref()?)
        } else {
            Some(&self.all)
        }
    }
}

/// Batches the prepared feed holds for a slow client before it must resync (with 50 ms batches
/// under load: 6.4 s of slack).
const PREPARED_CAPACITY: usize = 128;
/// At most this many changes in one batch.
const MAX_BATCH: usize = 8_192;

impl Console {
    /// A console over `backend` with these TLS settings and users.
    pub fn new(
        tls: Arc<rustls::ServerConfig>,
        users: Users,
        backend: Arc<dyn Backend>,
    ) -> Arc<Self> {
        Self::with_feed_capacity(tls, users, backend, PREPARED_CAPACITY)
    }

    /// As [`Console::new`], with the number of batches a client may fall behind before it is
    /// resynced.
    pub fn with_feed_capacity(
        tls: Arc<rustls::ServerConfig>,
        users: Users,
        backend: Arc<dyn Backend>,
        batches: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            acceptor: TlsAcceptor::from(tls),
            users: RwLock::new(Arc::new(users)),
            users_changed: tokio::sync::watch::channel(()).0,
            users_file: std::sync::OnceLock::new(),
            setup: Mutex::new(None),
            backend,
            logins: LoginGuard::new(),
            notes: NoteBudget::default(),
            refusals: RefusalBudget::default(),
            views: RecentViews::default(),
            connections: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
            pre_login: Arc::new(DashMap::new()),
            prepared: broadcast::channel(batches.max(1)).0,
            published: AtomicU64::new(0),
            snapshot: Mutex::new(None),
            mirror: RwLock::new(HashMap::new()),
        })
    }

    /// Polls the core's feed every [`BATCH_WINDOW_MS`], gathers what came into one batch,
    /// serializes it once per audience and hands it to every client.
    async fn fan_out(self: Arc<Self>, tap: Tap) {
        let mut tick = tokio::time::interval(Duration::from_millis(BATCH_WINDOW_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_full = false;
        loop {
            // A full batch last time: the backlog goes out without waiting.
            if !was_full {
                tick.tick().await;
            }
            let mut batch = Vec::new();
            while batch.len() < MAX_BATCH {
                match tap.rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        if batch.is_empty() {
                            return;
                        }
                        break;
                    }
                }
            }
            was_full = batch.len() >= MAX_BATCH;
            let mut prepared = if tap.overflowed.swap(false, Ordering::AcqRel) {
                warn!("console feed overflowed; resyncing every client");
                while tap.rx.try_recv().is_ok() {}
                self.reseed();
                Prepared::resync()
            } else if batch.is_empty() {
                continue;
            } else {
                match self.prepare(batch) {
                    Ok(p) => p,
                    Err(e) => {
                        warn!("console fan-out could not serialize a batch: {e}");
                        self.reseed();
                        Prepared::resync()
                    }
                }
            };
            // Counted before it is sent: a client that subscribes after the send knows its
            // snapshot must be newer than this batch.
            prepared.seq = self.published.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.prepared.send(Arc::new(prepared));
        }
    }

    /// Starts the mirror again from the core's open alarms.
    fn reseed(&self) {
        let open = self.backend.open_alarms();
        *self.mirror_mut() = open.into_iter().map(|a| (a.id, a)).collect();
    }

    fn mirror_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<AlarmId, Alarm>> {
        self.mirror
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An open alarm as the feed has told it.
    fn alarm(&self, id: AlarmId) -> Option<Alarm> {
        self.mirror
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// `alarms` as the queue shows them (with their accounts' call types).
    fn for_queue(&self, alarms: Vec<Alarm>) -> Vec<QueueAlarm> {
        alarms
            .into_iter()
            .map(|alarm| {
                let call_type = self.backend.call_type(&alarm.account);
                QueueAlarm {
                    unknown_account: call_type.is_none(),
                    call_type: call_type.map(str::to_owned),
                    alarm,
                }
            })
            .collect()
    }

    /// Every open alarm, most urgent first (priority, then age).
    fn open_alarms(&self) -> Vec<Alarm> {
        let mut v: Vec<Alarm> = self
            .mirror
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        v.sort_by_key(Alarm::queue_order);
        v
    }

    /// One batch: the changes, every alarm they touched as it is now, and what left a queue.
    fn prepare(&self, batch: Vec<(Change, Option<Alarm>)>) -> serde_json::Result<Prepared> {
        let mut changes = Vec::with_capacity(batch.len());
        // Each alarm the batch touched, in order: its responder team before the batch (so
        // that one leaving a team's queue reaches that team as `gone`), and as it is after.
        let touched: Vec<(AlarmId, Option<String>, Option<Alarm>)> = {
            let mut mirror = self.mirror_mut();
            let mut before = Vec::new();
            let mut seen = HashSet::new();
            for (change, alarm) in batch {
                if let Some(id) = change.kind.alarm() {
                    if seen.insert(id) {
                        before.push((id, mirror.get(&id).and_then(|a| a.team.clone())));
                    }
                    match alarm {
                        Some(a) => mirror.insert(id, a),
                        None => mirror.remove(&id),
                    };
                }
                changes.push(change);
            }
            before
                .into_iter()
                .map(|(id, team)| (id, team, mirror.get(&id).cloned()))
                .collect()
        };
        let mut alarms = Vec::new();
        let mut gone = Vec::new();
        // Per responder team: the alarms that are theirs now, and those that left them.
        let mut team_alarms: HashMap<String, Vec<usize>> = HashMap::new();
        let mut team_gone: HashMap<String, Vec<AlarmId>> = HashMap::new();
        for (id, before, now) in touched {
            let team_now = now.as_ref().and_then(|a| a.team.clone());
            if let Some(before) = before.filter(|b| Some(b) != team_now.as_ref()) {
                team_gone.entry(before).or_default().push(id);
            }
            match now {
                Some(alarm) => {
                    if let Some(team) = team_now {
                        team_alarms.entry(team).or_default().push(alarms.len());
                    }
                    alarms.push(alarm);
                }
                None => gone.push(id),
            }
        }
        let alarms = self.for_queue(alarms);
        let mut per_team = HashMap::new();
        for team in team_alarms.keys().chain(team_gone.keys()) {
            if per_team.contains_key(team) {
                continue;
            }
            let theirs: Vec<QueueAlarm> = team_alarms
                .get(team)
                .map(|ix| ix.iter().map(|&i| alarms[i].clone()).collect())
                .unwrap_or_default();
            let left = team_gone.get(team).cloned().unwrap_or_default();
            let ids: HashSet<AlarmId> = theirs
                .iter()
                .map(|a| a.alarm.id)
                .chain(left.iter().copied())
                .collect();
            let msg = ServerMsg::Changes {
                changes: changes
                    .iter()
                    .filter(|c| c.kind.alarm().is_some_and(|a| ids.contains(&a)))
                    .cloned()
                    .collect(),
                alarms: theirs,
                gone: left,
            };
            per_team.insert(team.clone(), serde_json::to_string(&msg)?.into());
        }
        let all = serde_json::to_string(&ServerMsg::Changes {
            changes,
            alarms,
            gone,
        })?;
        Ok(Prepared {
            seq: 0,
            all: all.into(),
            teams: per_team,
            resync: false,
        })
    }

    /// Accepts connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        // The feed first, then the state it continues from: nothing falls between them.
        match self.backend.tap() {
            Some(tap) => {
                self.reseed();
                tokio::spawn(Arc::clone(&self).fan_out(tap));
            }
            None => {
                warn!("the core's feed is taken: consoles get snapshots but no changes");
                self.reseed();
            }
        }
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                continue;
            };
            let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
                warn!(%peer, "console connection refused: {MAX_CONNECTIONS} connections open");
                continue;
            };
            let Some(waiting) = PreLogin::take(&self.pre_login, peer.ip()) else {
                warn!(%peer, "console connection refused: too many from this address before login");
                continue;
            };
            let me = Arc::clone(&self);
            tokio::spawn(async move {
                if let Err(e) = me.connection(tcp, peer, waiting).await {
                    info!(%peer, "console connection ended: {e:#}");
                }
                drop(permit);
            });
        }
    }

    async fn connection(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        waiting: PreLogin,
    ) -> anyhow::Result<()> {
        let _ = tcp.set_nodelay(true);
        // Plain text (or anything but TLS) fails here: the console is TLS only.
        let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await??;
        // A client certificate (mTLS) was verified against the configured CA in the handshake.
        let cert_user = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(crate::tls::certificate_user);
        let Some(head) = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(&mut tls)).await??
        else {
            return Ok(());
        };
        if !head.websocket {
            // A browser loading the web console.
            return Ok(serve_file(&mut tls, &head.path).await?);
        }
        let stream = Prefixed::new(head.bytes, tls);
        let limits = WebSocketConfig::default()
            .max_message_size(Some(MAX_CLIENT_MESSAGE))
            .max_frame_size(Some(MAX_CLIENT_MESSAGE));
        let accept = tokio_tungstenite::accept_async_with_config(stream, Some(limits));
        let mut ws = tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await??;
        // Before the login checks the users: an admin's change while the password is checked
        // (seconds, under load) still ends this session at once.
        let mut users_changed = self.users_changed.subscribe();
        let Some(user) = self.login(&mut ws, peer, cert_user.as_deref()).await? else {
            return Ok(());
        };
        drop(waiting);
        info!(%peer, user = %user.name, role = ?user.role, "console login");
        send(
            &mut ws,
            &ServerMsg::Welcome {
                v: VERSION,
                user: user.name.clone(),
                role: user.role,
                team: user.team.clone(),
                teams: self.teams(),
                operators: self.operators(&user),
            },
        )
        .await?;
        // Subscribe before the snapshot: nothing falls between them.
        let mut feed = self.prepared.subscribe();
        self.snapshot(&mut ws, &user, self.published.load(Ordering::SeqCst))
            .await?;
        // Requests are answered as each is done, not one after the other: a command waits for
        // the core's answer (in a cluster whose database is away, until it is back), and
        // meanwhile the queue, pings and looks at alarms go on. At most `IN_FLIGHT` at once:
        // beyond that the connection is not read until one is answered.
        let user = &user;
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                msg = ws.next(), if in_flight.len() < IN_FLIGHT => {
                    let Some(msg) = msg else { return Ok(()) };
                    match msg? {
                        Message::Text(text) => {
                            in_flight.push(async move { self.handle(user, peer, text.as_str()).await });
                        }
                        Message::Close(_) => return Ok(()),
                        _ => {}
                    }
                }
                Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                    send(&mut ws, &reply).await?;
                }
                _ = users_changed.changed() => {
                    if self.users().get(&user.name) != Some(user) {
                        info!(%peer, user = %user.name, "console session ended: the user was changed by an admin");
                        let reason = "your user was changed by an administrator: log in again";
                        send(&mut ws, &denied(reason)).await?;
                        return Ok(());
                    }
                }
                batch = feed.recv() => match batch {
                    Ok(p) if p.resync => self.snapshot(&mut ws, user, p.seq).await?,
                    Ok(p) => {
                        if let Some(text) = p.for_user(user) {
                            ws.send(Message::Text(text.clone())).await?;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        info!(%peer, missed, "console client fell behind; resyncing");
                        feed = self.prepared.subscribe();
                        self.snapshot(&mut ws, user, self.published.load(Ordering::SeqCst))
                            .await?;
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
        cert_user: Option<&str>,
    ) -> anyhow::Result<Option<User>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.next()).await?;
        let Some(Ok(Message::Text(text))) = first else {
            return Ok(None);
        };
        let (user, password) = match serde_json::from_str(text.as_str()) {
            Ok(ClientMsg::Login { user, password }) => (user, password),
            Ok(ClientMsg::Setup {
                token,
                user,
                password,
            }) => return self.first_admin(ws, peer, token, user, password).await,
            _ => {
                send(ws, &denied("the first message must be a login")).await?;
                return Ok(None);
            }
        };
        let users = self.users();
        if let Some(named) = cert_user {
            // The certificate is the credential: it must name this user, who must exist.
            let found = (named == user).then(|| users.enabled(&user)).flatten();
            return match found {
                Some(u) => Ok(Some(u.clone())),
                None => {
                    warn!(%peer, %user, certificate = named, "console login refused: certificate mismatch");
                    let reason =
                        format!("the client certificate is for {named:?}, not a user {user:?}");
                    send(ws, &denied(&reason)).await?;
                    Ok(None)
                }
            };
        }
        let ip = peer.ip();
        if let Err(reason) = self.logins.admit(&user, ip) {
            warn!(%peer, %user, "console login refused: {reason}");
            send(ws, &denied(reason)).await?;
            return Ok(None);
        }
        // argon2 is deliberately slow (and large): off the async threads, a few at a time.
        let name = user.clone();
        let found = self
            .logins
            .check(move || users.check(&name, &password).cloned())
            .await?;
        match found {
            Some(u) => {
                self.logins.succeeded(&user, ip);
                Ok(Some(u))
            }
            None => {
                warn!(%peer, %user, "console login failed");
                send(ws, &denied("wrong user name or password")).await?;
                Ok(None)
            }
        }
    }

    /// Every team an alarm can be forwarded to, sorted, each once.
    fn teams(&self) -> Vec<String> {
        let users = self.users();
        let mut teams: Vec<String> = users.teams().map(str::to_owned).collect();
        teams.extend(self.backend.teams());
        teams.sort();
        teams.dedup();
        teams
    }

    /// For a supervisor: every operator and supervisor who may log in, sorted.
    fn operators(&self, user: &User) -> Vec<String> {
        if user.role != UserRole::Supervisor {
            return Vec::new();
        }
        self.users()
            .list()
            .into_iter()
            .filter(|u| !u.disabled && matches!(u.role, UserRole::Operator | UserRole::Supervisor))
            .map(|u| u.name.clone())
            .collect()
    }

    /// Lets admins change the users from the console, writing them to `path`.
    pub fn manage_users(&self, path: std::path::PathBuf) {
        let _ = self.users_file.set(UsersFile {
            path,
            lock: tokio::sync::Mutex::new(()),
        });
    }

    /// Uses `users` from now on; sessions of users it changed end.
    pub(crate) fn replace_users(&self, users: Users) {
        match self.users.write() {
            Ok(mut u) => *u = Arc::new(users),
            Err(e) => *e.into_inner() = Arc::new(users),
        }
        self.users_changed.send_replace(());
    }

    /// The users as they are now.
    pub(crate) fn users(&self) -> Arc<Users> {
        match self.users.read() {
            Ok(u) => Arc::clone(&u),
            Err(e) => Arc::clone(&e.into_inner()),
        }
    }

    /// Opens the first-run set-up (see [`crate::setup`]).
    pub fn offer_setup(&self, setup: Setup) {
        if let Ok(mut s) = self.setup.lock() {
            *s = Some(Arc::new(setup));
        }
    }

    /// A `setup` message: creates the first admin and logs them in, or refuses.
    async fn first_admin<S>(
        &self,
        ws: &mut WebSocketStream<S>,
        peer: SocketAddr,
        token: String,
        user: String,
        password: String,
    ) -> anyhow::Result<Option<User>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let setup = self.setup.lock().ok().and_then(|s| s.clone());
        let Some(setup) = setup.filter(|s| s.is_open()) else {
            send(ws, &denied("no set-up is open (an admin exists): log in")).await?;
            return Ok(None);
        };
        if let Err(reason) = self.logins.admit("(set-up)", peer.ip()) {
            warn!(%peer, "console set-up refused: {reason}");
            send(ws, &denied(reason)).await?;
            return Ok(None);
        }
        // The users file's turn: a SIGHUP reload or an admin's change must not read the file
        // before the new admin is in it and replace the users after.
        let _turn = match self.users_file.get() {
            Some(file) => Some(file.lock.lock().await),
            None => None,
        };
        let created = self
            .logins
            .check(move || setup.create(&token, &user, &password))
            .await?;
        match created {
            Ok((admin, users)) => {
                self.replace_users(users);
                if let Ok(mut s) = self.setup.lock() {
                    *s = None;
                }
                info!(%peer, user = %admin.name, "console: the first admin was created with the set-up link");
                Ok(Some(admin))
            }
            Err(reason) => {
                warn!(%peer, "console set-up refused: {reason}");
                send(ws, &denied(&reason)).await?;
                Ok(None)
            }
        }
    }

    /// Sends `user` the queue as it is now — at least as new as batch `after` of the feed.
    async fn snapshot<S>(
        &self,
        ws: &mut WebSocketStream<S>,
        user: &User,
        after: u64,
    ) -> anyhow::Result<()>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if user.role == UserRole::Responder {
            let alarms = self
                .open_alarms()
                .into_iter()
                .filter(|a| visible(user, a))
                .collect();
            let alarms = self.for_queue(alarms);
            let emergency_mode = self.backend.emergency_mode();
            let snapshot = ServerMsg::Snapshot {
                alarms,
                emergency_mode,
            };
            return send(ws, &snapshot).await;
        }
        let text = self.shared_snapshot(after)?;
        ws.send(Message::Text(text)).await?;
        Ok(())
    }

    /// The whole queue's `snapshot` message, made after batch `after` was published: the
    /// shared one if it is new enough, else a new one.
    fn shared_snapshot(&self, after: u64) -> serde_json::Result<Utf8Bytes> {
        let cache = || {
            self.snapshot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(c) = cache().as_ref().filter(|c| c.taken_after >= after) {
            return Ok(c.text.clone());
        }
        // Every batch up to here was built after the core applied its changes: a snapshot
        // started now includes them.
        let taken_after = self.published.load(Ordering::SeqCst);
        let alarms = self.open_alarms();
        let alarms = self.for_queue(alarms);
        let emergency_mode = self.backend.emergency_mode();
        let snapshot = ServerMsg::Snapshot {
            alarms,
            emergency_mode,
        };
        let text: Utf8Bytes = serde_json::to_string(&snapshot)?.into();
        let mut cached = cache();
        if cached
            .as_ref()
            .is_none_or(|old| old.taken_after <= taken_after)
        {
            *cached = Some(Arc::new(SharedSnapshot {
                taken_after,
                text: text.clone(),
            }));
        }
        Ok(text)
    }

    async fn handle(&self, user: &User, peer: SocketAddr, text: &str) -> ServerMsg {
        let (id, command) = match serde_json::from_str::<ClientMsg>(text) {
            Ok(ClientMsg::Command { id, command }) => (id, command),
            Ok(ClientMsg::Report { id, request }) => {
                return self.report(user, peer, id, request).await;
            }
            Ok(ClientMsg::Detail { id, alarm }) => return self.detail(user, peer, id, alarm).await,
            Ok(ClientMsg::Admin { id, request }) => {
                return self.admin(user, peer, id, request).await;
            }
            Ok(ClientMsg::Ping { id }) => {
                let degraded = self.backend.degraded();
                // Not for responders (their queue is their team's alarms) or auditors.
                let sees_all = matches!(user.role, UserRole::Operator | UserRole::Supervisor);
                let provisional = if degraded && sees_all {
                    self.backend.provisional()
                } else {
                    Vec::new()
                };
                return ServerMsg::Pong {
                    id,
                    degraded,
                    provisional,
                };
            }
            Ok(ClientMsg::Login { .. } | ClientMsg::Setup { .. }) => {
                return error(None, "already logged in");
            }
            Err(e) => return error(None, &format!("bad message: {e}")),
        };
        let request = || serde_json::to_value(&command).unwrap_or_default();
        let Some(role) = user.role.core_role() else {
            let reason = format!("the {:?} role may not give commands", user.role);
            return self.refuse(user, peer, id, request(), &reason).await;
        };
        if let Err(reason) = self.notes.admit(&user.name, &command) {
            warn!(%peer, user = %user.name, "console note refused: {reason}");
            return error(Some(id), &reason);
        }
        // A responder's team is checked against the core's state, not this console's copy
        // (which may be a batch behind the forward that made the alarm theirs).
        let team = match user.role {
            UserRole::Responder => match &user.team {
                Some(t) => Some(t.clone()),
                None => return self.refuse(user, peer, id, request(), NOT_YOURS).await,
            },
            _ => None,
        };
        let asked = request();
        let actor = Actor {
            name: user.name.clone(),
            role,
        };
        match self.backend.command(actor, command, Some(peer), team).await {
            Ok(changes) => ServerMsg::Result { id, changes },
            Err(Failure::NotYours) => self.refuse(user, peer, id, asked, NOT_YOURS).await,
            Err(Failure::Refused(error)) => ServerMsg::Refused { id, error },
            Err(Failure::Unavailable(e)) => error(Some(id), &format!("core unavailable: {e}")),
        }
    }
}

impl Console {
    /// Refuses request `id` with `reason`, after journaling the refusal for the audit trail.
    pub(crate) async fn refuse(
        &self,
        user: &User,
        peer: SocketAddr,
        id: u64,
        request: serde_json::Value,
        reason: &str,
    ) -> ServerMsg {
        warn!(%peer, user = %user.name, "console refused a request: {reason}");
        let Some(suppressed) = self.refusals.admit(&user.name) else {
            // A user sending refused requests without end: answered, counted, and recorded in
            // the user's next journaled refusal (`suppressed`), not each in the journal the
            // alarms go to.
            return error(Some(id), reason);
        };
        let refusal = Refusal {
            user: user.name.clone(),
            role: user.role,
            client: Some(peer),
            request: bounded(request),
            reason: reason.to_owned(),
            suppressed,
        };
        match self.backend.audit_refusal(refusal).await {
            Ok(()) => error(Some(id), reason),
            Err(e) => error(
                Some(id),
                &format!("{reason} (and the refusal could not be recorded: {e})"),
            ),
        }
    }

    /// One alarm in full, if this user may see it.
    async fn detail(&self, user: &User, peer: SocketAddr, id: u64, alarm: AlarmId) -> ServerMsg {
        let Some(found) = self.alarm(alarm).filter(|a| visible(user, a)) else {
            let reason = format!("no open alarm {} in your queue", alarm.0);
            let request = serde_json::json!({ "detail": alarm.0 });
            return self.refuse(user, peer, id, request, &reason).await;
        };
        let history = self.backend.history(alarm).await;
        let account = self.backend.account(&found.account);
        let citizen = match self.citizen_for(user, peer, &found, account.as_ref()).await {
            Ok(c) => c,
            Err(e) => return error(Some(id), &e),
        };
        ServerMsg::Detail {
            id,
            account,
            citizen,
            alarm: Box::new(found),
            history,
        }
    }

    /// The register's record of the alarm's citizen, once its view is journaled.
    async fn citizen_for(
        &self,
        user: &User,
        peer: SocketAddr,
        alarm: &Alarm,
        account: Option<&AccountInfo>,
    ) -> Result<Option<Box<vagt_records::Citizen>>, String> {
        // Those who call back and those who go there; auditors and admins have the reports.
        let works_alarms = matches!(
            user.role,
            UserRole::Operator | UserRole::Supervisor | UserRole::Responder
        );
        let Some(found) = account
            .and_then(|a| a.citizen.as_deref())
            .filter(|_| works_alarms)
            .and_then(|r| self.backend.citizen(r))
        else {
            return Ok(None);
        };
        if !self.views.first_in_a_while(&user.name, alarm.id.0) {
            // Journaled a moment ago for this user and alarm (a console asks again on every
            // change of the selected alarm): one record, not one per batch.
            return Ok(Some(Box::new(found)));
        }
        let view = View {
            user: user.name.clone(),
            role: user.role,
            client: Some(peer),
            alarm: Some(alarm.id.0),
            citizen: found.citizen.clone(),
        };
        match self.backend.audit_view(view).await {
            Ok(()) => Ok(Some(Box::new(found))),
            Err(e) => Err({
                self.views.forget(&user.name, alarm.id.0);
                format!("the citizen's record is not shown: its view could not be recorded ({e})")
            }),
        }
    }

    /// A report for a supervisor, auditor or admin; an auditor bound to a municipality gets
    /// only that municipality's.
    async fn report(
        &self,
        user: &User,
        peer: SocketAddr,
        id: u64,
        mut request: ReportRequest,
    ) -> ServerMsg {
        let asked = || serde_json::json!({ "report": &request });
        if !matches!(
            user.role,
            UserRole::Supervisor | UserRole::Auditor | UserRole::Admin
        ) {
            let reason = format!(
                "the {:?} role may not fetch reports (supervisors, auditors and admins may)",
                user.role
            );
            return self.refuse(user, peer, id, asked(), &reason).await;
        }
        if let Some(own) = &user.municipality {
            match &request.municipality {
                Some(other) if !other.eq_ignore_ascii_case(own) => {
                    let reason = format!("your reports are limited to {own}");
                    return self.refuse(user, peer, id, asked(), &reason).await;
                }
                _ => request.municipality = Some(own.clone()),
            }
        }
        info!(%peer, user = %user.name, ?request, "console report");
        let format = request.format;
        match self.backend.report(request).await {
            Ok(body) => ServerMsg::Report { id, format, body },
            Err(e) => error(Some(id), &e),
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

pub(crate) fn error(id: Option<u64>, message: &str) -> ServerMsg {
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

/// A whole-queue snapshot and the feed batch it is at least as new as.
struct SharedSnapshot {
    taken_after: u64,
    text: Utf8Bytes,
}
