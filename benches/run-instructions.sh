#!/usr/bin/env bash
# Instructions per frame of the receive path (decode + answer, one core), counted by callgrind:
# unlike time, the count does not move with the machine's load, so two versions compare
# reliably (issue #18's goal: >= 3 M clear and >= 1 M AES-256 frames/s per core).
#
#   benches/run-instructions.sh            # every case
#   CASES="sia_dcs_clear" benches/run-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "run-instructions: valgrind is not installed" >&2; exit 1; }
bin=$(cargo bench --locked -p vagt-benches --bench protocol_count --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "protocol_count" and m.get("executable"):
        print(m["executable"])')
CASES=${CASES:-"sia_dcs_clear adm_cid_clear sia_dcs_aes128 sia_dcs_aes256 null_clear"}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # count ROUNDS CASE -> instructions
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" >/dev/null 2>"$out/log"
    awk '/^summary:/ {print $2}' "$out/cg"
}
echo "| case | instructions per frame (decode + answer) |"
echo "|---|---|"
for c in $CASES; do
    one=$(count 1 "$c"); three=$(count 3 "$c")
    echo "| $c | $(( (three - one) / 2000 )) |"
done
