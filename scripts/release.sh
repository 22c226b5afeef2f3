#!/usr/bin/env bash
# `make release`: one directory to carry to the server and the inbox laptop (docs/deployment.md).
#
#   dist/wheelhouse/*.whl               whistle-office and every dependency (PostgreSQL's too),
#                                        and pip itself (install.sh runs it from its wheel)
#   dist/wheelhouse/install.sh           the offline install (scripts/install-from-wheelhouse.sh)
#   dist/wheelhouse/crypto-bundle.sha256 the served scripts' SHA-256 (the page script first: the
#                                        one to publish, deployment §8; it pins the other two)
#   dist/wheelhouse/SHA256SUMS           checked with `cd wheelhouse && sha256sum -c SHA256SUMS`
#
# Built from `git archive HEAD`, never from the working tree: uncommitted changes, an old
# node_modules or a stale browser bundle cannot slip into a release. SOURCE_DATE_EPOCH is the
# commit's time, so two builds of one commit give the same whistle-office wheel bytes.
# SRC=DIR builds from DIR instead (the tests: a copy of the checkout with its built bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=${PIP:-.venv/bin/pip}
OUT=${OUT:-dist/wheelhouse}

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes are not in the release (it is built from HEAD)" >&2
fi
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
if [ -n "${SRC:-}" ]; then
    src=$SRC
else
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    git archive --format=tar HEAD | tar -x -C "$src"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
"$PIP" wheel --quiet --wheel-dir "$OUT" "$src[postgres]"
"$PIP" download --quiet --no-deps --only-binary :all: --dest "$OUT" pip
install -m 0755 scripts/install-from-wheelhouse.sh "$OUT/install.sh"

shopt -s nullglob
wheels=("$OUT"/whistle_office-*.whl)
if [ ${#wheels[@]} -ne 1 ]; then
    echo "expected one whistle_office wheel in $OUT, found ${#wheels[@]}" >&2
    exit 1
fi
# The scripts the submission page loads, by the file names it serves them under.
"${PIP%/pip}/python" - "${wheels[0]}" > "$OUT/crypto-bundle.sha256" <<'PY'
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    build = "whistle/submit/static/build/"
    manifest = json.loads(wheel.read(build + "manifest.json"))
    for role in ("page", "wasm", "fallback"):
        name = manifest[role]["file"]
        print(f"{hashlib.sha256(wheel.read(build + name)).hexdigest()}  {name}")
PY
(cd "$OUT" && sha256sum -- *.whl install.sh crypto-bundle.sha256 > SHA256SUMS)
echo "Release in $OUT ($(ls "$OUT"/*.whl | wc -l) wheels). Write this on paper:"
sha256sum "$OUT/SHA256SUMS"
