"""Which notebooks make up the book, and whether their GPU cells can run here.

Shared by the re-execute command (``tools/run_notebooks.py``), the nbval hook in
``conftest.py`` and the hygiene tests, so all three agree on the same list and the same rule.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GPU_TAG = "gpu"
INSTALL_TAG = "install-celib"


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file:``/``root:`` entry of ``_toc.yml``, in reading order, without extension."""
    toc = yaml.safe_load(toc_path.read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def toc_notebooks(toc_path: Path = ROOT / "_toc.yml") -> list[Path]:
    """The ``.ipynb`` chapters listed in ``_toc.yml``, in reading order."""
    paths = [ROOT / f"{name}.ipynb" for name in toc_files(toc_path)]
    return [path for path in paths if path.exists()]


def is_gpu_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and GPU_TAG in cell.get("metadata", {}).get("tags", [])


def gpu_cells_enabled() -> bool:
    """Whether cells tagged ``gpu`` should run: ``CELIB_GPU_CELLS`` = auto (default), on or off.

    ``auto`` runs them exactly when ``torch.cuda.is_available()``.
    """
    mode = os.environ.get("CELIB_GPU_CELLS", "auto").lower()
    if mode not in {"auto", "on", "off"}:
        raise ValueError(f"CELIB_GPU_CELLS must be auto, on or off; got {mode!r}")
    if mode == "auto":
        import torch

        return torch.cuda.is_available()
    return mode == "on"


def repository_url(config_path: Path = ROOT / "_config.yml") -> str:
    """The book's repository URL: the one setting ``repository.url`` of ``_config.yml``."""
    return (yaml.safe_load(config_path.read_text()).get("repository") or {}).get("url") or ""


def install_cell_source(url: str) -> str:
    """The first cell of every chapter: installs celib where it is missing (Colab, Binder).

    In the book's environment celib is importable and the cell does nothing. Without a
    repository URL there is nothing to install from, and it says how to get celib instead.
    """
    if url:
        action = f'    get_ipython().run_line_magic("pip", "install --quiet celib@git+{url}")'
    else:
        action = (
            "    raise ModuleNotFoundError(\n"
            '        "this chapter needs celib: clone the book\'s repository and run `make install`"\n'
            "    )"
        )
    return (
        "# Outside the book's environment (Colab, Binder) this installs the companion package celib;\n"
        "# where celib is already importable it does nothing.\n"
        "import importlib.util\n\n"
        'if importlib.util.find_spec("celib") is None:\n' + action
    )


def is_install_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and INSTALL_TAG in cell.get("metadata", {}).get("tags", [])
