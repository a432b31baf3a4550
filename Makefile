# Two commands matter to a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit run bench faults clean

$(STAMP): pyproject.toml tests/example_connector/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (a minute the first time)"
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -e '.[dev]'
	$(PY) -m pip install -qq -e tests/example_connector
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck unit

demo: $(STAMP)
	$(VENV)/bin/crosschq-worker demo

run: $(STAMP)
	$(VENV)/bin/crosschq-worker run

bench: $(STAMP)
	$(PY) -m bench

# The fault scenarios at full size (make test runs each with FAULT_TRIALS=2, FUZZ_EXAMPLES=200).
faults: $(STAMP)
	FAULT_TRIALS=20 FUZZ_EXAMPLES=10000 $(PY) -m pytest -q --timeout 1800 tests/faults

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build *.egg-info
