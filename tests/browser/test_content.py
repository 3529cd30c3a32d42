"""What a reader reads: no raw markup, typeset math, links that read as prose, no build paths,
honest GPU cells and proper figures, on every page at desktop and phone width."""

from __future__ import annotations

import json
import re

import pytest
from checks import check
from harness import ROOT, SITE

GPU_NAME = re.compile(
    r"NVIDIA|GeForce|RTX|Tesla|Quadro|AMD|Radeon|Instinct|Apple M\d|\b[AHLTBV]\d{1,3}\b|\bGH\d+\b|\bMI\d+"
)
TORCH_VERSION = re.compile(r"(?:PyTorch|torch)\W{0,3}\d+\.\d+")
NOT_RUN = re.compile(
    r"not (?:yet )?(?:been )?(?:run|executed)|never (?:been )?run|without (?:a )?(?:CUDA )?GPU"
    r"|尚未在 ?GPU ?上运行|没有在 ?GPU ?上运行",  # the Chinese edition's note (tools/book_site.py)
    re.I,
)
FILE_NAME_ALT = re.compile(r"(?:^|/)[\w.-]+\.(?:png|jpe?g|svg|gif|webp)$|^[0-9a-f]{12,}", re.I)
FIG_NUMBER = re.compile(r"\b(?:Fig\.|Figure)\s*\d+|图\s*\d+", re.I)


def test_no_raw_markup_in_prose(view):
    """reST/MyST/LaTeX that did not render: `.. py:function::`, `:math:`, `{doc}`, ``` ``` ```, `\\texttt`."""
    hits = [h for h in view.probe["raw"] if h["kind"] != "stray $"]
    check(
        view.where,
        "raw markup in rendered prose (outside code and math)",
        [f"{h['kind']} {h['match']!r} in {h['where']}: “{h['text']}”" for h in hits],
    )


def test_no_stray_dollar_in_prose(view):
    """A `$` in prose is math that was not parsed (the book has no currency)."""
    blocks: dict[tuple[str, str], int] = {}
    for h in view.probe["raw"]:
        if h["kind"] == "stray $":
            blocks[(h["where"], h["context"])] = blocks.get((h["where"], h["context"]), 0) + 1
    check(
        view.where,
        "literal '$' in prose (math delimiters that did not render), by paragraph",
        [f"{n} × '$' in {where}: “{context}”" for (where, context), n in blocks.items()],
    )


def test_math_is_typeset(view):
    """Every `.math` element became an `mjx-container`; no `mjx-merror`; no TeX printed as text."""
    math = view.probe["math"]
    problems = []
    if math["count"] and not math["mathjax"]:
        problems.append(f"the page has {math['count']} .math elements but MathJax did not load")
    problems += [f"not typeset: {m['where']}: {m['tex']}" for m in math["unrendered"]]
    problems += [f"MathJax error {m['message']!r} in {m['where']}: {m['tex']}" for m in math["errors"]]
    problems += [f"TeX shown literally as {m['shown']!r} in {m['where']}: {m['tex']}" for m in math["literal_tex"]]
    check(view.where, "math that is not typeset", problems)


def test_link_text_reads_as_prose(view):
    """The words around a link do not repeat its text ("exercise Exercise 5",
    "The memory wall of The memory wall of large vocabularies")."""
    check(
        view.where,
        "link text repeats the words around it",
        [
            f"{h['where']}: repeats {h['repeated']!r} {h['side']} the link: “…{h['context']}…”"
            for h in view.probe["links"]
        ],
    )


def test_no_build_machine_paths(view):
    """No absolute path of the machine that built or executed the book, in any text or link."""
    check(
        view.where,
        "build-machine paths in the page",
        [f"{h['match']!r} in {h['where']}: “{h['text']}”" for h in view.probe["paths"]],
    )


def test_gpu_cells_have_output_or_note(view):
    """A `gpu` cell either has output and a `.gpu-note` naming the GPU and PyTorch version, or a
    visible `.gpu-note` saying it needs a CUDA GPU and has not been run on one yet."""
    problems = []
    for cell in view.probe["gpu"]:
        notes = [n["text"] for n in cell["notes"] if n["visible"]]
        label = f"gpu cell {cell['index'] + 1} ({cell['where']}: `{cell['code']}`)"
        if cell["has_output"]:
            if not any(GPU_NAME.search(t) and TORCH_VERSION.search(t) for t in notes):
                problems.append(
                    f"{label} has output but no visible .gpu-note naming the GPU and the PyTorch version"
                    f" (notes: {notes or 'none'})"
                )
        elif not any(re.search(r"CUDA|GPU", t) and NOT_RUN.search(t) for t in notes):
            problems.append(
                f"{label} has no output and no visible .gpu-note saying it needs a CUDA GPU and has not"
                f" been run on one (notes: {notes or 'none'})"
            )
    check(view.where, "gpu cells that neither show output nor say why", problems)


