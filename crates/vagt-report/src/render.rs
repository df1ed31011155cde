//! The extract as CSV (what a municipality's spreadsheet opens), JSON, or a self-contained HTML
//! page with charts.

use std::fmt::Write as _;

use vagt_core::Zone;

use crate::monthly::Monthly;

/// CSV of the call list: UTF-8, a header row, `delimiter` between fields (`;` for Danish Excel).
pub fn calls_csv(m: &Monthly, zone: &Zone, delimiter: char) -> String {
    let header = [
        "alarm",
        "citizen",
        "account",
        "call_type",
        "municipality",
        "code",
        "priority",
        "shift",
        "opened",
        "claimed",
        "claimed_by",
        "forwarded",
        "accepted",
        "on_site",
        "closed",
        "cancelled",
        "classification",
        "team",
        "escalations",
        "repeats",
        "presses",
        "events",
        "time_to_claim_secs",
        "time_to_on_site_secs",
    ];
    let mut out = String::new();
    row(&mut out, delimiter, header.iter().map(|s| (*s).to_owned()));
    let t = |v: Option<u64>| v.map(|s| zone.rfc3339(s)).unwrap_or_default();
    let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in &m.calls {
        let c = &r.call;
        let shift = r.shift.as_str().to_owned();
        row(
            &mut out,
            delimiter,
            [
                c.alarm.to_string(),
                r.citizen.clone(),
                c.account.clone(),
                r.call_type.clone(),
                r.municipality.clone(),
                c.code.clone(),
                c.priority.to_string(),
                shift,
                zone.rfc3339(c.opened),
                t(c.claimed),
                c.claimed_by.clone().unwrap_or_default(),
                t(c.forwarded),
                t(c.accepted),
                t(c.on_site),
                t(c.closed),
                t(c.cancelled),
                c.classification
                    .map(vagt_core::Classification::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                c.team.clone().unwrap_or_default(),
                c.escalations.to_string(),
                c.repeats.to_string(),
                c.presses.to_string(),
                c.events.join(" "),
                n(c.time_to_claim()),
                n(c.time_to_on_site()),
            ],
        );
    }
    out
}

/// CSV of the per-citizen figures.
pub fn citizens_csv(m: &Monthly, delimiter: char) -> String {
    let classes = [
        "emergency",
        "false_call",
        "reassurance_call",
        "repeat_call",
        "technical",
        "unclassified",
    ];
    let mut out = String::new();
    let mut header = vec![
        "citizen".to_owned(),
        "calls".to_owned(),
        "alarms".to_owned(),
    ];
    header.extend(classes.iter().map(|c| (*c).to_owned()));
    header.extend(
        [
            "at_centre",
            "forwarded",
            "median_time_to_claim_secs",
            "worst_time_to_claim_secs",
            "median_time_to_on_site_secs",
            "worst_time_to_on_site_secs",
            "runaway_flags",
        ]
        .map(str::to_owned),
    );
    row(&mut out, delimiter, header);
    let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for c in &m.citizens {
        let mut fields = vec![c.citizen.clone(), c.calls.to_string(), c.alarms.to_string()];
        fields.extend(classes.iter().map(|k| {
            c.by_classification
                .get(*k)
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
        fields.extend([
            c.at_centre.to_string(),
            c.forwarded.to_string(),
            n(c.median_time_to_claim),
            n(c.worst_time_to_claim),
            n(c.median_time_to_on_site),
            n(c.worst_time_to_on_site),
            c.runaway_flags.to_string(),
        ]);
        row(&mut out, delimiter, fields);
    }
    out
}

fn row(out: &mut String, delimiter: char, fields: impl IntoIterator<Item = String>) {
    let mut first = true;
    for f in fields {
        if !first {
            out.push(delimiter);
        }
        first = false;
        if f.contains([delimiter, '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", f.replace('"', "\"\""));
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}

/// A self-contained page: SLA per shift, calls per day (chart), top callers, exceptions and
/// the per-citizen table.
pub fn html(m: &Monthly, zone: &Zone) -> String {
    let e = escape;
    let mut s = String::new();
    let title = format!(
        "Vagt — monthly extract {}{}",
        m.month,
        [&m.municipality, &m.provider]
            .into_iter()
            .flatten()
            .map(|x| format!(", {x}"))
            .collect::<String>()
    );
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         th{{background:#f0f0f0}}td:first-child,th:first-child{{text-align:left}}.bad{{color:#c0392b;font-weight:bold}}</style></head>\n\
         <body><h1>{t}</h1>\n<p>{} calls from {} citizens; time zone {}.</p>\n",
        m.calls.len(),
        m.citizens.len(),
        e(&m.time_zone),
        t = e(&title),
    );
    s.push_str("<h2>SLA per shift</h2>\n<table><tr><th>shift</th><th>calls</th><th>claimed ≤ 60 s</th><th>target 97.5 %</th><th>claimed ≤ 180 s</th><th>target 99 %</th><th>visits</th><th>on site in time</th></tr>\n");
    for (shift, v) in &m.sla {
        let met = |ok: bool| {
            if ok {
                "met"
            } else {
                "<span class=\"bad\">missed</span>"
            }
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{:.1} %</td><td>{}</td><td>{}</td><td>{:.1} %</td></tr>",
            e(shift),
            v.calls,
            v.share_within_60s * 100.0,
            met(v.target_60s_met),
            v.share_within_180s * 100.0,
            met(v.target_180s_met),
            v.visits,
            v.share_on_site_in_time * 100.0
        );
    }
    s.push_str("</table>\n<h2>Calls per day</h2>\n");
    let mut per_day: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for r in &m.calls {
        let date = zone.date(r.call.opened);
        // Sorted by date, labelled by the day of the month.
        let day = date.get(8..).unwrap_or_default().to_owned();
        *per_day.entry(format!("{date} {day}")).or_default() += 1;
    }
    s.push_str(&bars(&per_day));
    s.push_str("<h2>Calls per shift</h2>\n");
    let per_shift: std::collections::BTreeMap<String, u64> = m
        .sla
        .iter()
        .map(|(shift, v)| (shift.clone(), v.calls))
        .collect();
    s.push_str(&bars(&per_shift));
    s.push_str("<h2>Time to claim</h2>\n");
    let limits = [10, 30, 60, 120, 180, 300];
    let mut dist: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for (i, l) in limits.iter().enumerate() {
        dist.insert(format!("{i} ≤ {l} s"), 0);
    }
    dist.insert(format!("{} > 300 s", limits.len()), 0);
    for r in &m.calls {
        if let Some(t) = r.call.time_to_claim() {
            let i = limits.iter().position(|l| t <= *l).unwrap_or(limits.len());
            let key = match limits.get(i) {
                Some(l) => format!("{i} ≤ {l} s"),
                None => format!("{i} > 300 s"),
            };
            *dist.entry(key).or_default() += 1;
        }
    }
    s.push_str(&bars(&dist));
    s.push_str("<h2>Top callers</h2>\n<table><tr><th>citizen</th><th>calls (presses)</th><th>previous month</th><th>trend</th></tr>\n");
    let top: std::collections::BTreeMap<String, u64> = m
        .top_callers
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{i:02} {}", t.citizen), t.calls))
        .collect();
    let chart = bars(&top);
    for t in &m.top_callers {
        let delta = t.calls as i64 - t.previous_month as i64;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{delta:+}</td></tr>",
            e(&t.citizen),
            t.calls,
            t.previous_month
        );
    }
    s.push_str("</table>\n");
    s.push_str(&chart);
    s.push_str(
        "<h2>Exceptions</h2>\n<table><tr><th>alarm</th><th>citizen</th><th>what</th></tr>\n",
    );
    for x in &m.exceptions {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            x.alarm,
            e(&x.citizen),
            e(&x.what)
        );
    }
    s.push_str("</table>\n<h2>Per citizen</h2>\n<table><tr><th>citizen</th><th>calls (presses)</th><th>alarms</th><th>at centre</th><th>forwarded</th><th>median / worst to claim (s)</th><th>median / worst to on site (min)</th><th>runaway flags</th></tr>\n");
    let o = |v: Option<u64>| v.map_or_else(|| "–".to_owned(), |x| x.to_string());
    let min = |v: Option<u64>| v.map_or_else(|| "–".to_owned(), |x| x.div_ceil(60).to_string());
    for c in &m.citizens {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{} / {}</td><td>{}</td></tr>",
            e(&c.citizen),
            c.calls,
            c.alarms,
            c.at_centre,
            c.forwarded,
            o(c.median_time_to_claim),
            o(c.worst_time_to_claim),
            min(c.median_time_to_on_site),
            min(c.worst_time_to_on_site),
            c.runaway_flags
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

/// A bar chart (SVG) of counts by label.
fn bars(data: &std::collections::BTreeMap<String, u64>) -> String {
    let (w, h, pad) = (900.0, 220.0, 30.0);
    let max = data.values().copied().max().unwrap_or(1).max(1) as f64;
    let n = data.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n"
    );
    for (i, (label, v)) in data.iter().enumerate() {
        let bh = (h - 2.0 * pad) * *v as f64 / max;
        let x = pad + bw * i as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2b7bb9\"><title>{}: {v}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            h - pad - bh,
            (bw - 2.0).max(1.0),
            escape(label),
            x + bw / 2.0,
            h - pad - bh - 3.0,
            x + bw / 2.0,
            h - pad + 12.0,
            escape(label.split_once(' ').map_or(label.as_str(), |(_, l)| l)),
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
