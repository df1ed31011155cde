//! No backlog under bursts, through the real gateway on loopback.
//!
//! Criterion part (`gateway_burst/<server>/<burst>`): N connections (N = min(burst, 1 000)) are
//! open; in one iteration every connection sends burst/N alarms at once and the time until the
//! *last* ACK is measured. Servers: the real gateway with fsync on, with fsync off, and a bare
//! server that writes a constant ACK for each CR without parsing (the floor). No backlog means
//! the cost per alarm does not grow with the burst.
//!
//! Report part (printed, and written to `target/vagt-gateway-burst.json`): 1 000 connections in
//! a closed loop (send, wait for the ACK, repeat) for a few seconds per server: throughput and
//! ACK-latency percentiles, next to this machine's `fdatasync` latency measured in the same run.
//!
//! Run: `cargo bench -p vagt-benches --bench gateway_burst`.
//! `VAGT_BURST_REPORT_SECS` (default 5) sets the report's duration per server; 0 skips it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use vagt::config::{Config, default_without_console};
use vagt_records::Accounts;

const ACK: &[u8] = b"\n1BC10012\"ACK\"0001L0#1234[]\r";

/// A server under test, on its own runtime (as a separate process would be).
struct Server {
    name: &'static str,
    addr: SocketAddr,
    runtime: Runtime,
    _dir: Option<tempfile::TempDir>,
}

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

fn gateway(fsync: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let text = default_without_console()
        .replace("fsync = true", &format!("fsync = {fsync}"))
        .replace(
            "max_connections_per_ip = 1000",
            "max_connections_per_ip = 5000",
        )
        .replace("listen = \"0.0.0.0:7050\"", "listen = \"127.0.0.1:0\"")
        .replace("metrics = \"127.0.0.1:9464\"", "metrics = \"127.0.0.1:0\"");
    let mut config = Config::parse(&text, Path::new(".")).unwrap();
    config.gateway.data = dir.path().to_owned();
    let rt = runtime(2);
    let running = rt
        .block_on(vagt::serve::start(config, Accounts::default()))
        .unwrap();
    let addr = running.addr;
    // Kept running until the process exits; the temp dir is removed then.
    std::mem::forget(running);
    Server {
        name: if fsync { "fsync_on" } else { "fsync_off" },
        addr,
        runtime: rt,
        _dir: Some(dir),
    }
}

/// Answers every CR with a constant ACK, parsing nothing: the floor any receiver can reach.
fn bare() -> Server {
    let rt = runtime(2);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut out = Vec::new();
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    out.clear();
                    for _ in buf[..n].iter().filter(|&&b| b == b'\r') {
                        out.extend_from_slice(ACK);
                    }
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Server {
        name: "bare",
        addr,
        runtime: rt,
        _dir: None,
    }
}

/// One alarm: unique per (connection, round, index) so dedup never short-cuts it.
fn frame(conn: usize, round: u64, i: usize) -> Vec<u8> {
    let account = format!("{:06X}", 0x10_0000 + conn);
    let seq = (round % 9999) + 1;
    let zone = round * 100 + i as u64;
    let body = format!("\"SIA-DCS\"{seq:04}L0#{account}[#{account}|NQA{zone}]");
    vagt_dc09::wrap_body(body.as_bytes()).unwrap()
}

/// Reads until `n` CRs (answers) arrived.
async fn read_answers(s: &mut TcpStream, n: usize, buf: &mut [u8]) {
    let mut seen = 0;
    while seen < n {
        let got = s.read(buf).await.expect("read");
        assert!(got > 0, "server closed the connection");
        seen += buf[..got].iter().filter(|&&b| b == b'\r').count();
    }
}

struct Fleet {
    conns: Vec<TcpStream>,
    round: u64,
}

impl Fleet {
    async fn connect(addr: SocketAddr, n: usize) -> Self {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            conns.push(s);
        }
        Self { conns, round: 0 }
    }

    /// Every connection sends `per_conn` alarms at once; returns the time to the last ACK.
    async fn burst(&mut self, per_conn: usize) -> Duration {
        self.round += 1;
        let round = self.round;
        let payloads: Vec<Vec<u8>> = (0..self.conns.len())
            .map(|c| (0..per_conn).flat_map(|i| frame(c, round, i)).collect())
            .collect();
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (s, p) in std::mem::take(&mut self.conns).into_iter().zip(payloads) {
            tasks.spawn(async move {
                let mut s = s;
                s.write_all(&p).await.unwrap();
                let mut buf = vec![0u8; 4096];
                read_answers(&mut s, per_conn, &mut buf).await;
                s
            });
        }
        while let Some(s) = tasks.join_next().await {
            self.conns.push(s.unwrap());
        }
        start.elapsed()
    }
}

