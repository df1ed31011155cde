#!/usr/bin/env bash
# Good devices beside hostile peers (issue #15, promise 8): 100 closed-loop devices (`vagt-replay
# closed`: send an alarm, wait for its ACK, repeat) against one `vagt serve` (fsync on), each
# round once alone and once beside one kind of hostile peer (`vagt-replay hostile`, rate-limited
# so it uses little CPU: it shares this machine's cores), alternating; the receiver's RSS after
# every round.
#
#   benches/run-hostile.sh          ROUNDS=3 SECS=5 KINDS="no-read nul idle reconnect udp-garbage cpu"
#
# `cpu` is the control: it sends nothing and only spins 10 % of one core — about what each
# hostile kind's own process uses — so its row is what sharing this machine alone costs.
#   OUT=benches/results (hostile.jsonl, hostile.md)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benches/results}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
KINDS=${KINDS:-"no-read nul idle reconnect udp-garbage cpu"}

cargo build --release --locked -p vagt -p vagt-replay
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The shipped defaults, except the total connection cap (the hostile peers plus the devices).
sed -e 's/^max_connections = .*/max_connections = 30000/' -e '/^\[console\]/,$d' config/vagt.toml > "$work/vagt.toml"
addr=127.0.0.1:7250
target/release/vagt serve --config "$work/vagt.toml" --data "$work/data" --listen "$addr" \
    --metrics 127.0.0.1:0 > "$work/vagt.log" 2>&1 &
pids+=($!); vagt=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/vagt.log" && break; sleep 0.1; done

# What each kind does, and how hard (all together, per second).
declare -A args=(
    [no-read]="--connections 1000 --rate 1000"      # 1 valid alarm/s each, ACKs never read
    [nul]="--connections 1000 --rate 10000"         # 10 x 64 NUL bytes/s each after one alarm
    [idle]="--connections 1000 --rate 1"            # silent, from the devices' own address
    [reconnect]="--connections 200 --rate 2000"     # connect + close, 2 000/s
    [udp-garbage]="--connections 1 --rate 20000"    # 64 random bytes, 20 000 datagrams/s
    [cpu]="--connections 1 --rate 100"              # control: no network, 10 % of one core
)
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$vagt/status"; }

: > "$OUT/hostile.jsonl"
account=2000000
good() { # good ACCOUNT: one measured closed-loop round from fresh accounts; prints its JSON line
    target/release/vagt-replay closed --target "$addr" --connections 100 \
        --account-start "$1" --secs "$SECS" --pid "$vagt"
}
for round in $(seq 1 "$ROUNDS"); do
    for kind in $KINDS; do
        account=$((account + 100))
        line=$(good "$account")
        echo "{\"round\": $round, \"kind\": \"$kind\", \"hostile\": false, \"rss_kib\": $(rss_kib), \"result\": $line}" >> "$OUT/hostile.jsonl"
        echo "round $round $kind alone: $line"
        # The hostile peers start 2 s before the devices and run past their end.
        target/release/vagt-replay hostile --target "$addr" --kind "$kind" ${args[$kind]} \
            --secs "$(echo "$SECS + 4" | bc)" --account-start $((account + 500000)) \
            --clk-tck "$(getconf CLK_TCK)" > "$work/hostile.json" &
        hp=$!
        sleep 2
        account=$((account + 100))
        line=$(good "$account")
        rss=$(rss_kib)
        wait "$hp"
        echo "{\"round\": $round, \"kind\": \"$kind\", \"hostile\": true, \"hostile_secs\": $(echo "$SECS + 4" | bc), \"rss_kib\": $rss, \"did\": $(cat "$work/hostile.json"), \"result\": $line}" >> "$OUT/hostile.jsonl"
        echo "round $round $kind hostile: $line $(cat "$work/hostile.json")"
        sleep 1
    done
done
echo "{\"peak_rss_kib\": $(awk '/^VmHWM/ {print $2}' "/proc/$vagt/status")}" >> "$OUT/hostile.jsonl"

python3 - "$OUT/hostile.jsonl" > "$OUT/hostile.md" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
peak = [r["peak_rss_kib"] for r in rows if "peak_rss_kib" in r]
runs = [r for r in rows if "kind" in r]
print("| hostile kind | rounds | p99 ms alone → beside | p99 change | p99 change, median of rounds | ACKs/s alone → beside | throughput change | throughput change, median of rounds | RSS MiB beside (max) | receiver CPU µs/ACK alone → beside | hostile's own CPU (% of one core) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
def paired(a, b, key):
    # Each round's beside against the alone run just before it (the machine drifts between
    # rounds, much less within one): the median of those changes.
    by_round = {r["round"]: r["result"][key] for r in a}
    return med([r["result"][key] / by_round[r["round"]] - 1 for r in b if r["round"] in by_round])
for kind in dict.fromkeys(r["kind"] for r in runs):
    a = [r for r in runs if r["kind"] == kind and not r["hostile"]]
    b = [r for r in runs if r["kind"] == kind and r["hostile"]]
    p99a, p99b = med([r["result"]["p99_ms"] for r in a]), med([r["result"]["p99_ms"] for r in b])
    ta, tb = med([r["result"]["acks_per_sec"] for r in a]), med([r["result"]["acks_per_sec"] for r in b])
    ca, cb = med([r["result"]["cpu_us_per_ack"] for r in a]), med([r["result"]["cpu_us_per_ack"] for r in b])
    rss = max(r["rss_kib"] for r in b) / 1024
    own = [r["did"]["cpu_secs"] / r["hostile_secs"] for r in b if r["did"].get("cpu_secs") is not None]
    own = f"{100*med(own):.0f} %" if own else "—"
    print(f"| {kind} | {len(b)} | {p99a:.2f} → {p99b:.2f} | {100*(p99b/p99a-1):+.0f} % | "
          f"{100*paired(a, b, 'p99_ms'):+.0f} % | "
          f"{ta:,.0f} → {tb:,.0f} | {100*(tb/ta-1):+.1f} % | {100*paired(a, b, 'acks_per_sec'):+.1f} % | "
          f"{rss:.0f} | {ca:.1f} → {cb:.1f} | {own} |")
if peak:
    print(f"\npeak RSS of the receiver over the whole run: {peak[0]/1024:.0f} MiB")
PY
cat "$OUT/hostile.md"
