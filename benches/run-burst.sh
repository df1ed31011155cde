#!/usr/bin/env bash
# The published no-backlog proof (issue #6): "everyone presses at once" bursts of 1 000 and
# 10 000 devices (spread over 1 s, and all at the same instant) against the real gateway
# (fsync on, release build, every ACKed alarm checked in the journal) and, in the same run,
# against the bare ACK-only floor.
#
#   benches/run-burst.sh            # results in benches/results/ (JSON, HTML, SVG charts)
#   CLUSTER=1 benches/run-burst.sh  # and node a of a two-node cluster on a PostgreSQL primary
#                                   # with a synchronous standby (this machine), every ACKed
#                                   # alarm checked in the node's journal and counted in PostgreSQL
#
# Needs `ulimit -n` of about 25 000 (it raises the soft limit itself when the hard one allows).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benches/results}
PORT_VAGT=${PORT_VAGT:-7050}
PORT_BARE=${PORT_BARE:-7060}
SCENARIOS=${SCENARIOS:-"burst-1000 burst-10000 burst-10000-instant"}

cargo build --release --locked -p vagt -p vagt-replay
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT/vagt" "$OUT/bare"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -d "$work/pg" ] && deploy/cluster-demo.sh stop "$work/pg" > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # wait_for LOGFILE TEXT
    for _ in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "run-burst: server did not start; its log:" >&2
    cat "$1" >&2
    exit 1
}

for s in $SCENARIOS; do
    target/release/vagt-replay accounts "config/replay/$s.toml" | grep -v '^#'
done > "$work/accounts.toml"
sed -e 's/^max_connections = .*/max_connections = 30000/' \
    -e 's/^max_connections_per_ip = .*/max_connections_per_ip = 30000/' \
    -e '/^\[console\]/,$d' config/vagt.toml > "$work/vagt.toml"

echo "== the real gateway (fsync on) =="
target/release/vagt serve --config "$work/vagt.toml" --data "$work/data" \
    --accounts "$work/accounts.toml" --listen "127.0.0.1:$PORT_VAGT" --metrics 127.0.0.1:0 \
    > "$work/vagt.log" 2>&1 &
pids+=($!)
wait_for "$work/vagt.log" "listening on"
for s in $SCENARIOS; do
    target/release/vagt-replay run "config/replay/$s.toml" --target "127.0.0.1:$PORT_VAGT" \
        --verify-journal "$work/data" --json "$OUT/vagt/$s.json" --html "$OUT/vagt/$s.html" \
        --svg-dir "$OUT/vagt"
done
kill "${pids[0]}"
wait "${pids[0]}" || true

if [ -n "${CLUSTER:-}" ]; then
    echo "== a cluster node (two nodes; PostgreSQL primary + synchronous standby, this machine) =="
    mkdir -p "$OUT/cluster"
    chmod 755 "$work"
    # Below the ephemeral range: the bursts above leave thousands of client ports in TIME_WAIT.
    PG_ONLY=1 PG_PORT=15542 STANDBY_PORT=15543 deploy/cluster-demo.sh start "$work/pg" > "$work/pg.log" || {
        tail -20 "$work"/pg/*.log >&2
        exit 1
    }
    cluster_pids=()
    for n in a b; do
        cp "$work/vagt.toml" "$work/cluster-$n.toml"
        printf '\n[cluster]\nurl = "host=127.0.0.1 port=15542 user=vagt dbname=postgres"\nnode = "%s"\n' "$n" \
            >> "$work/cluster-$n.toml"
        port=$([ "$n" = a ] && echo 7070 || echo 7071)
        target/release/vagt serve --config "$work/cluster-$n.toml" --data "$work/cluster_$n" \
            --accounts "$work/accounts.toml" --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 \
            > "$work/cluster_$n.log" 2>&1 &
        pids+=($!); cluster_pids+=($!)
        wait_for "$work/cluster_$n.log" "listening on"
    done
    for s in $SCENARIOS; do
        target/release/vagt-replay run "config/replay/$s.toml" --target 127.0.0.1:7070 \
            --verify-journal "$work/cluster_a" --json "$OUT/cluster/$s.json" \
            --html "$OUT/cluster/$s.html" --svg-dir "$OUT/cluster"
    done
    psql -X -q -A -t -h 127.0.0.1 -p 15542 -U vagt -d postgres \
        -c "SELECT count(*) FROM vagt_log WHERE dedup IS NOT NULL" > "$OUT/cluster/postgresql-frames.txt"
    echo "frames in PostgreSQL's log: $(cat "$OUT/cluster/postgresql-frames.txt")"
    kill "${cluster_pids[@]}"
    wait "${cluster_pids[@]}" || true
fi

echo "== the bare floor (answers ACK, nothing else) =="
target/release/vagt-replay bare --listen "127.0.0.1:$PORT_BARE" > "$work/bare.log" 2>&1 &
pids+=($!)
wait_for "$work/bare.log" "answering"
for s in $SCENARIOS; do
    target/release/vagt-replay run "config/replay/$s.toml" --target "127.0.0.1:$PORT_BARE" \
        --json "$OUT/bare/$s.json" --html "$OUT/bare/$s.html" --svg-dir "$OUT/bare"
done

python3 - "$OUT" $SCENARIOS <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print("\n| burst | server | acked | first send → last ACK | p50 | p99 | p99.9 | max | journal |")
print("|---|---|---|---|---|---|---|---|---|")
for n in names:
    for server in ("vagt", "cluster", "bare"):
        try:
            r = json.load(open(f"{out}/{server}/{n}.json"))
        except FileNotFoundError:
            continue
        l, c = r["latency_ms"], r["counts"]
        j = r.get("journal")
        journal = f'{j["once"]}/{j["acked"]} once' if j else "—"
        print(f'| {n} | {server} | {c["acked"]}/{c["sent"]} | {r["first_send_to_last_ack_ms"]:.0f} ms '
              f'| {l["p50"]:.2f} ms | {l["p99"]:.2f} ms | {l["p999"]:.2f} ms | {l["max"]:.2f} ms | {journal} |')
PY
