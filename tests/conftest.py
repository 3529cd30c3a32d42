"""Settings every unit test shares: hypothesis profiles and a seeded global generator.

``HYPOTHESIS_PROFILE`` picks the profile: ``ci`` (what the Makefile sets, so ``make test`` and
CI run the same examples every time) or ``dev`` (the default for a bare ``pytest``: fresh
examples on each run, to find new failures).
"""

import os

import pytest
import torch
import torch.distributed as dist
from hypothesis import settings

# No deadline: the first example of a test pays for torch's lazy initialisation, and two shared
# cores make timings noisy. CI draws the examples from the test's name (derandomize).
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def seeded_global_generator():
    """Seed torch's global generator before every test, so no test depends on the tests before it."""
    torch.manual_seed(0)


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo group of one process (this one), torn down after the test."""
    dist.init_process_group("gloo", store=dist.FileStore(os.fspath(tmp_path / "store"), 1), rank=0, world_size=1)
    yield
    dist.destroy_process_group()