def _notebook_gpu_cells(page: str) -> int | None:
    stem = page.removesuffix(".html")
    path = ROOT / f"{stem}.ipynb"
    if not path.exists():
        return None
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "gpu" in c.get("metadata", {}).get("tags", []))


@pytest.mark.viewports("desktop")
def test_every_gpu_cell_is_marked_in_the_page(view):
    """Each cell tagged `gpu` in the notebook is rendered as `div.cell.tag_gpu` (the hook of the note)."""
    expected = _notebook_gpu_cells(view.page) if view.edition == "en" else None
    if expected is None:
        return
    rendered = len(view.probe["gpu"])
    check(
        view.where,
        "gpu cells of the notebook not rendered as div.cell.tag_gpu",
        [f"the notebook has {expected} cells tagged gpu, the page shows {rendered} div.cell.tag_gpu"]
        if rendered != expected
        else [],
    )


def test_images_have_alt_caption_and_2x(view):
    """Each content image loads, has an alt text that describes it, sits in a numbered figure
    with a caption, and is served at 2x (naturalWidth >= 1.5 x its width on screen)."""
    problems = []
    for img in view.probe["images"]:
        name = (img["src"] or "").rsplit("/", 1)[-1][:24]
        label = f"{img['where']} {name}"
        alt = (img["alt"] or "").strip()
        if not img["loaded"]:
            problems.append(f"{label}: did not load")
            continue
        if not alt:
            problems.append(f"{label}: no alt text")
        elif FILE_NAME_ALT.search(alt) or len(alt.split()) < 3:
            problems.append(f"{label}: alt text is not a description: {alt[:70]!r}")
        if not img["in_figure"]:
            problems.append(f"{label}: not inside a <figure>")
        elif not img["caption"]:
            problems.append(f"{label}: its figure has no <figcaption>")
        elif not FIG_NUMBER.search(img["caption"]):
            problems.append(f"{label}: caption has no figure number: {img['caption'][:60]!r}")
        if img["visible"] and not name.endswith(".svg") and img["natural_width"] < 1.5 * img["shown_width"]:
            problems.append(
                f"{label}: {img['natural_width']} px wide, shown at {img['shown_width']} px"
                f" (needs >= {1.5 * img['shown_width']:.0f} px for high-DPI screens)"
            )
    check(view.where, "image problems", problems, limit=16)


def test_no_doubled_words_in_titles_and_references(view):
    """No "Exercise Exercise 5" in a heading, solution header or caption, nor anywhere in the text
    for the words automatic titles carry (Exercise, Figure, Section, ...)."""
    check(
        view.where, "doubled words", [f"{h['match']!r} in {h['where']}: “{h['text']}”" for h in view.probe["doubled"]]
    )


def test_no_build_machine_paths_in_served_text_files(edition):
    """The search index and the page sources the site serves (downloads, search excerpts) carry
    no build-machine paths either."""
    from harness import BUILD_PATHS

    pattern = re.compile(BUILD_PATHS)
    problems = []
    files = [edition.root / "searchindex.js", *sorted((edition.root / "_sources").rglob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits = list(pattern.finditer(text))
        if hits:
            m = hits[0]
            sample = text[max(0, m.start() - 30) : m.end() + 50].replace("\\n", " ").replace("\n", " ")
            problems.append(f"{path.relative_to(edition.root)}: {len(hits)} paths, e.g. “{sample}”")
    check(edition.name, "build-machine paths in served files", problems)


def test_one_printout_box_per_cell(edition):
    """A cell that prints, computes and prints again shows its printout in one box: stream
    outputs are merged (``nb_merge_streams``), not one box per ``print`` after another output."""
    from bs4 import BeautifulSoup

    problems = []
    for page in edition.pages():
        soup = BeautifulSoup((SITE / page).read_text(encoding="utf-8"), "html.parser")
        for output in soup.select("div.cell_output"):
            streams = output.select("div.output.stream")
            if len(streams) > 1:
                first = streams[1].get_text(" ", strip=True)[:60]
                problems.append(f"{page}: {len(streams)} boxes for one cell, the second starts “{first}”")
    check(edition.name, "one cell's printout split over several boxes", problems)
