#!/usr/bin/env bash
# End-to-end tests (tests/e2e): the quickstart notebook in JupyterLab in headless Chromium,
# a 200-trial search's panel, and the quickstart under nbclient.
#
# Installs what they need (Debian's chromium when /usr/bin/chromium is missing; jupyterlab and
# playwright into .venv; never a browser download through playwright), runs them, and cleans
# up: the test fixtures start and stop JupyterLab themselves; if pytest dies, the trap below
# kills the servers' process groups they recorded, then removes the temp dirs.
#
# Usage: bash .ci/e2e.sh [pytest args]     (make test-e2e)
# NBAUTOML_E2E_SCREENSHOTS=docs/screenshots bash .ci/e2e.sh   refreshes the committed screenshots
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
E2E_PACKAGES=("jupyterlab>=4.2,<5" "playwright>=1.45,<2")

[ -x "$PY" ] || make venv

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "e2e: /usr/bin/chromium is missing; run: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    echo "e2e: installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
"$PY" -m pip install -q "${E2E_PACKAGES[@]}"

E2E_TMP="$(mktemp -d -t nbautoml-e2e-XXXXXX)"
export NBAUTOML_E2E=1
export NBAUTOML_HOME="$E2E_TMP/home"
export NBAUTOML_E2E_PIDDIR="$E2E_TMP/pids"
export NBAUTOML_E2E_TMPDIR="$E2E_TMP"  # the servers' and the browser profile's temp dirs
mkdir -p "$NBAUTOML_HOME" "$NBAUTOML_E2E_PIDDIR"

cleanup() {
    local file pgid
    for file in "$NBAUTOML_E2E_PIDDIR"/*.pgid; do
        [ -e "$file" ] || continue
        pgid="$(cat "$file")"
        echo "e2e: stopping the JupyterLab server left behind (process group $pgid)" >&2
        kill -TERM -- "-$pgid" 2>/dev/null || true
        sleep 3
        kill -KILL -- "-$pgid" 2>/dev/null || true
    done
    rm -rf "$E2E_TMP"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

start=$(date +%s)
status=0
"$PY" -m pytest -q -p no:cacheprovider tests/e2e "$@" || status=$?
echo "e2e: finished in $(( $(date +%s) - start )) s"
exit "$status"
