"""The maintainer tools: the GPU switch and re-execution that keeps GPU outputs."""

import nbformat
import pytest

from tools.notebooks import gpu_cells_enabled, is_install_cell
from tools.run_notebooks import execute_notebook


@pytest.mark.parametrize("mode, expected", [("on", True), ("off", False), ("OFF", False)])
def test_gpu_switch(monkeypatch, mode, expected):
    monkeypatch.setenv("CELIB_GPU_CELLS", mode)
    assert gpu_cells_enabled() is expected


def test_gpu_switch_rejects_unknown_mode(monkeypatch):
    monkeypatch.setenv("CELIB_GPU_CELLS", "maybe")
    with pytest.raises(ValueError, match="CELIB_GPU_CELLS must be auto, on or off; got 'maybe'"):
        gpu_cells_enabled()


def test_reexecution_keeps_gpu_outputs_and_counts(tmp_path):
    nb = nbformat.v4.new_notebook()
    gpu_cell = nbformat.v4.new_code_cell("raise RuntimeError('must not run without CUDA')")
    gpu_cell.metadata["tags"] = ["gpu", "skip-execution"]
    gpu_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="from the GPU run\n")]
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), gpu_cell, nbformat.v4.new_code_cell("print(x + 1)")]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, path)

    execute_notebook(path, run_gpu_cells=False)

    install, *cells = nbformat.read(path, as_version=4).cells
    assert is_install_cell(install)  # make notebooks puts it first
    assert [c.execution_count for c in [install, *cells]] == [1, 2, 3, 4]
    assert cells[1].metadata["tags"] == ["gpu", "skip-execution"]
    assert cells[1].outputs[0]["text"] == "from the GPU run\n"
    assert cells[2].outputs[0]["text"] == "2\n"
