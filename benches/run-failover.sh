#!/usr/bin/env bash
# Failover as panels see it (issue #14): 100 closed-loop panels with a primary and a backup
# receiver (`vagt-replay closed --backup`: 2 s ACK timeout, 2 tries per receiver, like a panel)
# against a two-node cluster on a PostgreSQL primary with a synchronous standby
# (deploy/cluster-demo.sh), while one of these happens 5 s into the measured 20 s:
#   crash      node a is SIGKILLed (its sockets are reset: panels turn to b at once)
#   freeze     node a is SIGSTOPped (a dead machine: connections hang, panels time out)
#   database   the PostgreSQL primary is killed, the standby promoted 2 s later
# Prints one JSON line per case (max_ms = the longest wait for one alarm's ACK).
#
#   benches/run-failover.sh [crash freeze database]      results in benches/results/failover.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benches/results}
CASES=${*:-crash freeze database}
cargo build --release --locked -p vagt -p vagt-replay
mkdir -p "$OUT"
: > "$OUT/failover.jsonl"
for case in $CASES; do
    work=$(mktemp -d)
    chmod 755 "$work"
    deploy/cluster-demo.sh start "$work/c" > "$work/demo.log"
    a=$(cat "$work/c/node-a.pid")
    target/release/vagt-replay closed --target 127.0.0.1:7051 --backup 127.0.0.1:7052 \
        --connections 100 --warmup-secs 1 --secs 20 --ack-timeout-ms 2000 --tries 2 \
        --account-start $((RANDOM * 1000)) > "$work/closed.json" &
    load=$!
    sleep 6
    case $case in
        crash) kill -KILL "$a" ;;
        freeze) kill -STOP "$a" ;;
        database)
            bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
            as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
            as_pg "$bindir/pg_ctl" -D "$work/c/pg-primary" -m immediate stop > /dev/null
            sleep 2
            as_pg "$bindir/pg_ctl" -D "$work/c/pg-standby" -w promote > /dev/null ;;
    esac
    wait "$load"
    kill -CONT "$a" 2>/dev/null || true
    line="{\"case\": \"$case\", \"result\": $(cat "$work/closed.json")}"
    echo "$line" | tee -a "$OUT/failover.jsonl"
    deploy/cluster-demo.sh stop "$work/c" > /dev/null 2>&1 || true
    rm -rf "$work"
done
