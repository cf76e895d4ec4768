# orderbot: `make demo` runs the main job on the embedded default, `make test` runs the tests.
# Both set up everything they need on a fresh Debian machine (system packages, virtualenv).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test setup clean-demo model

$(STAMP): pyproject.toml
	@scripts/system-deps.sh run
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

# Keys the sample inbox, prints every order and the store's counts, then serves the
# review workbench (URL and a login made for the run) until Ctrl-C.
demo: $(STAMP)
	@$(BIN)/orderbot config check >/dev/null
	$(BIN)/orderbot demo

# The spaCy models of extractors/nlp, trained from generated data (a few minutes on
# 2 cores, so not part of setup: the trained files are committed and `make model`
# rebuilds the same files from the same seed).
model: $(STAMP)
	$(BIN)/python -m extractors.nlp.train --out extractors/nlp/models --seed 1

clean-demo:
	rm -rf data

test: $(STAMP)
	@scripts/system-deps.sh test
	$(BIN)/python -m pytest
