"""Checks of the site's sources that need no browser: one source for each setting."""

from __future__ import annotations

import re
from pathlib import Path

import torch
import yaml

import celib

ROOT = Path(__file__).resolve().parent.parent


def test_citation_file_carries_the_package_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == celib.__version__


def test_outputs_come_from_the_pinned_torch():
    """The committed outputs are only reproducible in the pinned environment nbval runs in."""
    pin = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin is not None, "requirements.txt must pin torch exactly"
    assert torch.__version__.split("+")[0] == pin.group(1)


def test_kernel_config_is_used_by_the_makefile():
    """nbval and `make notebooks` must run the kernel the committed outputs came from."""
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^export IPYTHONDIR\s*:?=\s*\$\(CURDIR\)/tools/ipython$", makefile, re.M)
    assert (ROOT / "tools/ipython/profile_default/ipython_kernel_config.py").is_file()


def test_every_chapter_starts_with_the_install_cell_of_the_configured_repository():
    """Changing `repository.url` in _config.yml reaches every chapter (`make notebooks`)."""
    import nbformat

    from tools.notebooks import install_cell_source, is_install_cell, repository_url, toc_notebooks

    expected = install_cell_source(repository_url())
    for path in toc_notebooks():
        first = nbformat.read(path, as_version=4).cells[0]
        assert is_install_cell(first) and first.source == expected, f"{path.name}: run `make notebooks`"
        assert "remove-cell" in first.metadata["tags"], f"{path.name}: the install cell is hidden in the book"


def test_every_module_on_the_api_page_has_a_summary():
    """Each module section of book/api.md says in a sentence what the module is for, before its
    generated reference (the Chinese edition translates that sentence; docstrings stay English)."""
    page = (ROOT / "book" / "api.md").read_text()
    sections = re.split(r"^## ", page, flags=re.M)[1:]
    bare = [
        s.splitlines()[0] for s in sections if "automodule" in s and not s.split("```", 1)[0].split("\n", 1)[1].strip()
    ]
    assert bare == []
