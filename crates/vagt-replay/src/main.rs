//! The `vagt-replay` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::time::Duration;

use vagt_replay::report::Report;
use vagt_replay::scenario::Scenario;

/// Simulated DC-09 device fleets against any receiver: bursts, steady traffic, retransmission
/// storms; ACK latency and counts as a summary, JSON and HTML.
#[derive(Parser)]
#[command(name = "vagt-replay", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a scenario file against a receiver.
    Run {
        /// The scenario (see config/replay/).
        scenario: PathBuf,
        /// The receiver's address (overrides the scenario's `target`).
        #[arg(long)]
        target: Option<SocketAddr>,
        #[command(flatten)]
        out: Outputs,
        /// After the run, check that every ACKed message is in this Vagt data directory's
        /// journal exactly once (exit status 1 if not).
        #[arg(long)]
        verify_journal: Option<PathBuf>,
    },
    /// Sends recorded traffic again: `vagt journal export` output or a file of raw frames.
    /// Each account is one device (one TCP connection) waiting for its ACKs.
    Replay {
        /// The recording.
        file: PathBuf,
        /// The receiver's address.
        #[arg(long)]
        target: SocketAddr,
        /// 1 = the recorded pace, 10 = ten times faster, 0 = as fast as the receiver answers.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Milliseconds to wait for an answer before resending.
        #[arg(long, default_value_t = 5000)]
        ack_timeout_ms: u64,
        /// Resends before a frame counts as lost.
        #[arg(long, default_value_t = 3)]
        retries: u32,
        #[command(flatten)]
        out: Outputs,
    },
    /// Runs the floor to compare receivers with: answers every frame with an ACK (sequence and
    /// account echoed) and does nothing else.
    Bare {
        /// Address for TCP and UDP.
        #[arg(long, default_value = "127.0.0.1:7060")]
        listen: SocketAddr,
    },
    /// Closed-loop load: each connection sends an alarm and waits for its ACK, as fast as the
    /// receiver answers; prints ACKs/s, p50/p99 and (with --pid) the receiver's CPU per ACK as
    /// one JSON line.
    Closed {
        /// The receiver's address.
        #[arg(long)]
        target: SocketAddr,
        /// Connections (one account each).
        #[arg(long, default_value_t = 100)]
        connections: usize,
        /// First account number (use a fresh range for every round).
        #[arg(long, default_value_t = 500_000)]
        account_start: u64,
        /// Unmeasured warm-up seconds.
        #[arg(long, default_value_t = 1.0)]
        warmup_secs: f64,
        /// Measured seconds.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// The receiver's process id: its CPU time (whole process and per thread) per ACK.
        #[arg(long)]
        pid: Option<u32>,
        /// Kernel clock ticks per second (`getconf CLK_TCK`).
        #[arg(long, default_value_t = 100)]
        clk_tck: u64,
        /// A backup receiver: a connection that fails or gets no ACK within --ack-timeout-ms
        /// retransmits the same alarm, --tries times on its receiver, then on the other (like a
        /// panel with primary and backup receivers); the longest wait for an ACK is reported.
        #[arg(long)]
        backup: Option<SocketAddr>,
        /// How long a panel waits for an ACK before it retransmits.
        #[arg(long, default_value_t = 2000)]
        ack_timeout_ms: u64,
        /// Attempts on one receiver before turning to the other.
        #[arg(long, default_value_t = 2)]
        tries: u32,
    },
    /// Hostile peers, rate-limited (they share the machine), for the hardening bench; prints what
    /// they did as one JSON line.
    Hostile {
        /// The receiver's address.
        #[arg(long)]
        target: SocketAddr,
        /// What they do.
        #[arg(long, value_enum)]
        kind: vagt_replay::hostile::Kind,
        /// Concurrent connections.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Frames, 64-byte writes, connects or datagrams per second, all together.
        #[arg(long, default_value_t = 2000.0)]
        rate: f64,
        /// Seconds.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// First account number (no-read, nul).
        #[arg(long, default_value_t = 900_000)]
        account_start: u64,
        /// Kernel clock ticks per second (`getconf CLK_TCK`).
        #[arg(long, default_value_t = 100)]
        clk_tck: u64,
    },
    /// Prints the accounts file a Vagt gateway needs for a scenario's fleet (keys included).
    Accounts {
        /// The scenario.
        scenario: PathBuf,
    },
}

/// Where the report goes besides the terminal.
#[derive(clap::Args)]
struct Outputs {
    /// Write the report as JSON to this file (`-` for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the report as a self-contained HTML page with charts.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the charts as SVG files (`<name>-latency.svg`, `<name>-throughput.svg`) here.
    #[arg(long)]
    svg_dir: Option<PathBuf>,
}

