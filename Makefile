# The two commands a newcomer needs (see README.md):
#   make demo   – install into .venv, build, run the whole thing locally
#   make test   – install what the tests need (system packages too), run the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the test suite drives for real.
SYSTEM_PACKAGES := gnupg time

.PHONY: demo test lint venv system-deps clean build build-js

$(BIN)/.installed: pyproject.toml
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

# Everything built from sources that is not committed.
build: build-js

# The browser crypto bundle (js/, docs/browser-crypto.md): `npm ci` when
# node_modules is missing or the lockfile changed, then esbuild.
JS_MANIFEST := whistle/submit/static/build/manifest.json
build-js: $(JS_MANIFEST)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(JS_MANIFEST): node_modules/.package-lock.json $(wildcard js/*.js js/*.cjs js/*.mjs js/package.json)
	node js/build.mjs

demo: venv build
	$(BIN)/whistle demo

test: system-deps venv lint build
	$(BIN)/pytest -n auto

clean:
	rm -rf $(VENV) build dist *.egg-info
