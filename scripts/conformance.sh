#!/usr/bin/env bash
# conformance.sh — compare lokid with recorded Grafana Loki answers (tests/conformance).
#
# Starts the release lokid binary on a free loopback port with a temporary data dir
# (no retention, old samples accepted), pushes the shared data set, runs
# `conformance.py check` against public.golden.json and prints its full output.
# Not all of LogQL is implemented yet, so some queries are expected to fail; what must
# pass is listed in tests/conformance/expected-pass (one id a line, '#' comments).
# The last line is `conformance: N passed, M failed`, counting only those ids;
# exit status 1 when M > 0 (or when the run could not be done at all).
#
# Called by `bash scripts/dev.sh test` and `bash scripts/dev.sh conformance`.
# Env: CARGO_TARGET_DIR (default ~/.cache/lokid-target). The kit (dataset.py, conformance.py,
# public.golden.json) is the repository's copy in tests/conformance; scripts/refresh-shared.sh
# refreshes it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib-lokid.sh"
ROOT=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/.." && pwd))
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lokid-target}
CONF=$ROOT/tests/conformance
EXPECTED=$ROOT/tests/conformance/expected-pass

# The ids that must pass, without comments and blank lines.
mapfile -t IDS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$EXPECTED" | grep -v '^$')

# Gives up: every expected id counts as failed.
give_up() {
    echo "conformance: error: $*"
    echo "conformance: 0 passed, ${#IDS[@]} failed"
    exit 1
}

for f in dataset.py conformance.py public.golden.json; do
    [ -f "$CONF/$f" ] || give_up "$CONF/$f not found (the conformance kit is part of the repository: is this a complete checkout?)"
done
command -v python3 >/dev/null 2>&1 || give_up "python3 not found (bash scripts/dev.sh test installs it)"

cargo build --release --bin lokid >&2 || give_up "cargo build --release failed"
BIN=$CARGO_TARGET_DIR/release/lokid

TMP=$(mktemp -d)
PID=""
cleanup() {
    stop_process "$PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
write_lokid_config "$TMP/config.yaml" "$PORT" "$TMP/data" <<EOF
limits_config:
  reject_old_samples: false
  retention_period: 0s
compactor:
  retention_enabled: false
EOF

"$BIN" -config.file="$TMP/config.yaml" >"$TMP/lokid.log" 2>&1 &
PID=$!

server_log() { echo "--- lokid log (last 30 lines) ---"; tail -n 30 "$TMP/lokid.log"; echo "---"; }

ready=0
wait_ready "$PORT" "$PID" || ready=$?
[ "$ready" -ne 2 ] || { server_log; give_up "lokid exited during startup"; }
[ "$ready" -eq 0 ] || { server_log; give_up "lokid not ready on $URL after 60 s"; }
echo "lokid ready on $URL (data in $TMP/data)"

python3 "$CONF/dataset.py" >"$TMP/dataset.jsonl"
python3 "$CONF/conformance.py" push "$URL" "$TMP/dataset.jsonl" || { server_log; give_up "pushing the data set failed"; }

check_rc=0
python3 "$CONF/conformance.py" check "$URL" "$CONF/public.golden.json" --verbose >"$TMP/check.out" 2>&1 || check_rc=$?
cat "$TMP/check.out"
# conformance.py exits 1 when any query fails (expected for now); anything else, or a
# missing summary line, means the check itself broke and nothing can be trusted.
if [ "$check_rc" -gt 1 ] || ! grep -Eq '^[0-9]+ passed, [0-9]+ failed$' "$TMP/check.out"; then
    kill -0 "$PID" 2>/dev/null || server_log
    give_up "conformance.py check did not complete (exit $check_rc)"
fi

# A lookup table, not `printf | grep -q`: under pipefail grep's early exit would SIGPIPE
# printf and randomly count a present id as missing.
declare -A GOLDEN=()
while IFS= read -r gid; do GOLDEN["$gid"]=1; done < <(python3 -c 'import json, sys; [print(q["id"]) for q in json.load(open(sys.argv[1]))]' "$CONF/public.golden.json")
passed=0
failed=()
for id in "${IDS[@]}"; do
    if [ -z "${GOLDEN[$id]:-}" ]; then
        failed+=("$id (not in public.golden.json)")
    elif awk -v want="FAIL $id:" 'index($0, want) == 1 { found = 1 } END { exit !found }' "$TMP/check.out"; then
        failed+=("$id")
    else
        passed=$((passed + 1))
    fi
done

# Logs Drilldown endpoints, against Loki's recorded answers (order-free; see the script).
drill_rc=0
python3 scripts/drilldown_check.py "$URL" "$CONF/drilldown-loki-3.7.6.json" tests/conformance/expected-pass-drilldown \
    >"$TMP/drilldown.out" 2>&1 || drill_rc=$?
cat "$TMP/drilldown.out"
if [ "$drill_rc" -gt 1 ] || ! grep -Eq '^[0-9]+ passed, [0-9]+ failed$' "$TMP/drilldown.out"; then
    give_up "drilldown_check.py did not complete (exit $drill_rc)"
fi
while IFS= read -r line; do
    case "$line" in
        "PASS "*) passed=$((passed + 1)); IDS+=("${line#PASS }") ;;
        "FAIL "*) failed+=("${line#FAIL }") ;;
    esac
done <"$TMP/drilldown.out"

echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "expected to pass (tests/conformance/expected-pass) but failed:"
    printf '  %s\n' "${failed[@]}"
else
    echo "all ${#IDS[@]} ids in tests/conformance/expected-pass passed"
fi
echo "conformance: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
