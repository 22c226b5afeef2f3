# The two commands a newcomer needs (see README.md):
#   make demo   – install into .venv, build, run the whole thing locally
#   make test   – install what the tests need (system packages too), run the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the test suite drives for real.
SYSTEM_PACKAGES := gnupg time
# tor + tor-gencert (onion services, private Tor network), systemd-analyze, openssl (x25519 keys).
SYSTEM_PACKAGES += tor systemd openssl
# previews and metadata stripping in the inbox; Chromium for the browser tests.
SYSTEM_PACKAGES += poppler-utils mat2 chromium
# the submission server's tests run on SQLite and on a private PostgreSQL cluster (tests/pgcluster.py).
SYSTEM_PACKAGES += postgresql
# Firefox ESR (Tor Browser's base) for the end-to-end tests, driven by puppeteer-core (WebDriver BiDi).
SYSTEM_PACKAGES += firefox-esr
# reliability tests: an ext4 image that goes read-only under load (mkfs.ext4), the worker that
# holds a connection (ss), mount namespaces and loop mounts (unshare, nsenter, mount).
SYSTEM_PACKAGES += e2fsprogs iproute2 util-linux mount

.PHONY: demo test lint venv tools system-deps build build-js release clean

# python3-venv, node and npm, from apt when missing (scripts/tools.sh).
tools:
	./scripts/tools.sh

$(BIN)/.installed: pyproject.toml | tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	./scripts/system-deps.sh $(SYSTEM_PACKAGES)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Built artefacts that are not kept in git (compiled translations, the browser bundle, …).
build: venv build-js
	$(BIN)/pybabel compile --statistics -d whistle/inbox/translations
	$(BIN)/pybabel compile --statistics -d whistle/submit/translations

# The browser crypto bundle (js/, docs/browser-crypto.md): `npm ci` when
# node_modules is missing or the lockfile changed, then esbuild.
JS_MANIFEST := whistle/submit/static/build/manifest.json
build-js: $(JS_MANIFEST)

node_modules/.package-lock.json: package.json package-lock.json | tools
	npm ci --no-audit --no-fund
	touch $@

$(JS_MANIFEST): node_modules/.package-lock.json $(wildcard js/*.js js/*.cjs js/*.mjs js/package.json)
	node js/build.mjs

demo: venv build
	$(BIN)/whistle demo

# Two runs: everything in parallel, then the `serial` tests (one private Tor network for the
# whole session, which xdist workers would each start again) in one plain process.
test: system-deps venv lint build
	$(BIN)/pytest -n auto -m "not serial"
	$(BIN)/pytest -m serial

# The release (docs/deployment.md, "Build the release"): dist/wheelhouse/ from `git archive
# HEAD`, with SHA256SUMS and the crypto bundle's hash. Needs the network (PyPI, npm registry).
release: venv
	./scripts/release.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
