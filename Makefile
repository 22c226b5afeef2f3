# The two commands a newcomer needs (see README.md):
#   make demo   – install into .venv, build, run the whole thing locally
#   make test   – install what the tests need (system packages too), run the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the test suite drives for real.
SYSTEM_PACKAGES := gnupg chromium

.PHONY: demo test lint venv system-deps clean build

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

# Built artefacts that are not kept in git.
build: venv
	$(BIN)/pybabel compile -d whistle/submit/translations -D messages --statistics

demo: venv build
	$(BIN)/whistle demo

test: system-deps venv lint build
	$(BIN)/pytest -n auto

clean:
	rm -rf $(VENV) build dist *.egg-info
