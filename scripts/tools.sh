#!/usr/bin/env bash
# What `make demo` and `make test` need before anything else, installed with apt only when
# missing: python3-venv (Debian's python3 has no venv without it), node and npm (Debian 12's
# nodejs 18 builds the browser bundle byte for byte as node 20 does). Checked by command, not by
# package name, so a node installed another way (NodeSource) is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    ./scripts/system-deps.sh "${missing[@]}"
fi
