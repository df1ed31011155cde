#!/usr/bin/env bash
# Per-alarm cost, measured from outside (issue #18; the layout before/after of issue #13):
# the same closed-loop client (`vagt-replay closed`: each connection sends an alarm, waits for
# its ACK, sends the next) against each server in turn, alternating rounds, fresh accounts in
# every round; the receiver's CPU time per ACK is read from /proc (whole process and per
# thread), which is stable on this shared machine where wall-clock rates are not.
#
#   benches/run-cost.sh                        # vagt (fsync on) and the bare ACK-only floor
#   VAGT_B=/path/to/vagt benches/run-cost.sh   # and a second vagt build (e.g. the previous tree)
#   CLUSTER=1 benches/run-cost.sh              # and cluster mode: node a of two, on a PostgreSQL
#                                              # primary with a synchronous standby (this machine)
#   CLUSTER=1 VAGT_B=/path/to/vagt benches/run-cost.sh
#                                              # and the second build's two cluster nodes too
#                                              # (cluster_b_a), on their own database of the same
#                                              # PostgreSQL pair (each build migrates its own schema)
#   PEER="/path/to/receiver 127.0.0.1 --port {port} --metrics {metrics}" benches/run-cost.sh
#                                              # and another receiver ("peer"), started with
#                                              # {port}/{metrics} filled in, its output discarded
#                                              # (e.g. fioletoven/dc09's, built beside this tree)
#
#   ROUNDS=5 SECS=5 CONNS="100 1000"   (defaults)   OUT=benches/results (cost.jsonl, cost.md)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benches/results}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-"100 1000"}
CLK_TCK=$(getconf CLK_TCK)

cargo build --release --locked -p vagt -p vagt-replay
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -d "$work/pg" ] && deploy/cluster-demo.sh stop "$work/pg" || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # wait_for LOGFILE TEXT
    for _ in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "run-cost: server did not start; its log:" >&2
    cat "$1" >&2
    exit 1
}

# io_threads is left at its default (and out of the file: builds before it, as VAGT_B, refuse it).
sed -e 's/^max_connections = .*/max_connections = 30000/' \
    -e 's/^max_connections_per_ip = .*/max_connections_per_ip = 30000/' \
    -e '/^io_threads = /d' \
    -e '/^\[console\]/,$d' config/vagt.toml > "$work/vagt.toml"

declare -A addr pid metrics
port=7150
start_vagt() { # start_vagt NAME BINARY
    port=$((port + 1))
    "$2" serve --config "$work/vagt.toml" --data "$work/$1" --listen "127.0.0.1:$port" \
        --metrics 127.0.0.1:0 > "$work/$1.log" 2>&1 &
    pids+=($!); pid[$1]=$!; addr[$1]="127.0.0.1:$port"
    wait_for "$work/$1.log" "listening on"
}
servers="vagt"
start_vagt vagt target/release/vagt
if [ -n "${VAGT_B:-}" ]; then
    servers="$servers vagt_b"
    start_vagt vagt_b "$VAGT_B"
fi
if [ -n "${CLUSTER:-}" ]; then
    chmod 755 "$work"
    PG_ONLY=1 PG_PORT=55532 STANDBY_PORT=55533 deploy/cluster-demo.sh start "$work/pg" > "$work/pg.log"
    start_cluster() { # start_cluster PREFIX BINARY DATABASE: nodes a and b, as PREFIX_a, PREFIX_b
        for n in a b; do
            cp "$work/vagt.toml" "$work/$1-$n.toml"
            printf '\n[cluster]\nurl = "host=127.0.0.1 port=55532 user=vagt dbname=%s"\nnode = "%s"\n' "$3" "$n" \
                >> "$work/$1-$n.toml"
            port=$((port + 1))
            "$2" serve --config "$work/$1-$n.toml" --data "$work/$1_$n" \
                --listen "127.0.0.1:$port" --metrics "127.0.0.1:$((port + 1000))" > "$work/$1_$n.log" 2>&1 &
            pids+=($!); pid[$1_$n]=$!; addr[$1_$n]="127.0.0.1:$port"
            metrics[$1_$n]="127.0.0.1:$((port + 1000))"
            wait_for "$work/$1_$n.log" "listening on"
        done
    }
    start_cluster cluster target/release/vagt postgres
    if [ -n "${VAGT_B:-}" ]; then
        psql -X -q -h 127.0.0.1 -p 55532 -U vagt -d postgres -c "CREATE DATABASE vagt_b"
        start_cluster cluster_b "$VAGT_B" vagt_b
        servers="$servers cluster_b_a"
    fi
    servers="$servers cluster_a"
