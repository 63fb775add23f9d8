#!/usr/bin/env bash
# Measures lokid's resident memory: idle after start, then after pushing the conformance
# data set (8,600 entries) and running a query. Usage: bash scripts/measure-rss.sh
# Needs a release build (bash scripts/dev.sh run builds one).
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
bin=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}/release/lokid
kit="$root/tests/conformance"
tmp=$(mktemp -d)
. "$root/scripts/lib-lokid.sh"
port=$(free_port)
write_lokid_config "$tmp/config.yaml" "$port" "$tmp/data" </dev/null
"$bin" -config.file="$tmp/config.yaml" >"$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
wait_ready "$port" "$pid" || { tail -n 30 "$tmp/log" >&2; echo "lokid did not start" >&2; exit 1; }
sleep 3
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
python3 "$kit/dataset.py" > "$tmp/ds.jsonl"
python3 "$kit/conformance.py" push "http://127.0.0.1:$port" "$tmp/ds.jsonl" >/dev/null
curl -sf "http://127.0.0.1:$port/loki/api/v1/query_range?query=%7Bjob%3D%22docker%22%7D&start=2026-02-02T12:00:00Z&end=2026-02-02T14:00:00Z&limit=1000" >/dev/null
sleep 1
echo "RSS after pushing 8,600 entries and a query: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
