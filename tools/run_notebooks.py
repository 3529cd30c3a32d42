"""Re-execute the book's notebooks in place, top to bottom, in one fresh kernel each.

    python -m tools.run_notebooks                 # every notebook in _toc.yml
    python -m tools.run_notebooks book/entropy.ipynb

Committed outputs must come from this command, run in the pinned environment (``make notebooks``).
Cells tagged ``gpu`` run only where ``gpu_cells_enabled()``; elsewhere they keep their committed
outputs, and a comment is executed in their place so that every later cell keeps its execution
count. A gpu cell that runs records the GPU and the PyTorch that produced its outputs in its
metadata (``celib.gpu_run``), which the book shows next to them (``tools/book_site.py``). A cell
that raises stops the run unless it is tagged ``raises-exception``.

Before running, the first cell of each notebook is made the install cell of
``tools.notebooks.install_cell_source`` for the repository URL of ``_config.yml`` (inserted if
missing), so that changing that one setting updates every chapter.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.notebooks import (
    INSTALL_TAG,
    ROOT,
    gpu_cells_enabled,
    install_cell_source,
    is_gpu_cell,
    is_install_cell,
    repository_url,
    toc_notebooks,
)

KERNEL_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def gpu_run_record() -> dict[str, str]:
    """Which GPU and which PyTorch this process (and so the kernel it starts) runs on."""
    import torch

    return {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}


def set_install_cell(nb: nbformat.NotebookNode, url: str) -> None:
    """Make ``nb``'s first cell the install cell for ``url`` (hidden in the book: remove-cell)."""
    source = install_cell_source(url)
    if not (nb.cells and is_install_cell(nb.cells[0])):
        nb.cells.insert(0, nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", INSTALL_TAG]}))
    nb.cells[0].source = source


def execute_notebook(path: Path, run_gpu_cells: bool, timeout: int = 600) -> None:
    nb = nbformat.read(path, as_version=4)
    set_install_cell(nb, repository_url())
    gpu_run = gpu_run_record() if run_gpu_cells else None
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        skip_cells_with_tag="",  # gpu cells carry `skip-execution` for the book build; we decide here
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if is_gpu_cell(cell) and not run_gpu_cells:
                placeholder = nbformat.v4.new_code_cell("# gpu cell: kept its committed outputs")
                client.execute_cell(placeholder, index)  # nbclient stores it at nb.cells[index]
                cell.execution_count = placeholder.execution_count
                nb.cells[index] = cell
                continue
            client.execute_cell(cell, index)
            cell.metadata.pop("execution", None)
            if is_gpu_cell(cell) and gpu_run:
                cell.metadata.setdefault("celib", {})["gpu_run"] = gpu_run
    nb.metadata = nbformat.from_dict({**nb.metadata, **KERNEL_METADATA})
    nb.metadata.get("language_info", {}).pop("version", None)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all in _toc.yml)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    run_gpu = gpu_cells_enabled()
    print(f"gpu cells: {'run' if run_gpu else 'kept as committed (no CUDA)'}")
    for path in paths:
        start = time.perf_counter()
        execute_notebook(path, run_gpu)
        print(f"{path.relative_to(ROOT)}: executed in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