impl Outputs {
    fn write(&self, report: &Report, value: &serde_json::Value) -> anyhow::Result<()> {
        if let Some(path) = &self.json {
            let text = serde_json::to_string_pretty(value)?;
            if path.as_os_str() == "-" {
                println!("{text}");
            } else {
                std::fs::write(path, text + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        if let Some(path) = &self.html {
            std::fs::write(path, report.html())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(dir) = &self.svg_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (kind, svg) in report.svgs() {
                let path = dir.join(format!("{}-{kind}.svg", report.scenario));
                std::fs::write(&path, svg)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vagt-replay: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Accounts { scenario } => {
            print!("{}", Scenario::load(&scenario)?.accounts_file());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Closed {
            target,
            connections,
            account_start,
            warmup_secs,
            secs,
            pid,
            clk_tck,
            backup,
            ack_timeout_ms,
            tries,
        } => {
            anyhow::ensure!(
                warmup_secs >= 0.0 && secs > 0.0 && secs.is_finite() && warmup_secs.is_finite(),
                "--secs must be positive and --warmup-secs not negative"
            );
            anyhow::ensure!(connections >= 1, "--connections must be at least 1");
            let load = vagt_replay::closed::Load {
                target,
                connections,
                account_start,
                warmup: Duration::from_secs_f64(warmup_secs),
                measure: Duration::from_secs_f64(secs),
                pid,
                clk_tck: clk_tck.max(1),
                failover: vagt_replay::closed::Failover {
                    backup,
                    ack_timeout: Duration::from_millis(ack_timeout_ms.max(1)),
                    tries: tries.max(1),
                },
            };
            let rt = tokio::runtime::Runtime::new()?;
            let measured = rt.block_on(vagt_replay::closed::run(&load))?;
            println!("{}", serde_json::to_string(&measured)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Hostile {
            target,
            kind,
            connections,
            rate,
            secs,
            account_start,
            clk_tck,
        } => {
            anyhow::ensure!(
                secs > 0.0 && secs.is_finite() && rate > 0.0 && rate.is_finite(),
                "--secs and --rate must be positive"
            );
            let h = vagt_replay::hostile::Hostile {
                target,
                kind,
                connections,
                rate,
                duration: Duration::from_secs_f64(secs),
                account_start,
                clk_tck,
            };
            // One thread: the hostile peers must not take the receiver's CPU.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let done = rt.block_on(vagt_replay::hostile::run(&h))?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bare { listen } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(vagt_replay::bare::serve(listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay {
            file,
            target,
            speed,
            ack_timeout_ms,
            retries,
            out,
        } => {
            anyhow::ensure!(
                speed >= 0.0 && speed.is_finite(),
                "--speed must be 0 or more"
            );
            let frames = vagt_replay::recorded::load(&file)?;
            let plans = vagt_replay::recorded::plans(
                &frames,
                target,
                speed,
                Duration::from_millis(ack_timeout_ms.max(1)),
                retries,
            )?;
            let name = file
                .file_stem()
                .map_or_else(|| "replay".into(), |s| s.to_string_lossy().into_owned());
            let outcome = vagt_replay::run::run_plans(&name, target, "tcp, recorded", plans)?;
            eprint!("{}", outcome.report.summary());
            out.write(&outcome.report, &serde_json::to_value(&outcome.report)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Run {
            scenario,
            target,
            out,
            verify_journal,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let target = target.unwrap_or(scenario.target);
            let outcome = vagt_replay::run::run(&scenario, target)?;
            let report = &outcome.report;
            let mut value = serde_json::to_value(report)?;
            eprint!("{}", report.summary());
            let mut code = ExitCode::SUCCESS;
            if let Some(dir) = verify_journal {
                let v = vagt_replay::verify::verify(&scenario, &dir, &outcome.acked)?;
                eprintln!(
                    "  journal: {} of {} ACKed messages stored exactly once; {} missing, {} duplicated; {} stored but not ACKed",
                    v.once, v.acked, v.missing_count, v.duplicated_count, v.stored_not_acked
                );
                for m in &v.missing {
                    eprintln!("    missing: {m}");
                }
                for d in &v.duplicated {
                    eprintln!("    duplicated: {d}");
                }
                if !v.ok() {
                    code = ExitCode::from(1);
                }
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("journal".into(), serde_json::to_value(&v)?);
                }
            }
            out.write(report, &value)?;
            Ok(code)
        }
    }
}
