#!/usr/bin/env bash
# Where a cluster ACK's CPU goes (issue #14): `deploy/cluster-demo.sh` (a PostgreSQL primary with
# a synchronous standby, nodes a and b), a closed-loop run against node a, and the CPU time of
# every process over the measured seconds from /proc — the nodes, and each PostgreSQL process by
# role (node a's shipper, each node's follower and watcher, the walsender, the standby's
# walreceiver and startup process) — as µs per acknowledged frame.
#
#   benches/run-pg-cpu.sh        CONNS=100 SECS=8 ROUNDS=1
#   VAGT_B=/path/to/vagt benches/run-pg-cpu.sh   # alternating with another vagt build, each
#                                                # round on a fresh cluster
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-100}
SECS=${SECS:-8}
ROUNDS=${ROUNDS:-1}
dir=
cleanup() { [ -z "$dir" ] || { deploy/cluster-demo.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }; }
trap cleanup EXIT
cargo build --release --locked -p vagt -p vagt-replay >/dev/null 2>&1
measure() { # measure BINARY: one round on a fresh cluster of that build
dir=$(mktemp -d)
chmod 755 "$dir"
VAGT_BIN=$1 deploy/cluster-demo.sh start "$dir" >/dev/null
sleep 2
sql() { psql -X -A -t -q -h 127.0.0.1 -p 55432 -U vagt -d postgres -c "$1"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Warm up (the shipper's and followers' queries are then in pg_stat_activity).
target/release/vagt-replay closed --target 127.0.0.1:7051 --connections "$CONNS" --secs 2 \
    --account-start 100000 >/dev/null
declare -A role
while IFS='|' read -r pid what; do role[$pid]=$what; done < <(sql "
  SELECT pid, CASE
    WHEN backend_type = 'walsender' THEN 'primary: walsender'
    WHEN query LIKE '%vagt_ship%' THEN 'primary: shipper (' || client_port || ')'
    WHEN query LIKE '%e.cap%' THEN 'primary: follower (' || client_port || ')'
    WHEN query LIKE '%pg_is_in_recovery%' THEN 'primary: watcher (' || client_port || ')'
    WHEN query LIKE '%vagt_leader%' THEN 'primary: lease (' || client_port || ')'
    WHEN backend_type = 'client backend' THEN 'primary: other backend'
    ELSE 'primary: ' || backend_type END
  FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
primary=$(head -1 "$dir/pg-primary/postmaster.pid")
standby=$(head -1 "$dir/pg-standby/postmaster.pid")
for p in $(pgrep -P "$standby"); do role[$p]="standby: $(tr '\0' ' ' < "/proc/$p/cmdline" | sed 's/^postgres: //; s/ *$//')"; done
for p in $(pgrep -P "$primary"); do [ -n "${role[$p]:-}" ] || role[$p]="primary: $(tr '\0' ' ' < "/proc/$p/cmdline" | sed 's/^postgres: //; s/ *$//')"; done
role[$(cat "$dir/node-a.pid")]="node a"
role[$(cat "$dir/node-b.pid")]="node b"
declare -A before
for p in "${!role[@]}"; do before[$p]=$(ticks "$p"); done
out=$(target/release/vagt-replay closed --target 127.0.0.1:7051 --connections "$CONNS" \
    --secs "$SECS" --warmup-secs 0 --account-start 200000)
acks=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["acks"])' "$out")
tck=$(getconf CLK_TCK)
echo "$1, closed loop, $CONNS connections, $SECS s: $out"
echo
echo "| process | µs CPU per ACK |"
echo "|---|---|"
for p in "${!role[@]}"; do
    d=$(( $(ticks "$p") - ${before[$p]} ))
    echo "${role[$p]}|$(python3 -c "print(f'{$d / $tck * 1e6 / $acks:.1f}')")"
done | sort -t'|' -k2 -gr | awk -F'|' '$2 > 0 {printf "| %s | %s |\n", $1, $2}'
cleanup
dir=
}
for round in $(seq 1 "$ROUNDS"); do
    measure target/release/vagt
    [ -z "${VAGT_B:-}" ] || measure "$VAGT_B"
done
