//! Command-line interface (clap).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
pub use vagt_report::{ReportFormat, ReportTable};

/// Vagt: alarm-receiving-centre engine for SIA DC-09 (SIA-DCS, Contact ID).
#[derive(Debug, Parser)]
#[command(name = "vagt", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode a raw byte stream of DC-09 frames from stdin: one JSON object per frame on stdout,
    /// with the fields, events and the exact response Vagt would send.
    Decode(DecodeArgs),
    /// Run the gateway: DC-09 over TCP and UDP, journal, metrics. Without --config it runs on
    /// the embedded default (config/vagt.toml).
    Serve(ServeArgs),
    /// Validate a configuration (and its accounts file) and exit.
    CheckConfig(ServeArgs),
    /// Print the open alarms (JSON, most urgent first), replayed from the journal; works while
    /// the gateway runs. Alarm data is not served on the operations port.
    Alarms(ServeArgs),
    /// Read the journal.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Reports computed from the journal.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The audit trail: every person's command from the journal.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// TLS certificates for the console.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Console users.
    #[command(subcommand)]
    User(UserCommand),
    /// The terminal console client: one command per input line, server messages as JSON lines.
    /// The first input line is the password (or set VAGT_PASSWORD; none with --client-cert).
    Console(ConsoleArgs),
    /// Ask a running gateway's operations port whether it is ready (`/readyz`) or alive
    /// (`/healthz`): exit 0 if so, else a one-line reason and exit 2 (container health checks;
    /// no curl needed in the image).
    Health(HealthArgs),
}

/// Arguments of `vagt health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The gateway's metrics (operations) address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub metrics: SocketAddr,
    /// Only whether the process answers (`/healthz`), not whether it should get traffic.
    #[arg(long)]
    pub live: bool,
}

/// `vagt audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Prints one JSON line per command: offset, time, user, role, client address, command.
    Export(AuditArgs),
}

/// `vagt cert …`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Writes a self-signed certificate and key for a first run (`console-cert.pem`,
    /// `console-key.pem`) for localhost, 127.0.0.1, ::1 and any `--name`.
    Dev {
        /// Directory to write them to.
        #[arg(long, default_value = "./data")]
        out: PathBuf,
        /// More host names or addresses the certificate is for.
        #[arg(long)]
        name: Vec<String>,
        /// Also issue a client certificate (mTLS) for this console user, from a development CA
        /// (`console-ca.pem`, made on first use; set it as `[console] client_ca`). Repeatable.
        #[arg(long, value_name = "USER")]
        client: Vec<String>,
    },
}

/// `vagt user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a user to a users file; the password is read from standard input.
    Add {
        /// The users file (created if missing).
        #[arg(long)]
        file: PathBuf,
        /// Login name.
        #[arg(long)]
        name: String,
        /// operator, supervisor, responder, auditor or admin.
        #[arg(long)]
        role: String,
        /// A responder's team.
        #[arg(long)]
        team: Option<String>,
        /// An auditor's municipality: their reports are limited to it.
        #[arg(long)]
        municipality: Option<String>,
    },
    /// Prints the open first-run set-up link of the gateway on data directory DIR (for images
    /// without a shell: `kubectl exec vagt-0 -- vagt user setup-link --data /var/lib/vagt`).
    SetupLink {
        /// The gateway's data directory.
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data: PathBuf,
    },
}

/// `vagt report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The monthly extract: every call per citizen, SLA compliance per shift, top callers.
    Monthly(ReportArgs),
}

