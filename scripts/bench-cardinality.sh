#!/usr/bin/env bash
# bench-cardinality.sh — many streams: start the release lokid on an empty data directory
# and run scripts/bench/cardinality.py (push N streams of 5 lines as JSON batches of 2,000
# streams, then time labels, label values, series, a selector query and a grouped count,
# median of 3; push wall and server CPU, RSS) at each N.
#
#   bash scripts/bench-cardinality.sh [N ...]             default: 50000 150000
#   OTHER_URL=http://127.0.0.1:3300 OTHER_PID=1234 bash scripts/bench-cardinality.sh 50000 150000
#       also runs cardinality.py against another Loki-API server (for example the reference
#       Loki 3.7.6) after lokid at each N. The other server is not restarted: give it an
#       empty store, and note that its second N pushes on top of the first (cardinality.py
#       pushes pods 0..N-1 again, so the later run re-pushes the same streams plus new ones).
#
# Each N starts a fresh lokid with limits that let N streams in (as the reference Loki's
# config does: max_global_streams_per_user 0).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib-lokid.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}
cargo build --release --bin lokid >&2
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(50000 150000)

TMP=$(mktemp -d)
PID=""
stop() {
    stop_process "$PID"
    PID=""
}
trap 'stop; rm -rf "$TMP"' EXIT
# A copy, so that another build in the shared target directory cannot swap it mid-run.
BIN=$TMP/lokid
cp "$CARGO_TARGET_DIR/release/lokid" "$BIN"

machine_line
for n in "${COUNTS[@]}"; do
    rm -rf "$TMP/data"
    PORT=$(free_port)
    write_lokid_config "$TMP/config.yaml" "$PORT" "$TMP/data" <<CFG
limits_config:
  reject_old_samples: false
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 2000
  per_stream_rate_limit: 512MB
  per_stream_rate_limit_burst: 1024MB
  max_query_series: 1000000
  max_entries_limit_per_query: 100000
  max_global_streams_per_user: 0
CFG
    start_lokid "$BIN" "$TMP/config.yaml" "$TMP/lokid.log" "$PORT" || exit 1
    echo "== lokid, $n streams"
    python3 scripts/bench/cardinality.py "http://127.0.0.1:$PORT" "$PID" "$n"
    stop
    if [ -n "${OTHER_URL:-}" ] && [ -n "${OTHER_PID:-}" ]; then
        echo "== $OTHER_URL, $n streams"
        python3 scripts/bench/cardinality.py "$OTHER_URL" "$OTHER_PID" "$n"
    fi
done
