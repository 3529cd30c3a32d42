"""The error index (book/errors.md) lists every error and warning message the book prints.

A reader who pastes a message into the search box should land on the index and from there on
its explanation. The messages are read from the executed notebooks of the toc: the
``ename: evalue`` line that ends the error output of a ``raises-exception`` cell, each
``Category: message`` line that a cell prints to stderr (a warning the kernel shows, see
tools/ipython), and each line of a cell's stdout that starts with ``SomeError: `` or
``SomeWarning: `` (an exception or warning that the cell caught and printed, with the lines
it was wrapped onto). Each must
appear on the index page verbatim, as a code span, on a line that links to its explanation.
"""

from __future__ import annotations

import re
import textwrap

import nbformat
import pytest

from tools.notebooks import ROOT, toc_notebooks

INDEX = ROOT / "book" / "errors.md"
NOTEBOOKS = toc_notebooks()
WARNING_LINE = re.compile(r"^([A-Za-z]*Warning): (.+)$")
WRAP_FILLED = 80  # a printed line longer than this was wrapped by textwrap.fill(..., 88)
CAUGHT_LINE = re.compile(r"^([A-Za-z]*(?:Error|Warning|Exception)): (.+)$")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
LABEL = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$", re.MULTILINE)
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?(?P<label>[\w-]+)>?`")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def normalise(text: str) -> str:
    """Collapse whitespace (line breaks included) to single spaces; drop terminal colours."""
    return " ".join(ANSI.sub("", text).split())


def printed_messages(path) -> list[str]:
    """Every error line of a raises-exception cell, every warning line on stderr, and every
    caught-and-printed error or warning line on stdout."""
    messages = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error" and "raises-exception" in cell.metadata.get("tags", []):
                messages.append(normalise(f"{output.ename}: {output.evalue}"))
            elif output.output_type == "stream" and output.name == "stderr":
                for line in ANSI.sub("", output.text).splitlines():
                    if WARNING_LINE.match(line.strip()):
                        messages.append(normalise(line))
            elif output.output_type == "stream" and output.name == "stdout":
                lines = ANSI.sub("", output.text).splitlines()
                for i, line in enumerate(lines):
                    if CAUGHT_LINE.match(line.strip()):
                        messages.append(normalise(" ".join(wrapped_message(lines, i))))
    return list(dict.fromkeys(messages))


def wrapped_message(lines: list[str], start: int) -> list[str]:
    """The lines of a message printed from ``lines[start]`` on: a long message is printed with
    ``textwrap.fill(..., 88)`` (printed lines stay within 88 columns), so a line that fills the
    width (more than 80 characters) continues on the next one."""
    message = [lines[start]]
    for line in lines[start + 1 :]:
        if len(message[-1]) <= WRAP_FILLED or not line.strip():
            break
        message.append(line)
    return message


def code_spans(markdown: str) -> set[str]:
    """The text of every inline code span (any number of backticks), whitespace-normalised."""
    spans = set()
    for match in CODE_SPAN.finditer(markdown):
        text = match.group(2)
        if text.startswith(" ") and text.endswith(" ") and text.strip():
            text = text[1:-1]  # CommonMark: one space of padding is dropped
        spans.add(normalise(text))
    return spans


def index_entries(markdown: str) -> list[str]:
    """The list items of the index page, each joined into one line."""
    entries, current = [], None
    for line in markdown.splitlines():
        if line.startswith("- "):
            if current is not None:
                entries.append(current)
            current = line[2:]
        elif current is not None and line.startswith("  ") and line.strip():
            current += " " + line.strip()
        else:
            if current is not None:
                entries.append(current)
            current = None
    if current is not None:
        entries.append(current)
    return entries


def book_labels() -> set[str]:
    labels = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                labels.update(LABEL.findall(cell.source))
                labels.update(re.findall(r":label: ([\w-]+)", cell.source))
    return labels


def test_index_is_in_the_toc():
    assert INDEX.exists() and any(path.name == "errors.md" for path in (ROOT / "book").iterdir())
    assert "book/errors" in (ROOT / "_toc.yml").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_printed_message_is_on_the_index(path):
    listed = code_spans(INDEX.read_text())
    missing = [message for message in printed_messages(path) if message not in listed]
    assert not missing, (
        f"{len(missing)} message(s) printed by book/{path.name} are missing from book/errors.md "
        "(add each, verbatim as a code span, with a link to its explanation):\n"
        + "\n".join(f"  {message}" for message in missing)
    )


def test_every_entry_links_to_an_explanation():
    labels = book_labels()
    for entry in index_entries(INDEX.read_text()):
        if not code_spans(entry):
            continue
        refs = REF.findall(entry)
        assert refs or "{doc}" in entry, f"index entry without a link: {entry[:80]}"
        unknown = [label for label in refs if label not in labels]
        assert not unknown, f"index entry links to unknown label(s) {unknown}: {entry[:80]}"


def test_extraction_sees_errors_and_warnings():
    """The extraction itself: an error cell and a warning line are found, others are not."""
    nb = nbformat.v4.new_notebook()
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad\n  value", traceback=[])
    warning = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\nnoise\n")
    long_message = "UserWarning: " + "wrapped " * 12  # 109 characters, printed in two lines
    printed = textwrap.fill(long_message, 88) + "\nnext: not part of it\n"
    caught = nbformat.v4.new_output(
        "stream", name="stdout", text="  RuntimeError: caught\nresult: RuntimeError: inside\n" + printed
    )
    nb.cells = [
        nbformat.v4.new_code_cell("", metadata={"tags": ["raises-exception"]}, outputs=[error]),
        nbformat.v4.new_code_cell("", outputs=[warning, caught]),
    ]
    assert printed_messages_of(nb) == [
        "ValueError: bad value",
        "UserWarning: careful",
        "RuntimeError: caught",
        normalise(long_message),
    ]
    assert code_spans("a `x  y` and `` a `b` c `` here") == {"x y", "a `b` c"}


def printed_messages_of(nb) -> list[str]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nb.ipynb"
        nbformat.write(nb, path)
        return printed_messages(path)
