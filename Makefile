# Two commands set everything up on a fresh machine: `make book` and `make test`.
# Every target installs the pinned environment into .venv first (only when requirements change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600
export PYTHONHASHSEED := 0
# The kernel settings behind the committed outputs (short tracebacks, 2x figures):
# tools/ipython/profile_default/ipython_kernel_config.py
export IPYTHONDIR := $(CURDIR)/tools/ipython

.PHONY: help install book book-strict test unit nbval notebooks browser-test clean

help:
	@echo "make book          build the HTML book into _build/html"
	@echo "make test          unit tests + nbval (strict) over every notebook in _toc.yml"
	@echo "make notebooks     re-execute every notebook in place (NB=book/x.ipynb for one)"
	@echo "make browser-test  open every built page in headless Chromium, offline"

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --requirement requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

book: $(STAMP)
	$(BIN)/python -m tools.build_book --language en

test: unit nbval

unit: $(STAMP)
	$(BIN)/python -m pytest -q

nbval: $(STAMP)
	$(BIN)/python -m pytest -q $(NBVAL) $$($(BIN)/python -c "from tools.notebooks import toc_notebooks; print(*toc_notebooks())")

notebooks: $(STAMP)
	$(BIN)/python -m tools.run_notebooks $(NB)

# BOOK_HTML=<dir> tests another built copy of the site (default: _build/html).
BOOK_HTML ?= _build/html
browser-test: $(STAMP)
	test -f $(BOOK_HTML)/index.html || { echo "run 'make book' first"; exit 1; }
	BOOK_HTML=$(abspath $(BOOK_HTML)) $(BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" tests/browser

clean:
	rm -rf _build
