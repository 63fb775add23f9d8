#!/usr/bin/env bash
# deploy-check.sh — check the deployment kit (Dockerfile, deploy/, examples/nestjs-logger,
# docs/deploy.md) as far as a machine without a Docker engine allows.
#
#   bash scripts/deploy-check.sh        (also run by `bash scripts/dev.sh test`, after conformance)
#
# Without a Docker engine the image is not built and the containers do not run. Instead:
#   - the Dockerfile, .dockerignore and compose files are read and cross-checked (compose files
#     by `docker compose config` if the plugin is there, else Debian's `docker-compose config`,
#     both offline), and the release binary's shared libraries are checked against what the
#     runtime image has;
#   - the release lokid runs deploy/monitoring/lokid/config.yaml on loopback, and the
#     Dockerfile's HEALTHCHECK command is run against it;
#   - examples/nestjs-logger is installed from npm and run; its lines go through
#     deploy/app-server/promtail-config.yaml's relabelling and pipeline (scripts/deploy-check/
#     promtail.py) into lokid, where the plan's five queries must find exactly them;
#   - every query of the provisioned dashboard (and its variables) runs against that data;
#   - real nginx (Debian's) runs deploy/nginx/monitor.conf moved to loopback ports with a test
#     certificate, lokid standing in for Grafana: a query_range and a websocket tail go through.
# Everything listens on 127.0.0.1 only; every step has a time limit; the processes this starts
# are stopped on exit. Missing tools are installed: nginx-light, docker-compose, openssl,
# python3-venv (apt), PyYAML/jmespath/websockets (pip, into ~/.cache/lokid-deploy-check/venv),
# the example's npm packages (npm ci).
#
# Prints one line per check and, last, `deploy-check: N passed, M failed`; exit 1 when M > 0.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/lokid-deploy-check
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in scripts/deploy-check
PY_DIR=$HERE/deploy-check
EXAMPLE=$ROOT/examples/nestjs-logger
BIN=$CARGO_TARGET_DIR/release/lokid

CHECKS=(dockerfile docker-context runtime-libs compose-monitoring compose-app-server app-server-agents
    grafana-provisioning docs lokid-config healthcheck nestjs-logger promtail-pipeline
    dashboard-queries nginx-config nginx-proxy nginx-tail)

log() { echo "deploy-check: $*" >&2; }
give_up() {
    echo "deploy-check: error: $*"
    echo "deploy-check: 0 passed, ${#CHECKS[@]} failed"
    exit 1
}

