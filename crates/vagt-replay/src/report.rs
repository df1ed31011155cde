//! The run's report: ACK latency percentiles (HdrHistogram), throughput and latency over time,
//! counts — as a terminal summary, JSON, and a self-contained HTML page with SVG charts.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::device::{Acked, Counts};

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// One slice of the run (by the time the ACK arrived).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// Milliseconds since the start.
    pub start_ms: u64,
    /// ACKs that arrived in this slice.
    pub acked: u64,
    /// Median latency of those, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// The receiver.
    pub target: String,
    /// `tcp` / `udp`, `persistent` / `per_message`.
    pub transport: String,
    /// Devices simulated.
    pub devices: usize,
    /// Wall time of the run, seconds.
    pub wall_secs: f64,
    /// Counts.
    pub counts: Counts,
    /// First send → ACK, over every ACKed message.
    pub latency_ms: Percentiles,
    /// From the first message sent to the last ACK received, ms.
    pub first_send_to_last_ack_ms: f64,
    /// Width of the `series` slices: 100 ms for runs under 30 s, else 1 s.
    pub bucket_ms: u64,
    /// ACKs per slice and their latency.
    pub series: Vec<Bucket>,
}

#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts: cannot fail
fn histogram() -> Histogram<u64> {
    // 1 µs … 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid constant bounds")
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        mean: h.mean() / 1000.0,
    }
}

impl Report {
    /// Builds the report from every device's ACKs and counts.
    pub fn new(
        header: (String, String, String, usize),
        wall: Duration,
        counts: Counts,
        acked: &[Acked],
    ) -> Self {
        let (scenario, target, transport, devices) = header;
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut all = histogram();
        let mut seconds: Vec<Histogram<u64>> = Vec::new();
        let mut first_send = None::<Duration>;
        let last_ack = acked
            .iter()
            .map(|a| a.sent_at + a.latency)
            .max()
            .unwrap_or_default();
        let bucket_ms: u64 = if last_ack < Duration::from_secs(30) {
            100
        } else {
            1000
        };
        for a in acked {
            let _ = all.record(us(a.latency));
            let at = a.sent_at + a.latency;
            first_send = Some(first_send.map_or(a.sent_at, |f| f.min(a.sent_at)));
            let ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
            let s = usize::try_from(ms / bucket_ms).unwrap_or(usize::MAX);
            if s < 100_000 {
                if seconds.len() <= s {
                    seconds.resize_with(s + 1, histogram);
                }
                if let Some(h) = seconds.get_mut(s) {
                    let _ = h.record(us(a.latency));
                }
            }
        }
        let series = seconds
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let p = percentiles(h);
                Bucket {
                    start_ms: i as u64 * bucket_ms,
                    acked: h.len(),
                    p50_ms: p.p50,
                    p99_ms: p.p99,
                    max_ms: p.max,
                }
            })
            .collect();
        Self {
            scenario,
            target,
            transport,
            devices,
            wall_secs: wall.as_secs_f64(),
            counts,
            latency_ms: percentiles(&all),
            first_send_to_last_ack_ms: first_send
                .map_or(0.0, |f| last_ack.saturating_sub(f).as_secs_f64() * 1000.0),
            bucket_ms,
            series,
        }
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let l = &self.latency_ms;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "vagt-replay: {} → {} ({}), {} devices, {:.2} s",
            self.scenario, self.target, self.transport, self.devices, self.wall_secs
        );
        let _ = writeln!(
            s,
            "  sent {}  acked {}  nak {}  duh {}  timeouts {}  retransmissions {}  late acks {}  connection errors {}  corrupted {}",
            c.sent,
            c.acked,
            c.nak,
            c.duh,
            c.timeouts,
            c.retransmissions,
            c.late_acks,
            c.connection_errors,
            c.corrupted
        );
        let _ = writeln!(
            s,
            "  ACK latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  mean {:.2}",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        let _ = writeln!(
            s,
            "  first send → last ACK: {:.1} ms; peak rate {} ACKs/s",
            self.first_send_to_last_ack_ms,
            self.series.iter().map(|p| p.acked).max().unwrap_or(0) * 1000 / self.bucket_ms.max(1)
        );
        s
    }

    /// The charts as SVG documents: (`latency`, …), (`throughput`, …).
    pub fn svgs(&self) -> [(&'static str, String); 2] {
        let [latency, throughput] = self.charts();
        [("latency", latency), ("throughput", throughput)]
    }

    fn charts(&self) -> [String; 2] {
        let latency = chart(
            &format!("ACK latency (ms) per {} ms: p50, p99, max", self.bucket_ms),
            &self.series,
            self.bucket_ms,
            &[
                ("p50", "#2b7bb9", |s: &Bucket| s.p50_ms),
                ("p99", "#e08a00", |s: &Bucket| s.p99_ms),
                ("max", "#c0392b", |s: &Bucket| s.max_ms),
            ],
        );
        let throughput = chart(
            &format!("ACKs per {} ms", self.bucket_ms),
            &self.series,
            self.bucket_ms,
            &[("ACKs", "#27ae60", |s: &Bucket| s.acked as f64)],
        );
        [latency, throughput]
    }

    /// A self-contained HTML page: the summary, ACK latency percentiles and ACK counts over
    /// time as inline SVG.
    pub fn html(&self) -> String {
        let [latency, throughput] = self.charts();
        let summary = escape(&self.summary());
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vagt-replay: {name}</title>\n\
             <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}pre{{background:#f4f4f4;padding:1em}}</style></head>\n\
             <body><h1>vagt-replay: {name}</h1>\n<pre>{summary}</pre>\n{latency}\n{throughput}\n</body></html>\n",
            name = escape(&self.scenario),
        )
    }
}

