#!/usr/bin/env bash
# bench-ab.sh — compare two lokid binaries on one query, CPU per query, alternating runs.
#
#   bash scripts/bench-ab.sh BIN_A BIN_B [QUERY] [SCALE] [ROUNDS] [N]
#
# Each binary gets its own data directory, filled once by scripts/bench/bench_api.py at
# SCALE (default 200) with --flush, so a storage-format change is compared on data each
# binary wrote itself. Then, ROUNDS times (default 3), each binary is started on its data,
# warmed with 3 queries and timed over N (default 20) more: the line printed is the server's
# CPU time per query (from /proc/PID/stat) and the wall time per query. Alternating and CPU
# time keep the comparison fair on a machine where other work runs.
# QUERY: needle | rare | volume | rate | unwrap (bench_api.py's queries) or any LogQL.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib-lokid.sh"
A=${1:?usage: bench-ab.sh BIN_A BIN_B [QUERY] [SCALE] [ROUNDS] [N]}
B=${2:?usage: bench-ab.sh BIN_A BIN_B [QUERY] [SCALE] [ROUNDS] [N]}
QUERY=${3:-needle}
SCALE=${4:-200}
ROUNDS=${5:-3}
N=${6:-20}
TMP=$(mktemp -d)
PID=""
trap 'stop_process "$PID"; rm -rf "$TMP"' EXIT
case $QUERY in
needle) Q='{job="docker"} |= "user_id_123\""' X=limit=1000 ;;
rare) Q='{job="docker"} |= "never-appears-anywhere"' X=limit=1000 ;;
volume) Q='sum by (level) (count_over_time({job="docker"}[1m]))' X=step=60 ;;
rate) Q='sum by (service) (rate({job="docker"} |= "error" [5m]))' X=step=60 ;;
unwrap) Q='quantile_over_time(0.99, {job="docker"} | json | unwrap latency_ms [5m]) by (service)' X=step=300 ;;
*) Q=$QUERY X=limit=1000 ;;
esac
TICK=$(getconf CLK_TCK)

start() { # start SIDE BIN: lokid BIN on $TMP/SIDE
    PORT=$(free_port)
    bench_limits | write_lokid_config "$TMP/$1.yaml" "$PORT" "$TMP/$1"
    start_lokid "$2" "$TMP/$1.yaml" "$TMP/$1.log" "$PORT"
}

run() { # run COUNT: COUNT queries against $PORT over the data's window
    for _ in $(seq "$1"); do
        curl -sfG "127.0.0.1:$PORT/loki/api/v1/query_range" --data-urlencode "query=$Q" \
            --data-urlencode "start=$START" --data-urlencode "end=$END" --data-urlencode "$X" -o /dev/null
    done
}

cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

START=$(($(date +%s) * 1000000000 - 3 * 3600 * 1000000000))
for side in a b; do
    bin=$A
    [ "$side" = b ] && bin=$B
    start "$side" "$bin"
    python3 "$ROOT/scripts/bench/bench_api.py" "http://127.0.0.1:$PORT" "$PID" --scale "$SCALE" --flush |
        grep -E '^push|^disk' >&2 || true
    echo "data $side: $(du -sk "$TMP/$side" | cut -f1) KiB" >&2
    stop_process "$PID"
    PID=""
done
END=$(($(date +%s) * 1000000000))
for _ in $(seq "$ROUNDS"); do
    for side in a b; do
        bin=$A
        [ "$side" = b ] && bin=$B
        start "$side" "$bin"
        run 3
        c0=$(cpu) t0=$(date +%s%N)
        run "$N"
        c1=$(cpu) t1=$(date +%s%N)
        echo "$side $(basename "$bin"): $QUERY cpu/query $(((c1 - c0) * 1000 / TICK / N)) ms, wall/query $(((t1 - t0) / 1000000 / N)) ms"
        stop_process "$PID"
        PID=""
    done
done
