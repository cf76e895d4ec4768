# orderbot: `make demo` runs the main job on the embedded default, `make test` runs the tests.
# Both set up everything they need on a fresh Debian machine (system packages, virtualenv).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test setup clean-demo

$(STAMP): pyproject.toml
	@scripts/system-deps.sh run
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	@$(BIN)/orderbot config check >/dev/null
	$(BIN)/orderbot run --once
	$(BIN)/orderbot orders
	$(BIN)/orderbot status

clean-demo:
	rm -rf data

test: $(STAMP)
	@scripts/system-deps.sh test
	$(BIN)/python -m pytest