/// Arguments of `vagt report monthly`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The month, `YYYY-MM` (in the centre's time zone).
    #[arg(long)]
    pub month: String,
    /// Only citizens of this municipality (from the accounts file).
    #[arg(long)]
    pub municipality: Option<String>,
    /// Only citizens whose calls go to this home-care provider or home-nurse district.
    #[arg(long)]
    pub provider: Option<String>,
    /// `csv`, `json` or `html`.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ReportFormat,
    /// For CSV: the call list or the per-citizen figures.
    #[arg(long, value_enum, default_value = "calls")]
    pub table: ReportTable,
    /// CSV field separator (`;` for Danish Excel).
    #[arg(long, default_value = ",")]
    pub delimiter: char,
    /// Configuration, data directory and accounts, as for `vagt serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Arguments of `vagt serve` (and `vagt check-config`); flags override the config file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (default: the embedded config/vagt.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// DC-09 address, served on TCP and UDP (e.g. 0.0.0.0:7050; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Prometheus /metrics address.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Data directory (journal in `DIR/journal`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Accounts file.
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,
    /// Console address (TLS; port 0 picks one). Runs the console even when the config file
    /// has no `[console]` section (with its defaults: the files in the data directory).
    #[arg(long, value_name = "ADDR")]
    pub console: Option<SocketAddr>,
    /// No console (e.g. several gateways on one machine, benchmarks); wins over `--console`.
    #[arg(long)]
    pub no_console: bool,
    /// This cluster node's name, instead of `cluster.node` (one config for every node, e.g. a
    /// Kubernetes StatefulSet passing its pod name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Log lines on stderr: `text` (coloured only on a terminal) or `json` (one object per
    /// line, for log shippers).
    #[arg(long, env = "VAGT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `vagt serve --log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Arguments of `vagt console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The console: `wss://host:port/` or `host:port`.
    #[arg(long)]
    pub server: String,
    /// The name its certificate is for (default: the server's host).
    #[arg(long)]
    pub host: Option<String>,
    /// The certificate to trust (PEM; e.g. the one `vagt cert dev` wrote).
    #[arg(long)]
    pub cert: PathBuf,
    /// User name.
    #[arg(long)]
    pub user: String,
    /// Client certificate (PEM) for mTLS: log in with it instead of a password.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

/// `vagt journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Print journaled frames as JSON lines.
    Export(JournalArgs),
    /// Check every record's checksum.
    Verify(JournalArgs),
    /// Copy every valid record of a damaged journal into a new data directory and report
    /// exactly which byte ranges could not be read (when `serve` refuses a corrupt journal).
    Salvage(CopyArgs),
    /// Copy the journal (and the data directory's small files: users, console pair, cluster
    /// membership) into a new data directory while `serve` runs: a consistent copy that
    /// `vagt serve --data DEST` opens as it is (restore).
    Backup(CopyArgs),
}

/// Arguments of `vagt journal salvage` and `backup`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Data directory of the journal to copy (`DIR/journal`); only read.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,
    /// A new data directory for the copy (must not hold a journal yet).
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

/// Arguments of `vagt journal`.
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Data directory (the journal is `DIR/journal`).
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,
    /// Start at this journal offset (export only).
    #[arg(long, value_name = "OFFSET", default_value_t = 0)]
    pub from: u64,
}

/// Arguments of `vagt audit export`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The journal to read.
    #[command(flatten)]
    pub journal: JournalArgs,
    /// A config file: with a `[cluster]` section the trail is read from the cluster's
    /// PostgreSQL log (offsets are its `gseq`), else from `--data`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Arguments of `vagt decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// AES key for encrypted frames: `hex:<32/48/64 hex digits>`, `text:<16/24/32 chars>`, or
    /// bare (48/64 hex digits = hex; 16/24/32 characters = text; 32 hex digits need a prefix).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// With --key: treat every account as keyed, so clear-text frames are refused (NAK), as the
    /// gateway does for an account configured with a key.
    #[arg(long, requires = "key")]
    pub require_encryption: bool,
    /// The receiver clock for the timestamp window and responses (RFC 3339, e.g.
    /// 2024-05-01T12:00:00Z). Default: the system clock.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Largest accepted frame body in bytes (at most 4095).
    #[arg(long, default_value_t = 4095, value_parser = clap::value_parser!(u16).range(16..=4095))]
    pub max_len: u16,
    /// Accept a length field written in decimal (a known panel quirk).
    #[arg(long)]
    pub tolerate_decimal_length: bool,
    /// Apply the timestamp window to clear-text frames too.
    #[arg(long)]
    pub window_for_clear_text: bool,
    /// Seconds a timestamp may lag the receiver clock.
    #[arg(long, default_value_t = 40)]
    pub max_age: u32,
    /// Seconds a timestamp may lead the receiver clock.
    #[arg(long, default_value_t = 20)]
    pub max_ahead: u32,
}