fi
if [ -n "${PEER:-}" ]; then
    port=$((port + 1))
    cmd=${PEER//\{port\}/$port}
    cmd=${cmd//\{metrics\}/$((port + 1000))}
    $cmd > /dev/null 2>&1 &
    pids+=($!); pid[peer]=$!; addr[peer]="127.0.0.1:$port"
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    servers="$servers peer"
fi
port=$((port + 1))
target/release/vagt-replay bare --listen "127.0.0.1:$port" > "$work/bare.log" 2>&1 &
pids+=($!); pid[bare]=$!; addr[bare]="127.0.0.1:$port"
wait_for "$work/bare.log" "answering"
servers="$servers bare"

fdatasync_p50() { # this machine's fdatasync now, in ms (median of 200 small appends)
    python3 - "$work/fsync.probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
t = []
for _ in range(200):
    os.write(fd, b"x" * 256)
    s = time.perf_counter(); os.fdatasync(fd); t.append(time.perf_counter() - s)
t.sort(); print(f"{t[len(t)//2]*1000:.3f}")
PY
}

: > "$OUT/cost.jsonl"
account=1000000
for round in $(seq 1 "$ROUNDS"); do
    for c in $CONNS; do
        echo "{\"round\": $round, \"fdatasync_p50_ms\": $(fdatasync_p50)}" >> "$OUT/cost.jsonl"
        for s in $servers; do
            account=$((account + c))
            line=$(target/release/vagt-replay closed --target "${addr[$s]}" --connections "$c" \
                --account-start "$account" --secs "$SECS" --pid "${pid[$s]}" --clk-tck "$CLK_TCK")
            echo "{\"round\": $round, \"server\": \"$s\", \"result\": $line}" >> "$OUT/cost.jsonl"
            echo "round $round $s $c: $line"
        done
    done
done

python3 - "$OUT/cost.jsonl" > "$OUT/cost.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
fs = [r["fdatasync_p50_ms"] for r in rows if "fdatasync_p50_ms" in r]
runs = [r for r in rows if "server" in r]
print(f"fdatasync p50 in the same run: {med(fs):.3f} ms (median of {len(fs)} samples)\n")
print("| server | conns | rounds | ACKs/s (median) | p50 ms | p99 ms | CPU µs per ACK | by thread (µs per ACK) |")
print("|---|---|---|---|---|---|---|---|")
keys = sorted({(r["server"], r["result"]["connections"]) for r in runs}, key=lambda k: (k[1], k[0]))
for s, c in keys:
    rs = [r["result"] for r in runs if r["server"] == s and r["result"]["connections"] == c]
    cpu = [x["cpu_us_per_ack"] for x in rs if x["cpu_us_per_ack"] is not None]
    threads = {}
    for x in rs:
        for t, v in x["cpu_us_per_ack_by_thread"].items():
            threads.setdefault(t, []).append(v)
    by = ", ".join(f"{t} {med(v):.1f}" for t, v in sorted(threads.items(), key=lambda kv: -med(kv[1])) if med(v) >= 0.1)
    print(f"| {s} | {c} | {len(rs)} | {med([x['acks_per_sec'] for x in rs]):,.0f} | "
          f"{med([x['p50_ms'] for x in rs]):.2f} | {med([x['p99_ms'] for x in rs]):.2f} | "
          f"{med(cpu):.1f} | {by} |")
PY
if [ -n "${CLUSTER:-}" ]; then
    # Where a replicated ACK waits, from node a's own histograms over the whole run (every
    # round and concurrency): the local journal's write + fdatasync, then the shipping call.
    curl -s "http://${metrics[cluster_a]}/metrics" > "$work/cluster_a.metrics"
    grep -E "^vagt_(cluster|journal_commit|ack_latency)" "$work/cluster_a.metrics" > "$OUT/cluster_a.metrics" || true
    python3 - "$work/cluster_a.metrics" >> "$OUT/cost.md" <<'PY'
import re, sys
vals = {}
for l in open(sys.argv[1]):
    m = re.match(r"^(vagt_\w+?)_(sum|count) (\S+)", l)
    if m:
        vals[(m[1], m[2])] = float(m[3])
def mean(n, scale=1.0):
    c = vals.get((n, "count"), 0)
    return f"{vals[(n, 'sum')] / c * scale:.2f}" if c else "-"
print()
print("node a over the run (means): ACK latency", mean("vagt_ack_latency_seconds", 1000), "ms;",
      "local write + fdatasync", mean("vagt_journal_commit_seconds", 1000), "ms;",
      "shipping call", mean("vagt_cluster_ship_seconds", 1000), "ms;",
      "records per shipped group", mean("vagt_cluster_ship_group_records"))
PY
fi
cat "$OUT/cost.md"