TMP=$(mktemp -d)
chmod 755 "$TMP" # nginx's workers (user nobody) read the test site below it
LOKID_PID=""
NGINX_PID=""
stop() { # stop PID: TERM, then KILL after 10 s
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
cleanup() {
    stop "$NGINX_PID"
    stop "$LOKID_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ------------------------------------------------------------------------------------

MISSING=()
want_cmd() { command -v "$1" >/dev/null 2>&1 || MISSING+=("${@:2}"); }
install_missing() {
    [ ${#MISSING[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || return 1
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing ${MISSING[*]}"
    timeout 300 $sudo apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq --no-install-recommends \
            "${MISSING[@]}" >/dev/null || return 1
    MISSING=()
}

[ -x /usr/sbin/nginx ] || want_cmd nginx nginx-light
want_cmd openssl openssl
want_cmd node nodejs
want_cmd npm npm
want_cmd python3 python3
want_cmd ldd libc-bin
want_cmd git git
docker compose version >/dev/null 2>&1 || want_cmd docker-compose docker-compose
install_missing || give_up "could not install ${MISSING[*]}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# Python packages in a virtualenv of their own (Debian's python refuses system-wide pip).
VENV=$CACHE/venv
PY=$VENV/bin/python
REQ_STAMP=$(sha256sum "$PY_DIR/requirements.txt" | cut -c1-16)
if [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$REQ_STAMP" ] || ! "$PY" -c 'import yaml, jmespath, websockets' 2>/dev/null; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        MISSING+=(python3-venv)
        install_missing && python3 -m venv "$VENV" >/dev/null || give_up "python3 -m venv failed"
    fi
    timeout 300 "$PY" -m pip install -q --disable-pip-version-check -r "$PY_DIR/requirements.txt" >&2 ||
        give_up "pip install -r scripts/deploy-check/requirements.txt failed"
    echo "$REQ_STAMP" >"$VENV/.requirements"
fi

# The release binary (already built by `cargo test --release` in dev.sh test).
timeout 3600 cargo build --release --bin lokid >&2 || give_up "cargo build --release --bin lokid failed"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export -f free_port
export PY PY_DIR EXAMPLE TMP NGINX

# --- running the checks -----------------------------------------------------------------------

PASSED=0
FAILED=()
# check NAME SECONDS COMMAND...: run it with a time limit; its last output line is the summary.
# COMMAND may be a shell function of this script (exported, for `timeout` to run it).
check() {
    local name=$1 secs=$2 rc=0
    shift 2
    if declare -F "$1" >/dev/null; then
        timeout -k 5 "$secs" bash -c '"$@"' bash "$@" >"$TMP/$name.log" 2>&1 || rc=$?
    else
        timeout -k 5 "$secs" "$@" >"$TMP/$name.log" 2>&1 || rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "ok   $name: $(tail -n 1 "$TMP/$name.log")"
    else
        FAILED+=("$name")
        [ "$rc" -eq 124 ] && echo "FAIL $name: timed out after ${secs}s" || echo "FAIL $name (exit $rc):"
        tail -n 40 "$TMP/$name.log" | sed 's/^/    /'
    fi
    return "$rc"
}
# fail NAME REASON: a check that could not run because something before it failed.
fail() {
    FAILED+=("$1")
    echo "FAIL $1: $2"
}

# Files only.
check dockerfile 30 "$PY" "$PY_DIR/static_checks.py" dockerfile
check docker-context 180 "$PY" "$PY_DIR/static_checks.py" context
check runtime-libs 30 "$PY" "$PY_DIR/static_checks.py" runtime-libs "$BIN"
check compose-monitoring 120 "$PY" "$PY_DIR/static_checks.py" compose-monitoring
check compose-app-server 120 "$PY" "$PY_DIR/static_checks.py" compose-app-server
check app-server-agents 120 "$PY" "$PY_DIR/static_checks.py" app-server-agents
check grafana-provisioning 30 "$PY" "$PY_DIR/static_checks.py" provisioning
check docs 30 "$PY" "$PY_DIR/static_checks.py" docs

# lokid with the monitoring instance's config, on loopback and a temporary data directory.
LOKID_PORT=$(free_port)
LOKID_URL=http://127.0.0.1:$LOKID_PORT
"$BIN" -config.file="$ROOT/deploy/monitoring/lokid/config.yaml" -server.http-listen-address=127.0.0.1 \
    -server.http-listen-port="$LOKID_PORT" -common.path-prefix="$TMP/lokid" >"$TMP/lokid.out" 2>&1 &
LOKID_PID=$!
lokid_ready=0
for _ in $(seq 1 300); do # up to 60 s
    kill -0 "$LOKID_PID" 2>/dev/null || break
    if "$PY" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('$LOKID_URL/ready', timeout=2).status != 200)" 2>/dev/null; then
        lokid_ready=1
        break
    fi
    sleep 0.2
done
if [ "$lokid_ready" -eq 1 ]; then
    check lokid-config 30 "$PY" "$PY_DIR/live_checks.py" lokid-config "$LOKID_URL"
    # The image's HEALTHCHECK command, pointed at this lokid; then at a port nobody listens on.
    hc_check() {
        local cmd
        mapfile -t cmd < <("$PY" -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' \
            "$("$PY" "$PY_DIR/static_checks.py" healthcheck-command "$LOKID_PORT")")
        timeout 10 "${cmd[@]}" || { echo "the HEALTHCHECK command failed against a ready lokid"; return 1; }
        mapfile -t cmd < <("$PY" -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' \
            "$("$PY" "$PY_DIR/static_checks.py" healthcheck-command "$(free_port)")")
        if timeout 10 "${cmd[@]}" 2>/dev/null; then echo "the HEALTHCHECK command passed with no server"; return 1; fi
        echo "the Dockerfile's HEALTHCHECK command passes against lokid's /ready and fails with no server"
    }
    export -f hc_check
    export LOKID_PORT
    check healthcheck 30 hc_check
else
    echo "--- lokid output ---"; tail -n 30 "$TMP/lokid.out"
    fail lokid-config "lokid did not become ready with deploy/monitoring/lokid/config.yaml"
    fail healthcheck "needs lokid"
fi

# The NestJS logger example, from npm (npm ci only when the lock or package.json changed).
nestjs() {
    if [ ! -f "$EXAMPLE/node_modules/.package-lock.json" ] ||
        [ "$EXAMPLE/package-lock.json" -nt "$EXAMPLE/node_modules/.package-lock.json" ] ||
        [ "$EXAMPLE/package.json" -nt "$EXAMPLE/node_modules/.package-lock.json" ]; then
        (cd "$EXAMPLE" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    fi
    (cd "$EXAMPLE" && npx --no-install tsc -p tsconfig.json) || { echo "tsc failed"; return 1; }
    "$PY" "$PY_DIR/live_checks.py" nestjs-sample "$EXAMPLE" "$TMP/app"
}
export -f nestjs
check nestjs-logger 600 nestjs
nestjs_ok=$?

if [ "$lokid_ready" -eq 1 ] && [ "$nestjs_ok" -eq 0 ]; then
    check promtail-pipeline 60 "$PY" "$PY_DIR/live_checks.py" promtail "$LOKID_URL" "$TMP/app"
    pipeline_ok=$?
else
    fail promtail-pipeline "needs lokid and the NestJS example's output"
    pipeline_ok=1
fi
if [ "$pipeline_ok" -eq 0 ]; then
    check dashboard-queries 120 "$PY" "$PY_DIR/live_checks.py" dashboard "$LOKID_URL" "$TMP/app"
else
    fail dashboard-queries "needs the data the promtail-pipeline check pushes"
fi

# nginx with monitor.conf, in front of lokid.
NGX=$TMP/nginx
mkdir -p "$NGX/temp" "$NGX/www"
chmod 777 "$NGX/temp"
HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
nginx_conf() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=monitor.example.com" \
        -addext "subjectAltName=DNS:monitor.example.com" -keyout "$NGX/key.pem" -out "$NGX/cert.pem" 2>/dev/null ||
        { echo "openssl could not make a test certificate"; return 1; }
    "$PY" "$PY_DIR/live_checks.py" nginx-adapt "$NGX" "$LOKID_PORT" "$HTTP_PORT" "$HTTPS_PORT" \
        "$NGX/cert.pem" "$NGX/key.pem" || return 1
    "$NGINX" -t -q -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" || return 1
    echo "nginx -t accepts deploy/nginx/monitor.conf (moved to 127.0.0.1:$HTTP_PORT/$HTTPS_PORT, test certificate)"
}
export -f nginx_conf
export NGX LOKID_PORT HTTP_PORT HTTPS_PORT
if check nginx-config 60 nginx_conf && [ "$pipeline_ok" -eq 0 ]; then
    "$NGINX" -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" -g 'daemon off;' >"$NGX/stdout" 2>&1 &
    NGINX_PID=$!
    nginx_up=0
    for _ in $(seq 1 100); do # up to 20 s
        kill -0 "$NGINX_PID" 2>/dev/null || break
        if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $HTTPS_PORT), timeout=1)" 2>/dev/null; then
            nginx_up=1
            break
        fi
        sleep 0.2
    done
    if [ "$nginx_up" -eq 1 ]; then
        check nginx-proxy 60 "$PY" "$PY_DIR/live_checks.py" nginx-proxy "$LOKID_URL" "$HTTP_PORT" "$HTTPS_PORT" \
            "$NGX/cert.pem" "$TMP/app"
        check nginx-tail 60 "$PY" "$PY_DIR/live_checks.py" nginx-tail "$LOKID_URL" "$HTTPS_PORT" "$NGX/cert.pem" "$TMP/app"
    else
        cat "$NGX/stdout" "$NGX/error.log" 2>/dev/null | tail -n 20
        fail nginx-proxy "nginx did not start"
        fail nginx-tail "nginx did not start"
    fi
else
    fail nginx-proxy "needs nginx-config and promtail-pipeline"
    fail nginx-tail "needs nginx-config and promtail-pipeline"
fi

echo
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "failed: ${FAILED[*]}"
fi
echo "deploy-check: $PASSED passed, ${#FAILED[@]} failed"
[ ${#FAILED[@]} -eq 0 ]