fn bursts(c: &mut Criterion) {
    let servers = [gateway(true), gateway(false), bare()];
    let client = runtime(2);
    let mut group = c.benchmark_group("gateway_burst");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for server in &servers {
        for burst in [100usize, 1_000, 10_000] {
            let conns = burst.min(1_000);
            let per_conn = burst / conns;
            let mut fleet = client.block_on(Fleet::connect(server.addr, conns));
            group.throughput(Throughput::Elements(burst as u64));
            group.bench_function(BenchmarkId::new(server.name, burst), |b| {
                b.iter_custom(|iters| {
                    client.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += fleet.burst(per_conn).await;
                        }
                        total
                    })
                });
            });
        }
    }
    group.finish();
    report(&servers, &client);
    for s in servers {
        s.runtime.shutdown_background();
    }
}

/// Closed loop: each of `conns` connections sends one alarm, waits for its ACK, repeats.
async fn closed_loop(
    addr: SocketAddr,
    conns: usize,
    run_for: Duration,
) -> (u64, Histogram<u64>, Duration) {
    let fleet = Fleet::connect(addr, conns).await;
    let deadline = Instant::now() + run_for;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (c, mut s) in fleet.conns.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let mut buf = vec![0u8; 512];
            let mut round = 1_000_000u64;
            while Instant::now() < deadline {
                round += 1;
                let f = frame(c, round, 0);
                let t = Instant::now();
                s.write_all(&f).await.unwrap();
                read_answers(&mut s, 1, &mut buf).await;
                hist.record(t.elapsed().as_micros() as u64).unwrap();
            }
            hist
        });
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    while let Some(h) = tasks.join_next().await {
        all.add(h.unwrap()).unwrap();
    }
    (all.len(), all, start.elapsed())
}

/// p50/p99 of `n` fdatasync calls after a 120-byte append, on the same filesystem as the journal.
fn fdatasync_latency(n: usize) -> Histogram<u64> {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("probe")).unwrap();
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        f.write_all(&[b'x'; 120]).unwrap();
        let t = Instant::now();
        f.sync_data().unwrap();
        hist.record(t.elapsed().as_micros() as u64).unwrap();
    }
    hist
}

fn report(servers: &[Server], client: &Runtime) {
    let secs: u64 = std::env::var("VAGT_BURST_REPORT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    if secs == 0 {
        return;
    }
    let sync = fdatasync_latency(2_000);
    println!(
        "\nclosed loop, 1000 connections, {secs} s per server (one alarm in flight per connection)"
    );
    println!(
        "fdatasync of a 120-byte append (2000 calls): p50 {} µs, p99 {} µs, max {} µs",
        sync.value_at_quantile(0.5),
        sync.value_at_quantile(0.99),
        sync.max()
    );
    let mut rows = Vec::new();
    for s in servers {
        let (n, h, took) = client.block_on(closed_loop(s.addr, 1_000, Duration::from_secs(secs)));
        let rate = n as f64 / took.as_secs_f64();
        println!(
            "{:>9}: {:>8.0} ACKs/s   latency µs p50 {:>6} p90 {:>6} p99 {:>6} p99.9 {:>6} max {:>6}",
            s.name,
            rate,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
        rows.push(format!(
            "{{\"server\":\"{}\",\"acks_per_sec\":{rate:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
            s.name, h.value_at_quantile(0.5), h.value_at_quantile(0.9), h.value_at_quantile(0.99), h.value_at_quantile(0.999), h.max()
        ));
    }
    let json = format!(
        "{{\"connections\":1000,\"seconds\":{secs},\"fdatasync_p50_us\":{},\"fdatasync_p99_us\":{},\"servers\":[{}]}}\n",
        sync.value_at_quantile(0.5),
        sync.value_at_quantile(0.99),
        rows.join(",")
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vagt-gateway-burst.json");
    let _ = std::fs::write(&out, json);
    println!("written to {}", out.display());
}

criterion_group!(benches, bursts);
criterion_main!(benches);
