#!/usr/bin/env bash
# bench-api.sh — the side-by-side API benchmark: start the release lokid on an empty data
# directory and run scripts/bench/bench_api.py (push the conformance-shaped data set at a
# scale, then time the queries Grafana sends: needle, rare term, regex, json filter,
# logs volume, rate, unwrap quantile, labels, tail), then scripts/bench/bench_drilldown.py
# (the Logs Drilldown endpoints on the same data), and report disk use.
#
#   bash scripts/bench-api.sh [SCALE ...]            default scales: 50 200
#   OTHER_URL=http://127.0.0.1:3100 OTHER_PID=1234 OTHER_FLUSH=1 bash scripts/bench-api.sh 200
#       also runs the same benchmark against another Loki-API server (for example the
#       reference Loki 3.7.6, which the shared kit's tools/loki-reference/build.sh builds; OTHER_FLUSH=1
#       makes bench_api.py POST /flush so Loki's queries read its store), data-set by data-set
#       in the same run, so the ratios compare like with like.
#
#   LOKID_FLUSH=1 bash scripts/bench-api.sh 50 200
#       POSTs /flush to lokid after the push too (bench_api.py --flush), so its queries read
#       sealed blocks only, as a flushed Loki's read its store.
#
# Prints bench_api.py's lines per scale and server, then the size of lokid's data directory.
# Needs python3; builds lokid (release) first. Each scale starts a fresh lokid.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib-lokid.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}
cargo build --release --bin lokid >&2
BIN=$CARGO_TARGET_DIR/release/lokid
SCALES=("$@")
[ ${#SCALES[@]} -gt 0 ] || SCALES=(50 200)

TMP=$(mktemp -d)
PID=""
stop() {
    stop_process "$PID"
    PID=""
}
trap 'stop; rm -rf "$TMP"' EXIT

machine_line
for scale in "${SCALES[@]}"; do
    rm -rf "$TMP/data"
    PORT=$(free_port)
    bench_limits | write_lokid_config "$TMP/config.yaml" "$PORT" "$TMP/data"
    start_lokid "$BIN" "$TMP/config.yaml" "$TMP/lokid.log" "$PORT" || exit 1
    echo "== lokid, scale $scale"
    python3 scripts/bench/bench_api.py "http://127.0.0.1:$PORT" "$PID" --scale "$scale" ${LOKID_FLUSH:+--flush}
    python3 scripts/bench/bench_drilldown.py "http://127.0.0.1:$PORT" "$PID"
    echo "disk: lokid data directory $(du -sm "$TMP/data" | cut -f1) MiB after the queries"
    stop
    if [ -n "${OTHER_URL:-}" ] && [ -n "${OTHER_PID:-}" ]; then
        echo "== $OTHER_URL, scale $scale"
        python3 scripts/bench/bench_api.py "$OTHER_URL" "$OTHER_PID" --scale "$scale" ${OTHER_FLUSH:+--flush}
    fi
done
