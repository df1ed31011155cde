#!/usr/bin/env bash
# The shipping call alone (issue #14): how many groups a second PostgreSQL takes with a
# synchronous standby, the serialized `vagt_ship` of the schema (the `vagt_seq` row lock held
# through the commit) against the overlapping design in `benches/pg-ship/overlap-schema.sql`
# (no lock held through the commit), at 1, 2 and 4 concurrent callers, alternating, the tables
# emptied before each run. pgbench builds each call's arrays (random 16-byte dedup keys,
# 150-byte payloads) in the statement, the same for both.
#
#   benches/run-pg-ship.sh        ROWS="43 100" CLIENTS="1 2 4" SECS=5 ROUNDS=2
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-"43 100"}
CLIENTS=${CLIENTS:-"1 2 4"}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-2}
dir=$(mktemp -d)
chmod 755 "$dir"   # PostgreSQL (as postgres, when run as root) lives below it
export PG_PORT=${PG_PORT:-56432} STANDBY_PORT=${STANDBY_PORT:-56433}
cleanup() {
    [ -n "${node:-}" ] && kill "$node" 2>/dev/null || true
    deploy/cluster-demo.sh stop "$dir/pg" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
cargo build --release --locked -p vagt >/dev/null
PG_ONLY=1 deploy/cluster-demo.sh start "$dir/pg" >/dev/null
sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U vagt -d postgres "$@"; }
# One node start migrates the schema and registers node `a`.
mkdir -p "$dir/node"
cat > "$dir/node/vagt.toml" <<TOML
[gateway]
listen = "127.0.0.1:0"
metrics = "127.0.0.1:0"
data = "$dir/node/data"
[cluster]
url = "host=127.0.0.1 port=$PG_PORT user=vagt dbname=postgres"
node = "a"
TOML
target/release/vagt serve --config "$dir/node/vagt.toml" --no-console > "$dir/node.log" 2>&1 &
node=$!
for _ in $(seq 1 100); do grep -q "listening on" "$dir/node.log" && break; sleep 0.1; done
kill "$node"; wait "$node" 2>/dev/null || true; node=
sql -f benches/pg-ship/overlap-schema.sql
[ "$(sql -Atc 'SELECT sync_state FROM pg_stat_replication')" = sync ] || { echo "run-pg-ship: the standby is not synchronous" >&2; exit 1; }
done_at=$(sql -Atc "SELECT shipped FROM vagt_nodes WHERE node = 'a'")
call() { # call serialized|overlap ROWS: the pgbench script
    local keys="ARRAY(SELECT substring(decode(md5(random()::text), 'hex') FROM 1 FOR 16) FROM generate_series(1, $2))"
    local payloads="ARRAY(SELECT convert_to(repeat('x', 150), 'UTF8') FROM generate_series(1, $2))"
    if [ "$1" = serialized ]; then
        # Every origin at the node's shipped mark: stored, and the mark does not move.
        echo "SELECT vagt_ship('a', array_fill(${done_at}::bigint, ARRAY[$2]), $keys, array_fill(false, ARRAY[$2]), $payloads, 900, 0);"
    elif [ "$1" = staged ]; then
        echo "\\set s random(1, 1000000000000)"
        echo "INSERT INTO xstage (node, start_, end_, origins, payloads) VALUES ('a', :s, :s + $2, array_fill(0::bigint, ARRAY[$2]), $payloads) ON CONFLICT DO NOTHING;"
    else
        echo "\\set s random(1, 1000000000000)"
        echo "SELECT ship_x('a', :s, array_fill(0::bigint, ARRAY[$2]), $keys, array_fill(false, ARRAY[$2]), $payloads, 900, :s + $2);"
    fi
}
echo "| design | rows per call | callers | calls/s | rows/s | mean ms per call |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    for n in $ROWS; do
        for c in $CLIENTS; do
            for design in ${DESIGNS:-serialized overlap staged}; do
                sql -c "TRUNCATE vagt_log, xlog, xdedup, xshipped, xstage"
                call "$design" "$n" > "$dir/call.sql"
                out=$(pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U vagt -c "$c" -j "$c" -T "$SECS" -f "$dir/call.sql" postgres 2>&1)
                tps=$(awk '/^tps/ {print $3}' <<<"$out")
                lat=$(awk '/latency average/ {print $4}' <<<"$out")
                case $design in
                    serialized) stored=$(sql -Atc "SELECT count(*) FROM vagt_log") ;;
                    staged) stored=$(sql -Atc "SELECT coalesce(sum(cardinality(origins)), 0) FROM xstage") ;;
                    *) stored=$(sql -Atc "SELECT count(*) FROM xlog") ;;
                esac
                printf '| %s | %s | %s | %.0f | %.0f | %s |\n' "$design" "$n" "$c" "$tps" "$(echo "$stored / $SECS" | bc -l)" "$lat"
            done
        done
    done
done
