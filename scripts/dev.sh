#!/usr/bin/env bash
# dev.sh — bootstrap, build, run and test lokid on a Debian machine.
#
#   bash scripts/dev.sh run          install build deps, build release, run lokid in the
#                                    foreground with loki-config.example.yaml (data in ./data)
#   bash scripts/dev.sh test         install deps (+ node/npm, python3), cargo fmt --check,
#                                    cargo clippy -D warnings, cargo test --release
#                                    (unit tests + tests/it, the one integration-test program
#                                    with the real-client tests), the Loki conformance check,
#                                    scripts/deploy-check.sh; non-zero on failure
#   bash scripts/dev.sh conformance  only the conformance check (builds release first)
#   bash scripts/dev.sh bench        cargo bench (criterion benches in benches/)
#
# Everything builds with the release profile into one shared target dir
# (CARGO_TARGET_DIR, default ~/.cache/lokid-target): RocksDB's C++ takes 15-20 minutes
# from cold, so tests, benches and the server reuse a single build.
# Missing Debian packages are installed with apt-get (as root, or via sudo); nothing is
# installed when everything is already present.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}

log() { echo "dev.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- system packages ------------------------------------------------------------------

MISSING=()
want_pkg() { # want_pkg PACKAGE: queue a Debian package unless it is installed
    case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" in
        *"ok installed") ;;
        *) MISSING+=("$1") ;;
    esac
}
want_cmd() { # want_cmd COMMAND PACKAGE...: queue the packages unless COMMAND exists
    local cmd=$1; shift
    command -v "$cmd" >/dev/null 2>&1 || MISSING+=("$@")
}
install_missing() {
    [ ${#MISSING[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${MISSING[*]} and no apt-get; install them by hand"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing ${MISSING[*]}"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${MISSING[@]}" >/dev/null
    MISSING=()
}

build_deps() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (rustup)"
    want_pkg libclang-dev   # bindgen (rocksdb bindings) loads libclang at build time
    want_cmd clang clang
    want_cmd c++ g++        # RocksDB's C++
    want_cmd make make
}
test_deps() {
    build_deps
    want_cmd node nodejs    # tests/it/clients.rs, tests/it/clients_otlp.rs (npm clients)
    want_cmd npm npm
    want_cmd python3 python3 # scripts/conformance.sh; tests/it/clients_otlp.rs (Python clients)
    # tests/it/clients_otlp.rs makes a venv for the pinned Python clients (Debian splits venv out).
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || MISSING+=(python3-venv)
    want_cmd git git
}

# --- subcommands ----------------------------------------------------------------------

cmd_run() {
    build_deps
    install_missing
    cargo build --release --bin lokid
    exec "$CARGO_TARGET_DIR/release/lokid" -config.file=loki-config.example.yaml
}

cmd_conformance() {
    test_deps
    install_missing
    bash scripts/conformance.sh
}

cmd_bench() {
    build_deps
    install_missing
    cargo bench "$@"
}

cmd_test() {
    test_deps
    install_missing
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT

    local cargo_rc=0 conf_rc=0 deploy_rc=0 sp=0 sf=0
    # Style first (cheap): rustfmt-clean, and clippy with the [lints] of Cargo.toml as errors.
    # clippy checks in the release profile, so it reuses RocksDB's release build.
    for tool in rustfmt clippy; do
        cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$tool" >/dev/null 2>&1 || true
    done
    if cargo fmt --all --check; then sp=$((sp + 1)); else sf=$((sf + 1)); log "cargo fmt --check failed: run cargo fmt"; fi
    if cargo clippy --release --workspace --all-targets -- -D warnings; then sp=$((sp + 1)); else sf=$((sf + 1)); fi
    cargo test --release --workspace --no-fail-fast 2>&1 | tee "$OUT/cargo.log" || cargo_rc=$?
    bash scripts/conformance.sh 2>&1 | tee "$OUT/conformance.log" || conf_rc=$?
    bash scripts/deploy-check.sh 2>&1 | tee "$OUT/deploy.log" || deploy_rc=$?

    # One honest closing line over everything that must pass: every cargo test, every id in
    # tests/conformance/expected-pass and every deploy-check check. A run that died before
    # counting anything counts as one failure.
    local cp cf kp kf dp df
    read -r cp cf < <(awk '/^test result: /{
            for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
        } END { print p + 0, f + 0 }' "$OUT/cargo.log")
    read -r kp kf < <(awk '/^conformance: [0-9]+ passed, [0-9]+ failed$/{ p = $2; f = $4 }
        END { print p + 0, f + 0 }' "$OUT/conformance.log")
    read -r dp df < <(awk '/^deploy-check: [0-9]+ passed, [0-9]+ failed$/{ p = $2; f = $4 }
        END { print p + 0, f + 0 }' "$OUT/deploy.log")
    [ "$cargo_rc" -ne 0 ] && [ "$cf" -eq 0 ] && cf=1
    [ "$conf_rc" -ne 0 ] && [ "$kf" -eq 0 ] && kf=1
    [ "$deploy_rc" -ne 0 ] && [ "$df" -eq 0 ] && df=1
    echo
    echo "style (fmt, clippy): $sp passed, $sf failed; cargo test: $cp passed, $cf failed (exit $cargo_rc); conformance (expected ids): $kp passed, $kf failed (exit $conf_rc); deploy check: $dp passed, $df failed (exit $deploy_rc)"
    echo "total: $((sp + cp + kp + dp)) passed, $((sf + cf + kf + df)) failed"
    [ "$sf" -eq 0 ] && [ "$cargo_rc" -eq 0 ] && [ "$conf_rc" -eq 0 ] && [ "$deploy_rc" -eq 0 ]
}

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    run) shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    conformance) shift; cmd_conformance "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    *) usage ;;
esac
