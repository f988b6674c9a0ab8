# faceweave — `make demo` and `make test` each set up .venv from the registries and run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The browser tests (tests/test_web.py) drive Debian's chromium through Playwright (Playwright's own
# browser download is not reachable); `make test` installs the package when it is missing.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>/dev/null || true
	# torch first: the CPU wheel pinned here (a bare `torch` would pull a multi-GB CUDA build)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m faceweave.demo --photos tests/assets --out out

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

chromium: $(CHROMIUM)

lint: $(STAMP)
	$(BIN)/ruff check faceweave tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/swap_speed.py

clean:
	rm -rf out .pytest_cache