type Series<'a> = (&'a str, &'a str, fn(&Bucket) -> f64);

/// A line chart of `series` over the run's slices, as SVG.
fn chart(title: &str, seconds: &[Bucket], bucket_ms: u64, series: &[Series<'_>]) -> String {
    let (w, h, pad) = (900.0, 300.0, 50.0);
    let max_y = seconds
        .iter()
        .flat_map(|s| series.iter().map(move |(_, _, f)| f(s)))
        .fold(0.0_f64, f64::max)
        .max(1e-3);
    let n = seconds.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max_y;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#999\"/>\n\
         <text x=\"{pad}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{title}</text>\n\
         <text x=\"{pad}\" y=\"{t}\" font-size=\"12\">{max_y:.2}</text><text x=\"{r}\" y=\"{bl}\" font-size=\"12\" text-anchor=\"end\">{secs:.1} s</text>\n",
        title = escape(title),
        b = h - pad,
        r = w - pad,
        t = pad - 8.0,
        bl = h - pad + 20.0,
        secs = (seconds.len() as u64 * bucket_ms) as f64 / 1000.0,
    );
    for (k, (label, colour, f)) in series.iter().enumerate() {
        let points: Vec<String> = seconds
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{:.1},{:.1}", x(i), y(f(s))))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"12\" fill=\"{colour}\">{}</text>",
            points.join(" "),
            w - pad - 120.0 + 40.0 * k as f64,
            pad - 8.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(sent_ms: u64, latency_ms: u64) -> Acked {
        Acked {
            sent_at: Duration::from_millis(sent_ms),
            latency: Duration::from_millis(latency_ms),
            account: "1234".into(),
            sequence: 1,
            data: String::new(),
        }
    }

    #[test]
    fn percentiles_and_seconds_come_from_the_acks() {
        let acks: Vec<Acked> = (1..=100).map(|i| acked(i * 10, i)).collect();
        let counts = Counts {
            sent: 100,
            acked: 100,
            ..Counts::default()
        };
        let r = Report::new(
            ("t".into(), "x".into(), "tcp".into(), 1),
            Duration::from_secs(2),
            counts,
            &acks,
        );
        assert!((r.latency_ms.p50 - 50.0).abs() < 0.1, "{:?}", r.latency_ms);
        assert!((r.latency_ms.max - 100.0).abs() < 0.1);
        // ACK i lands at 11·i ms (11 … 1 100 ms): twelve 100 ms slices; 500–599 ms holds
        // i = 46…54.
        assert_eq!(r.bucket_ms, 100);
        assert_eq!(r.series.len(), 12);
        assert_eq!(r.series.iter().map(|s| s.acked).sum::<u64>(), 100);
        assert_eq!(r.series[5].acked, 9);
        assert!((r.first_send_to_last_ack_ms - 1090.0).abs() < 0.1);
        let html = r.html();
        assert!(html.contains("<svg") && html.contains("polyline"));
        assert!(r.summary().contains("acked 100"));
    }
}
