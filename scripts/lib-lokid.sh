# lib-lokid.sh — sourced by the scripts that run a throw-away lokid on a loopback port
# (conformance.sh, bench-api.sh, bench-cardinality.sh, measure-rss.sh): a free port, the
# config, the readiness wait, starting and stopping, the benchmark header.
# Needs python3.

# Prints a free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# write_lokid_config FILE PORT DATA_DIR: a config that listens on 127.0.0.1:PORT and keeps
# its data in DATA_DIR, followed by whatever sections arrive on stdin (limits and so on).
write_lokid_config() {
    {
        cat <<CFG
auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: $2
  log_level: warn
common:
  path_prefix: $3
CFG
        cat
    } >"$1"
}

# bench_limits: the limits_config section of the API benchmarks (no rate limits, late
# samples accepted, many series), for write_lokid_config's stdin.
bench_limits() {
    cat <<CFG
limits_config:
  reject_old_samples: false
  ingestion_rate_mb: 100000
  ingestion_burst_size_mb: 100000
  per_stream_rate_limit: 100000MB
  per_stream_rate_limit_burst: 100000MB
  max_query_series: 100000
CFG
}

# wait_ready PORT PID: waits up to 60 s for GET /ready to answer 200. Returns 0 when it
# does, 1 when the time is up, 2 when the process PID exited first.
wait_ready() {
    for _ in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || return 2
        if python3 -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$1/ready', timeout=2).status != 200)" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# stop_process PID: kills PID if it still runs, and waits for it (a child of this shell).
stop_process() {
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

# machine_line: the machine, the lokid commit and the time, for benchmark output.
machine_line() {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); lokid $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%FT%TZ)"
}

# start_lokid BIN CONFIG LOG PORT: starts BIN in the background (its pid in PID) and waits
# until it is ready; on failure prints the end of LOG and returns 1.
start_lokid() {
    "$1" -config.file="$2" >"$3" 2>&1 &
    PID=$!
    wait_ready "$4" "$PID" || { tail -n 30 "$3" >&2; echo "lokid did not start" >&2; return 1; }
}
