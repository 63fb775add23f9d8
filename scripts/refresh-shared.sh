#!/usr/bin/env bash
# refresh-shared.sh — refresh the repository's copies of the project's shared kit.
#
#   bash scripts/refresh-shared.sh [SHARED_DIR]    (default: ../shared beside the repository)
#
# Tests and scripts never read ../shared: a clone of the repository alone must pass
# `bash scripts/dev.sh test`. What they need is copied here, and this script is the one
# place that reads the shared kit, to bring those copies up to date. It copies each file,
# then lists what changed (git status of the copies); review and commit the changes.
#
#   shared/loki-configs/*            -> tests/fixtures/loki-configs/  (config loader tests)
#   shared/conformance/*             -> tests/conformance/            (data set, Loki's answers, runner;
#                                       the kit's README becomes KIT.md)
#   shared/tools/bench_api.py,
#   shared/tools/cardinality.py      -> scripts/bench/                (reads the data set from tests/conformance)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "${1:-$ROOT/../shared}" && pwd)
cd "$ROOT"

copy() { # copy SRC DST: copy one file, writable, reporting new and changed files
    local src=$1 dst=$2
    [ -f "$src" ] || { echo "refresh-shared: $src is missing, $dst kept as it is" >&2; return 0; }
    if [ ! -f "$dst" ]; then echo "new:     $dst"
    elif ! cmp -s "$src" "$dst"; then echo "changed: $dst"
    fi
    install -m 0644 "$src" "$dst"
}

mkdir -p tests/fixtures/loki-configs tests/conformance scripts/bench
for f in "$SHARED"/loki-configs/*; do copy "$f" "tests/fixtures/loki-configs/$(basename "$f")"; done
for f in dataset.py conformance.py public.golden.json drilldown-loki-3.7.6.json; do
    copy "$SHARED/conformance/$f" "tests/conformance/$f"
done
copy "$SHARED/conformance/README.md" tests/conformance/KIT.md
for f in bench_api.py cardinality.py; do
    tmp=$(mktemp)
    # The shared tool finds the data set at ../conformance beside itself; here it lives in
    # tests/conformance.
    sed 's#os.path.join(HERE, "..", "conformance", "dataset.py")#os.path.join(HERE, "..", "..", "tests", "conformance", "dataset.py")#' \
        "$SHARED/tools/$f" >"$tmp"
    copy "$tmp" "scripts/bench/$f"
    rm -f "$tmp"
done
chmod +x scripts/bench/*.py
# Files that the shared kit no longer has are not deleted; git status shows everything.
git status --short -- tests/fixtures tests/conformance scripts/bench
