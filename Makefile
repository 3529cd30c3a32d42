# Two commands set everything up on a fresh machine: `make book` and `make test`.
# Every target installs the pinned environment into .venv first (only when requirements change).
# `make help` lists the targets: each is documented by its `##` comment.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 600
export PYTHONHASHSEED := 0
# The kernel settings behind the committed outputs (short tracebacks, 2x figures):
# tools/ipython/profile_default/ipython_kernel_config.py
export IPYTHONDIR := $(CURDIR)/tools/ipython
# The hypothesis profile of tests/conftest.py: `ci` draws the same examples on every run.
# `make unit HYPOTHESIS_PROFILE=dev` draws fresh ones.
HYPOTHESIS_PROFILE ?= ci
export HYPOTHESIS_PROFILE

.PHONY: help install book test i18n i18n-update unit quick nbval notebooks lint format requirements browser-test pdf pdf-test clean

help:  ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(STAMP)  ## create .venv with the pinned requirements and celib (only when they change)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --requirement requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

book: $(STAMP)  ## build English into _build/html and Chinese into _build/html/zh_CN (strict: any warning fails)
	$(BIN)/python -m tools.build_book

test: i18n unit nbval  ## the translation check, unit tests, doctests and hygiene tests, then nbval (strict)

i18n: $(STAMP)  ## fail if a translation catalog is stale, fuzzy, incomplete or breaks the markup of its English
	$(BIN)/python -m tools.i18n check

i18n-update: $(STAMP)  ## merge the current English messages into the catalogs (new: untranslated, changed: fuzzy)
	$(BIN)/python -m tools.i18n update

unit: $(STAMP)  ## unit tests, doctests of celib, notebook hygiene tests (the slow ones included)
	$(BIN)/python -m pytest -q

quick: $(STAMP)  ## the unit tests without those marked slow (they spawn processes)
	$(BIN)/python -m pytest -q -m "not slow"

nbval: $(STAMP)  ## nbval in strict mode over every notebook in _toc.yml
	$(BIN)/python -m pytest -q $(NBVAL) $$($(BIN)/python -c "from tools.notebooks import toc_notebooks; print(*toc_notebooks())")

notebooks: $(STAMP)  ## re-execute every notebook in place (NB=book/x.ipynb for one)
	$(BIN)/python -m tools.run_notebooks $(NB)

lint: $(STAMP)  ## ruff (lint and format check, notebooks included) and mypy on celib
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's formatting and its safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

requirements: $(STAMP)  ## re-pin requirements.txt from requirements.in (keeps pins; UPGRADE=1 moves them all)
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file requirements.txt requirements.in
	# A local CPU wheel installs as torch==X+cpu; PyPI knows the version without the label.
	sed -i -E 's/^torch==([^+]*)\+cpu$$/torch==\1/' requirements.txt

# BOOK_HTML=<dir> tests another built copy of the site (default: _build/html).
BOOK_HTML ?= _build/html
# Two pytest-xdist workers, each with its own Chromium; a page's checks stay in one worker (one visit).
XDIST := -n 2 --dist loadscope
browser-test: $(STAMP)  ## after `make book` and `make pdf`: every page in headless Chromium, offline, and the PDF (BOOK_HTML=dir: another copy)
	test -f $(BOOK_HTML)/index.html || { echo "run 'make book' first"; exit 1; }
	BOOK_HTML=$(abspath $(BOOK_HTML)) $(BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" $(XDIST) tests/browser

pdf: $(STAMP)  ## after `make book`: each edition as one PDF, _build/pdf/book.pdf and _build/pdf/book-zh_CN.pdf
	# the two editions print at the same time (each Chromium renderer uses about one core); either failing fails
	$(BIN)/python -m tools.pdf --site _build/html --out _build/pdf/book.pdf & en=$$!; \
	$(BIN)/python -m tools.pdf --site _build/html/zh_CN --out _build/pdf/book-zh_CN.pdf; zh=$$?; \
	wait $$en && exit $$zh

pdf-test: $(STAMP)  ## only the checks of that PDF (browser-test runs them too)
	$(BIN)/python -m pytest -q -o addopts="-p no:cacheprovider" $(XDIST) tests/browser/test_pdf.py

clean:  ## remove _build/
	rm -rf _build
