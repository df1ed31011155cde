//! Real PostgreSQL servers for tests: a primary made with `initdb` and streaming standbys made
//! with `pg_basebackup -R`, each in its own temporary directory on a loopback port, stopped
//! (immediately) when dropped. Never a server assumed to be running.
//!
//! PostgreSQL refuses to run as root; when the tests run as root the server runs as the
//! `postgres` user (`runuser`), which owns the temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A PostgreSQL server started for a test.
pub struct Postgres {
    dir: PathBuf,
    _temp: tempfile::TempDir,
    /// Its loopback port.
    pub port: u16,
    bin: PathBuf,
    stopped: bool,
}

/// The user the servers run as, when the tests run as root.
const SERVER_USER: &str = "postgres";

impl Postgres {
    /// A new primary with WAL shipping enabled (standbys can be made from it).
    pub fn primary() -> Self {
        let bin = bindir();
        let (temp, dir) = server_dir();
        run(command(&bin, "initdb")
            .args(["-A", "trust", "-U", "vagt", "--no-sync", "-D"])
            .arg(&dir));
        let port = free_port();
        append_conf(
            &dir,
            "postgresql.conf",
            &format!(
                "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 8\nfsync = on\nsynchronous_commit = on\n\
                 hot_standby = on\nwal_keep_size = '256MB'\nlog_min_messages = warning\n",
                socket_dir(&dir).display()
            ),
        );
        std::fs::write(
            dir.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )
        .unwrap_or_else(|e| panic!("writing pg_hba.conf: {e}"));
        let mut pg = Self {
            dir,
            _temp: temp,
            port,
            bin,
            stopped: true,
        };
        pg.start();
        pg
    }

    /// A streaming standby of this server, named `name` (its `application_name`, for
    /// `synchronous_standby_names`).
    pub fn standby(&self, name: &str) -> Self {
        let (temp, dir) = server_dir();
        std::fs::remove_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        run(command(&self.bin, "pg_basebackup")
            .args(["-h", "127.0.0.1", "-U", "vagt", "-R", "-X", "stream", "-p"])
            .arg(self.port.to_string())
            .arg("-D")
            .arg(&dir));
        let port = free_port();
        append_conf(
            &dir,
            "postgresql.conf",
            &format!(
                "port = {port}\nunix_socket_directories = '{}'\n",
                socket_dir(&dir).display()
            ),
        );
        // After the line `pg_basebackup -R` wrote there (the last one counts).
        append_conf(
            &dir,
            "postgresql.auto.conf",
            &format!(
                "primary_conninfo = 'host=127.0.0.1 port={} user=vagt application_name={name}'\n",
                self.port
            ),
        );
        let mut pg = Self {
            dir,
            _temp: temp,
            port,
            bin: self.bin.clone(),
            stopped: true,
        };
        pg.start();
        pg
    }

    /// Makes `name` the synchronous standby (commits wait for it) and reloads.
    pub fn require_sync_standby(&self, name: &str) {
        self.sql(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '{name}'"
        ));
        self.sql("SELECT pg_reload_conf()");
    }

    /// Turns TLS on with this certificate and key (PEM) and refuses every TCP connection without
    /// it (`hostnossl … reject`), then restarts the server.
    pub fn require_tls(&mut self, cert_pem: &str, key_pem: &str) {
        for (name, text) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = self.dir.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {name}: {e}"));
            run(Command::new("chmod").arg("600").arg(&path));
            if is_root() {
                run(Command::new("chown").arg(SERVER_USER).arg(&path));
            }
        }
        append_conf(
            &self.dir,
            "postgresql.conf",
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        );
        std::fs::write(
            self.dir.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap_or_else(|e| panic!("writing pg_hba.conf: {e}"));
        self.kill();
        self.start();
    }

    /// A libpq connection string for `vagt` on database `postgres`.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=vagt dbname=postgres connect_timeout=2",
            self.port
        )
    }

    /// Runs `sql` with psql; returns its unaligned, tuples-only output.
    pub fn sql(&self, sql: &str) -> String {
        let out = run(command(&self.bin, "psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "vagt",
            ])
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql]));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Starts (again) a stopped server and waits until it accepts connections.
    pub fn start(&mut self) {
        let log = self.dir.join("server.log");
        run(command(&self.bin, "pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.dir)
            .arg("-l")
            .arg(&log)
            .arg("start"));
        self.stopped = false;
    }

    /// Stops the server at once (`-m immediate`: as if the machine died).
    pub fn kill(&mut self) {
        if !self.stopped {
            let _ = command(&self.bin, "pg_ctl")
                .args(["-w", "-m", "immediate", "-D"])
                .arg(&self.dir)
                .arg("stop")
                .output();
            self.stopped = true;
        }
    }

    /// Promotes a standby to primary and waits until it is.
    pub fn promote(&self) {
        run(command(&self.bin, "pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.dir)
            .arg("promote"));
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A CA and a server certificate it signed for `127.0.0.1` and `localhost`: (CA certificate,
/// server certificate, server key), PEM.
pub fn test_ca() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Vagt test PostgreSQL CA");
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap_or_else(|e| panic!("{e}"));
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let cert = server
        .signed_by(&key, &issuer)
        .unwrap_or_else(|e| panic!("{e}"));
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// Where the PostgreSQL programs are: `pg_config --bindir`, else Debian's newest version.
fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL binaries (initdb): ./scripts/test installs them"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `program` from `bin`, run as the server user when we are root.
fn command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", SERVER_USER, "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// A temporary directory for a server's data, owned by the server user.
fn server_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::Builder::new()
        .prefix("vagt-pg-")
        .tempdir()
        .unwrap_or_else(|e| panic!("temp dir: {e}"));
    let dir = temp.path().join("data");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    if is_root() {
        run(Command::new("chown")
            .args(["-R", SERVER_USER])
            .arg(temp.path()));
    }
    (temp, dir)
}

/// Beside the data directory, not in it (`pg_basebackup` would copy the socket).
fn socket_dir(data: &Path) -> &Path {
    data.parent().unwrap_or(data)
}

fn append_conf(dir: &Path, file: &str, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn run(c: &mut Command) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("running {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
