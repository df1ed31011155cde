#!/usr/bin/env bash
# Checks the follower rule of the overlapping-commit design (issue #14,
# benches/pg-ship/overlap-schema.sql) on a real PostgreSQL with a synchronous standby: 4
# concurrent shipping callers (a tenth of their transactions rolled back: gaps) while two
# followers poll the log — one reading only below pg_snapshot_xmin(pg_current_snapshot()) (the
# rule), one reading everything committed after its position (naive). Afterwards each one's
# deliveries are compared with the table: the rule must deliver every row once, in order; the
# naive follower shows what the rule prevents (rows committed behind its position: skipped).
#
#   benches/run-pg-follow-probe.sh       SECS=15
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-15}
dir=$(mktemp -d)
chmod 755 "$dir"
export PG_PORT=${PG_PORT:-56442} STANDBY_PORT=${STANDBY_PORT:-56443}
trap 'deploy/cluster-demo.sh stop "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
PG_ONLY=1 deploy/cluster-demo.sh start "$dir/pg" >/dev/null
sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U vagt -d postgres "$@"; }
# The leader table the shipping function reads (the schema's migration 1 has it).
sql -c "CREATE TABLE vagt_leader (id int PRIMARY KEY, holder text, epoch bigint NOT NULL DEFAULT 0, expires_at timestamptz NOT NULL DEFAULT 'epoch')"
sql -f benches/pg-ship/overlap-schema.sql
[ "$(sql -Atc 'SELECT sync_state FROM pg_stat_replication')" = sync ] || { echo "not synchronous" >&2; exit 1; }
call="SELECT ship_x('a', :s, array_fill(0::bigint, ARRAY[43]), ARRAY(SELECT substring(decode(md5(random()::text), 'hex') FROM 1 FOR 16) FROM generate_series(1, 43)), array_fill(false, ARRAY[43]), ARRAY(SELECT convert_to(repeat('x', 150), 'UTF8') FROM generate_series(1, 43)), 900, :s + 43);"
printf '\\set s random(1, 1000000000000)\n%s\n' "$call" > "$dir/commit.sql"
printf '\\set s random(1, 1000000000000)\nBEGIN;\n%s\nROLLBACK;\n' "$call" > "$dir/abort.sql"
pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U vagt -c 4 -j 4 -T "$SECS" \
    -f "$dir/commit.sql@9" -f "$dir/abort.sql@1" postgres > "$dir/pgbench.log" 2>&1 &
writers=$!
follow() { # follow rule|naive OUT: polls until the writers are done, then once more
    local cap="x.h" pos_x=0 pos_i=0 last=0
    [ "$1" = naive ] && cap="'18446744073709551615'::xid8"
    : > "$2"
    while :; do
        kill -0 "$writers" 2>/dev/null || last=$((last + 1))
        sql -At -F' ' -c "SELECT l.xid, l.i FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h) x
            CROSS JOIN LATERAL (SELECT xid, i FROM xlog WHERE (xid, i) > ('$pos_x'::xid8, $pos_i)
            AND xid < $cap ORDER BY xid, i) l" > "$2.page"
        if [ -s "$2.page" ]; then
            cat "$2.page" >> "$2"
            read -r pos_x pos_i < <(tail -1 "$2.page")
        fi
        [ "$last" -ge 2 ] && break
    done
}
follow rule "$dir/rule" & f1=$!
follow naive "$dir/naive" & f2=$!
wait "$writers"; wait "$f1" "$f2"
sql -At -F' ' -c "SELECT xid, i FROM xlog ORDER BY xid, i" > "$dir/table"
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
rows = lambda f: [tuple(map(int, l.split())) for l in open(f"{d}/{f}") if l.strip()]
table = rows("table")
for name in ("rule", "naive"):
    got = rows(name)
    ordered = all(a < b for a, b in zip(got, got[1:]))
    missing = len(set(table) - set(got))
    print(f"{name}: {len(got)} delivered of {len(table)} rows, in order: {ordered}, "
          f"twice: {len(got) - len(set(got))}, never delivered (skipped): {missing}")
PY
grep -E "^number of (transactions|failed)|^tps" "$dir/pgbench.log" || true
