//! What protects the console before anyone has logged in (DESIGN.md promise 8): a bounded
//! number of password checks at once (argon2 takes ~19 MB each), and login limits counted when
//! an attempt *starts* — per user and address (5 a minute), and per address (30 failed or
//! unfinished a minute, for consoles behind one NAT) — so concurrent guesses are counted too and
//! one account's success resets no one else's count.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::Semaphore;

/// Attempts per user name and client address per window.
pub(crate) const PER_USER_AND_ADDRESS: u32 = 5;
/// Attempts per client address per window (all user names).
pub(crate) const PER_ADDRESS: u32 = 30;
/// Password checks running at once; more wait their turn.
const CONCURRENT_CHECKS: usize = 2;
/// The counting window.
const WINDOW: Duration = Duration::from_secs(60);
/// Entries kept before expired ones are swept (many user names from one attacker).
const SWEEP_ABOVE: usize = 10_000;

/// Console connections from one address that have not logged in yet.
pub(crate) const PRE_LOGIN_PER_ADDRESS: usize = 32;

/// The address a limit counts by: the IPv4 address, or the IPv6 /64 (one subscriber's
/// prefix, which a client can pick addresses from at will).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Counts a connection against its address until it has logged in (or ended).
pub(crate) struct PreLogin {
    map: std::sync::Arc<DashMap<IpAddr, usize>>,
    key: IpAddr,
}

impl PreLogin {
    /// Takes a slot for `ip`, or `None` when its address has too many connections waiting.
    pub(crate) fn take(map: &std::sync::Arc<DashMap<IpAddr, usize>>, ip: IpAddr) -> Option<Self> {
        let key = client_key(ip);
        let mut n = map.entry(key).or_insert(0);
        if *n >= PRE_LOGIN_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(Self {
            map: std::sync::Arc::clone(map),
            key,
        })
    }
}

impl Drop for PreLogin {
    fn drop(&mut self) {
        self.map.remove_if_mut(&self.key, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

/// Attempts in the current window.
#[derive(Clone, Copy)]
struct Count {
    n: u32,
    since: Instant,
}

/// The login limits and the password-check queue.
pub(crate) struct LoginGuard {
    per_user: DashMap<(String, IpAddr), Count>,
    per_address: DashMap<IpAddr, Count>,
    checks: Semaphore,
}

impl LoginGuard {
    pub(crate) fn new() -> Self {
        Self {
            per_user: DashMap::new(),
            per_address: DashMap::new(),
            checks: Semaphore::new(CONCURRENT_CHECKS),
        }
    }

    /// Counts an attempt as it starts; `Err` with the reason when a limit is reached (the
    /// attempt is then not checked at all).
    pub(crate) fn admit(&self, user: &str, ip: IpAddr) -> Result<(), &'static str> {
        let ip = client_key(ip);
        self.sweep();
        let now = Instant::now();
        let mut by_address = self
            .per_address
            .entry(ip)
            .or_insert(Count { n: 0, since: now });
        let mut by_user = self
            .per_user
            .entry((user.to_owned(), ip))
            .or_insert(Count { n: 0, since: now });
        for c in [&mut *by_address, &mut *by_user] {
            if now.duration_since(c.since) >= WINDOW {
                *c = Count { n: 0, since: now };
            }
        }
        if by_user.n >= PER_USER_AND_ADDRESS {
            return Err("too many login attempts for this user; wait a minute");
        }
        if by_address.n >= PER_ADDRESS {
            return Err("too many login attempts from this address; wait a minute");
        }
        by_user.n += 1;
        by_address.n += 1;
        Ok(())
    }

    /// The user proved the password: their own count starts again (nobody else's), and the
    /// attempt no longer counts against the address — a whole centre behind one NAT logging in
    /// again after a restart is not an attack.
    pub(crate) fn succeeded(&self, user: &str, ip: IpAddr) {
        let ip = client_key(ip);
        self.per_user.remove(&(user.to_owned(), ip));
        if let Some(mut c) = self.per_address.get_mut(&ip) {
            c.n = c.n.saturating_sub(1);
        }
    }

    /// Runs one password check on a blocking thread, at most [`CONCURRENT_CHECKS`] at once.
    pub(crate) async fn check<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _turn = self.checks.acquire().await?;
        Ok(tokio::task::spawn_blocking(f).await?)
    }

    fn sweep(&self) {
        if self.per_user.len() + self.per_address.len() > SWEEP_ABOVE {
            let now = Instant::now();
            self.per_user
                .retain(|_, c| now.duration_since(c.since) < WINDOW);
            self.per_address
                .retain(|_, c| now.duration_since(c.since) < WINDOW);
        }
    }
}
