# qkeras: the two set-up commands are `make demo` and `make test`; both create .venv.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.10 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test lint docs bench install clean

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "qkeras needs Python 3.10-3.12 (TensorFlow Quantum wheels); none found" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qkeras demo

# Test processes (pytest-xdist): one per CPU core by default; TEST_WORKERS=0 runs in one.
TEST_WORKERS ?= auto

test: $(STAMP)
	$(BIN)/python -m pytest -rs -n $(TEST_WORKERS) --cov=qkeras --cov-report=term --cov-fail-under=90

lint: $(STAMP)
	$(BIN)/ruff check qkeras tests scripts examples

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python scripts/bench/layers.py
	$(BIN)/python scripts/bench/backends.py
	$(BIN)/python scripts/bench/export_latency.py
	$(BIN)/python scripts/bench/hardware.py
	$(BIN)/python scripts/bench/serve.py

clean:
	rm -rf $(VENV) docs/_build .coverage demo_output test-artifacts
