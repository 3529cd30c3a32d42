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
