#!/usr/bin/env bash
# A first try of cluster mode on one machine (README "Running a cluster"): a PostgreSQL primary
# with a synchronous streaming standby, and two Vagt nodes folding the same log — all on
# loopback ports, everything in one directory.
#
#   deploy/cluster-demo.sh start [DIR]    # default DIR: ./cluster-demo (printed at the end)
#   deploy/cluster-demo.sh stop  [DIR]
#   PG_ONLY=1 deploy/cluster-demo.sh start DIR   # only the two PostgreSQL servers (benchmarks)
#   VAGT_BIN=/path/to/vagt deploy/cluster-demo.sh start DIR   # the nodes run another vagt build
#
# Ports: PostgreSQL 55432 (primary) and 55433 (standby); node a DC-09 7051, metrics 9471;
# node b DC-09 7052, metrics 9472 (override with PG_PORT, STANDBY_PORT, BASE_PORT, METRICS_BASE).
# Needs PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup; Debian: postgresql) and a
# release build of vagt (built here if missing). As root, PostgreSQL runs as `postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-start}
dir=$(realpath -m "${2:-cluster-demo}")
PG_PORT=${PG_PORT:-55432}
STANDBY_PORT=${STANDBY_PORT:-55433}
BASE_PORT=${BASE_PORT:-7050}
METRICS_BASE=${METRICS_BASE:-9470}

bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "cluster-demo: no PostgreSQL server programs (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
    for n in a b; do
        [ -f "$dir/node-$n.pid" ] && kill "$(cat "$dir/node-$n.pid")" 2>/dev/null || true
    done
    for s in standby primary; do
        [ -d "$dir/pg-$s" ] && as_pg "$bindir/pg_ctl" -D "$dir/pg-$s" -m fast stop >/dev/null 2>&1 || true
    done
}

start_pg() {
    mkdir -p "$dir"
    chmod 755 "$dir"
    # The servers write their data and logs here.
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg mkdir -m 700 "$dir/pg-primary"
    as_pg "$bindir/initdb" -A trust -U vagt -D "$dir/pg-primary" >/dev/null
    cat >> "$dir/pg-primary/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 8
synchronous_commit = on
EOF
    echo "host replication all 127.0.0.1/32 trust" >> "$dir/pg-primary/pg_hba.conf"
    as_pg "$bindir/pg_ctl" -w -D "$dir/pg-primary" -l "$dir/pg-primary.log" start >/dev/null
    as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U vagt -R -X stream -D "$dir/pg-standby"
    cat >> "$dir/pg-standby/postgresql.conf" <<EOF
port = $STANDBY_PORT
unix_socket_directories = '$dir'
EOF
    echo "primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=vagt application_name=standby1'" >> "$dir/pg-standby/postgresql.auto.conf"
    as_pg "$bindir/pg_ctl" -w -D "$dir/pg-standby" -l "$dir/pg-standby.log" start >/dev/null
    # From now on every commit waits for the standby's flush (two machines, in a real setup).
    psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U vagt -d postgres \
        -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c "SELECT pg_reload_conf()" >/dev/null
    echo "PostgreSQL primary 127.0.0.1:$PG_PORT, synchronous standby 127.0.0.1:$STANDBY_PORT ($dir)"
}

start_node() { # start_node NAME INDEX
    local name=$1 i=$2
    mkdir -p "$dir/node-$name"
    cat > "$dir/node-$name/vagt.toml" <<EOF
[gateway]
listen = "127.0.0.1:$((BASE_PORT + i))"
metrics = "127.0.0.1:$((METRICS_BASE + i))"
data = "$dir/node-$name/data"

[cluster]
url = "host=127.0.0.1,127.0.0.1 port=$PG_PORT,$STANDBY_PORT user=vagt dbname=postgres target_session_attrs=read-write connect_timeout=2"
node = "$name"
EOF
    "${VAGT_BIN:-target/release/vagt}" serve --config "$dir/node-$name/vagt.toml" > "$dir/node-$name.log" 2>&1 &
    echo $! > "$dir/node-$name.pid"
    for _ in $(seq 1 100); do
        grep -q "listening on" "$dir/node-$name.log" 2>/dev/null && break
        sleep 0.1
    done
    grep "listening on" "$dir/node-$name.log" || { cat "$dir/node-$name.log" >&2; exit 1; }
}

case $cmd in
    start)
        [ -e "$dir/pg-primary" ] && { echo "cluster-demo: $dir exists; stop it and remove it first" >&2; exit 1; }
        start_pg
        if [ -z "${PG_ONLY:-}" ]; then
            [ -x target/release/vagt ] || cargo build --release --locked -p vagt
            start_node a 1
            start_node b 2
            echo "nodes a (DC-09 127.0.0.1:$((BASE_PORT + 1))) and b (127.0.0.1:$((BASE_PORT + 2))); logs in $dir"
        fi
        echo "stop with: deploy/cluster-demo.sh stop $dir"
        ;;
    stop) stop ;;
    *) echo "usage: deploy/cluster-demo.sh start|stop [DIR]" >&2; exit 2 ;;
esac
