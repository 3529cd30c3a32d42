"""Hygiene of the book's notebooks: the rules that keep committed outputs honest.

nbval (``make nbval``) proves that a fresh run reproduces every committed output; these tests
check what nbval cannot see: that the outputs came from one clean top-to-bottom run, that errors
appear only where a cell says it expects one, and that GPU cells stay optional.
"""

import ast
import re

import nbformat
import pytest

from tools.notebooks import ROOT, is_gpu_cell, toc_files, toc_notebooks

NOTEBOOKS = toc_notebooks()
IDS = [path.stem for path in NOTEBOOKS]


def code_cells(path):
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def test_every_toc_entry_exists():
    missing = [name for name in toc_files() if not any((ROOT / f"{name}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing


def test_every_book_notebook_is_in_the_toc():
    listed = set(NOTEBOOKS)
    stray = [p for p in (ROOT / "book").rglob("*.ipynb") if p not in listed and ".ipynb_checkpoints" not in p.parts]
    assert not stray, "notebooks outside _toc.yml are neither built nor tested"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_executed_once_in_order(path):
    counts = [cell.execution_count for cell in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), "re-run with `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_errors_only_where_expected(path):
    for index, cell in enumerate(code_cells(path)):
        errors = [out for out in cell.outputs if out.output_type == "error"]
        expects_error = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors) == expects_error or is_gpu_cell(cell), f"code cell {index}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_timing_or_address_in_checked_outputs(path):
    volatile = re.compile(r"0x[0-9a-f]{6,}|\b\d+(\.\d+)? ?(ms|µs|us|ns)\b")
    for index, cell in enumerate(code_cells(path)):
        if "nbval-ignore-output" in cell.metadata.get("tags", []) or is_gpu_cell(cell):
            continue
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        assert not volatile.search(text), f"code cell {index}: tag it nbval-ignore-output or print no timings"


def names_defined(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def names_loaded(tree):
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def parse(cell):
    source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return ast.parse(source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_gpu_cells_define_nothing_later_cells_use(path):
    cells = code_cells(path)
    for index, cell in enumerate(cells):
        if not is_gpu_cell(cell):
            continue
        gpu_names = names_defined(parse(cell))
        defined_elsewhere = set()
        for later in cells[:index] + cells[index + 1 :]:
            if not is_gpu_cell(later):
                defined_elsewhere |= names_defined(parse(later))
        for later in cells[index + 1 :]:
            if is_gpu_cell(later):
                continue
            leaked = (names_loaded(parse(later)) & gpu_names) - defined_elsewhere
            assert not leaked, f"gpu cell {index} defines {sorted(leaked)}, used by a later CPU cell"


def test_book_has_a_gpu_cell():
    assert any(is_gpu_cell(cell) for path in NOTEBOOKS for cell in code_cells(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_markdown_trapped_in_code_cells(path):
    """A lost markdown marker turns prose (headings, exercise directives) into code comments."""
    trapped = re.compile(r"^# (#{1,4} \S|```\{)", re.MULTILINE)
    for index, cell in enumerate(code_cells(path)):
        assert not trapped.search(cell.source), f"code cell {index} holds markdown in comments"


def undemonstrated_entries(cells):
    """The ``##`` sections of a gallery notebook with no executed (non-GPU) cell that asserts."""
    entries, current = {}, None
    for cell in cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    current = line[3:].strip()
                    entries[current] = False
        elif current is not None and cell.execution_count is not None and not is_gpu_cell(cell):
            entries[current] |= bool(re.search(r"^\s*assert\b", cell.source, re.MULTILINE))
    endings = {"Myths", "Summary", "Exercises", "References"}
    return [name for name, demonstrated in entries.items() if name not in endings and not demonstrated]


def test_every_pitfall_runs_its_mistake_and_asserts_its_fix():
    """Each ``##`` entry of the pitfalls gallery backs its claim with a cell that asserts it.

    (The gallery's size, "at least 20 pitfalls", was an acceptance criterion of the issue that
    created it, checked once; what must stay true is that no entry is an unchecked claim.)
    """
    cells = nbformat.read(ROOT / "book" / "pitfalls.ipynb", as_version=4).cells
    assert not undemonstrated_entries(cells)


def test_an_entry_without_an_assert_is_reported():
    cell = nbformat.v4.new_code_cell("print('mistake')", execution_count=1)
    cells = [nbformat.v4.new_markdown_cell("## A pitfall"), cell, nbformat.v4.new_markdown_cell("## Summary")]
    assert undemonstrated_entries(cells) == ["A pitfall"]


#: The longest printed line that fits an output box of the book's pages without scrolling.
OUTPUT_WIDTH = 88


def long_output_lines(cells, width=OUTPUT_WIDTH):
    """(cell number, length) of each printed line wider than ``width``, outside GPU cells and
    cells tagged ``wide-output`` (verbatim text PyTorch writes: source code, graphs, warnings)."""
    long = []
    for number, cell in enumerate(cells, 1):
        if is_gpu_cell(cell) or "wide-output" in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            stream = output.output_type == "stream"
            text = output.get("text", "") if stream else output.get("data", {}).get("text/plain", "")
            long += [(number, len(line)) for line in text.splitlines() if len(line) > width]
    return long


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_printed_lines_fit_the_output_box(path):
    assert not long_output_lines(code_cells(path)), "wrap the print, or tag verbatim output wide-output"


def test_a_long_printed_line_is_reported():
    cell = nbformat.v4.new_code_cell("print('x' * 89)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 89 + "\n")]
    assert long_output_lines([cell]) == [(1, 89)]
    cell.metadata["tags"] = ["wide-output"]
    assert long_output_lines([cell]) == []
