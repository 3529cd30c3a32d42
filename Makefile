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

.PHONY: help install book book-strict test unit nbval notebooks browser-test pdf pdf-test clean

help:
	@echo "make book          build the HTML book into _build/html"
	@echo "make test          unit tests + nbval (strict) over every notebook in _toc.yml"
	@echo "make notebooks     re-execute every notebook in place (NB=book/x.ipynb for one)"
	@echo "make browser-test  open every built page in headless Chromium, offline"
	@echo "make pdf           after make book: the whole book as one PDF, _build/pdf/book.pdf"
	@echo "make pdf-test      check that PDF against the built HTML (browser-test runs it too)"

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

browser-test: $(STAMP)
	test -f _build/html/index.html || { echo "run 'make book' first"; exit 1; }
	$(BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" tests/browser

pdf: $(STAMP)
	$(BIN)/python -m tools.pdf --site _build/html --out _build/pdf/book.pdf

pdf-test: $(STAMP)
	$(BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" tests/browser/test_pdf.py

clean:
	rm -rf _build
