"""pytest hooks shared by the unit tests and the notebook tests (nbval).

GPU cells: a notebook cell tagged ``gpu`` needs CUDA, so nbval skips it unless
``tools.notebooks.gpu_cells_enabled()`` says otherwise (``CELIB_GPU_CELLS=auto|on|off``).
"""

import pytest

from tools.notebooks import gpu_cells_enabled, is_gpu_cell

collect_ignore_glob = [".venv/*", "_build/*", ".whl/*"]


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if is_gpu_cell(getattr(item, "cell", {}))]
    if gpu_items and not gpu_cells_enabled():
        skip = pytest.mark.skip(reason="gpu cell: CUDA not available (CELIB_GPU_CELLS=on forces it)")
        for item in gpu_items:
            item.add_marker(skip)
