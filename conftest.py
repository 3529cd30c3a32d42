"""pytest hooks shared by the unit tests and the notebook tests (nbval).

GPU cells: a notebook cell tagged ``gpu`` needs CUDA, so nbval skips it unless
``tools.notebooks.gpu_cells_enabled()`` says otherwise (``CELIB_GPU_CELLS=auto|on|off``).

Slow doctests: a docstring example that spawns processes is marked ``slow`` like the tests that
do (``make quick`` skips them; ``make test`` runs them).
"""

import pytest

from tools.notebooks import gpu_cells_enabled, is_gpu_cell

collect_ignore_glob = [".venv/*", "_build/*", ".whl/*"]
SLOW_DOCTESTS = {"celib.vocab_parallel.run_vocab_parallel"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
    gpu_items = [item for item in items if is_gpu_cell(getattr(item, "cell", {}))]
    if gpu_items and not gpu_cells_enabled():
        skip = pytest.mark.skip(reason="gpu cell: CUDA not available (CELIB_GPU_CELLS=on forces it)")
        for item in gpu_items:
            item.add_marker(skip)
