"""The translation check (tools/i18n.py): complete, current catalogs whose markup survived.

Each test writes a small template and catalog that are wrong on purpose and checks that
``compare`` (what ``python -m tools.i18n check`` runs) reports exactly that defect; the correct
catalog next to it passes, so a test cannot pass by reporting everything.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from tools.build_book import ROOT
from tools.i18n import CODE, DISPLAY_MATH, INLINE_MATH, LINK, ROLE, compare, markup_problems

GOOD = [
    ("The entropy $H(p)$ of `p`, in bits.", "`p` 的熵 $H(p)$，以比特为单位。"),
    (
        "See the {doc}`entropy chapter <entropy>` and {ref}`its exercise <ent-ex>`.",
        "见{doc}`熵一章 <entropy>`和{ref}`其练习 <ent-ex>`。",
    ),
    (
        "As {cite:t}`shannon1948` showed, $$H = -\\sum_i p_i \\log p_i$$",
        "正如 {cite:t}`shannon1948` 所示，$$H = -\\sum_i p_i \\log p_i$$",
    ),
    (
        "Version {{ version }}, see [the docs](https://pytorch.org/docs).",
        "版本 {{ version }}，见[文档](https://pytorch.org/docs)。",
    ),
]


def write_catalog(path: Path, messages: list[tuple[str, str]], fuzzy: set[str] = frozenset(), obsolete=()) -> None:
    catalog = Catalog(locale="zh_CN")
    for msgid, msgstr in messages:
        catalog.add(msgid, msgstr, flags={"fuzzy"} if msgid in fuzzy else ())
    for msgid, msgstr in obsolete:
        catalog.obsolete[msgid] = catalog.add(msgid, msgstr)
        del catalog[msgid]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, include_previous=False)


def check(tmp_path: Path, messages, template=None, **kwargs):
    """The one page's status when its catalog holds ``messages`` (template: the English msgids)."""
    templates, catalogs = tmp_path / "pot", tmp_path / "po"
    write_catalog(templates / "book" / "page.pot", [(m, "") for m in template or [m for m, _ in messages]])
    write_catalog(catalogs / "book" / "page.po", messages, **kwargs)
    (status,) = compare(templates, "zh_CN", catalogs)
    return status


def test_a_complete_catalog_passes(tmp_path):
    status = check(tmp_path, GOOD)
    assert status.ok and status.translated == len(GOOD), status


def test_untranslated_fuzzy_missing_and_stale_messages_fail(tmp_path):
    (a, za), (b, zb), (c, _), (d, _) = GOOD
    status = check(tmp_path, [(a, za), (b, zb), (c, "")], template=[a, b, c, d], fuzzy={b})
    assert not status.ok
    assert (status.translated, status.fuzzy, status.untranslated, status.missing) == (1, [b], [c], [d])
    status = check(tmp_path, [(a, za)], template=[a], obsolete=[(b, zb)])
    assert status.stale == [b] and not status.ok


BROKEN = {
    "inline math changed": ("The entropy $H(p)$ of `p`.", "`p` 的熵 $H(q)$。", "math: H(p)"),
    "inline math lost its dollars": ("The entropy $H(p)$ of `p`.", "`p` 的熵 H(p)。", "math: H(p)"),
    "display math changed": ("So $$H = -\\sum_i p_i$$", "所以 $$H = \\sum_i p_i$$", "display math: H = -\\sum_i p_i"),
    "inline code translated": ("Call `F.cross_entropy` here.", "在这里调用 `F.交叉熵`。", "code: F.cross_entropy"),
    "code lost its backticks": ("Call `F.cross_entropy` here.", "调用 F.cross_entropy。", "code: F.cross_entropy"),
    "doc target changed": ("The {doc}`entropy chapter <entropy>`.", "{doc}`熵 <entropy_zh>`。", "{doc}`… <entropy>`"),
    "ref role dropped": ("See {ref}`ent-ex`.", "见练习 ent-ex。", "{ref}`ent-ex`"),
    "cite key changed": ("As {cite:p}`shannon1948`.", "如 {cite:p}`shannon1949`。", "{cite:p}`shannon1948`"),
    "term role lost": ("The {term}`logits` are raw.", "logits 是原始分数。", "{term}`logits`"),
    "link target changed": (
        "See [the docs](https://a.org/x).",
        "见[文档](https://a.org/y)。",
        "link target: https://a.org/x",
    ),
    "substitution translated": ("Version {{ version }}.", "版本 {{ 版本 }}。", "substitution: version"),
    "one of two spans lost": ("$p$ and $p$.", "$p$ 和 p。", "math: p (needed 2, found 1)"),
    "unpaired dollar": ("The loss $\\ell$.", "损失 $\\ell$ 和 $。", "unpaired $"),
}


@pytest.mark.parametrize("msgid, msgstr, defect", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_markup_fails(tmp_path, msgid, msgstr, defect):
    status = check(tmp_path, [(msgid, msgstr)])
    assert not status.ok and status.translated == 1
    assert len(status.broken) == 1 and defect in status.broken[0], status.broken


def test_translated_link_and_role_titles_pass():
    """The title of a link or of a titled role is prose: translating it is the point."""
    assert markup_problems("The {doc}`entropy chapter <entropy>`.", "{doc}`熵那一章 <entropy>`。") == []
    assert markup_problems("See [the docs](https://a.org/x).", "参见[官方文档](https://a.org/x)。") == []
    assert markup_problems("$p$, then `q`.", "先是 `q`，然后 $p$。") == []  # reordered is fine
    assert markup_problems("A $x\n+ y$ span.", "一个 $x + y$ 的式子。") == []  # rewrapped is fine


def test_every_row_of_the_terminology_table_has_three_fields():
    """A note whose math holds a comma (``\\,``) must be quoted, or the row splits and the build fails."""
    table = ROOT / "locales" / "zh_CN" / "terminology.csv"
    with table.open(encoding="utf-8", newline="") as f:
        widths = {number: len(row) for number, row in enumerate(csv.reader(f), 1)}
    assert {number: width for number, width in widths.items() if width != 3} == {}


# --- rules over the committed catalogs ----------------------------------------------------------


def committed_messages() -> list[tuple[str, str, str]]:
    """(page, msgid, msgstr) of every translated message of the Chinese page catalogs."""
    from babel.messages.pofile import read_po

    messages = []
    for po in sorted((ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "book").glob("*.po")):
        with po.open("rb") as f:
            messages += [(po.stem, m.id, m.string) for m in read_po(f) if m.id and m.string]
    return messages


def test_one_english_message_has_one_translation_on_every_page():
    """Exercises 35 and 58 have the same English title: the reader meets the same Chinese one."""
    translations: dict[str, dict[str, str]] = {}
    for page, msgid, msgstr in committed_messages():
        translations.setdefault(msgid, {})[page] = msgstr
    assert {m: t for m, t in translations.items() if len(set(t.values())) > 1} == {}


# A straight quote that opens a word right after Chinese text or an opening bracket: Sphinx's
# smart quotes see no space before it and print a closing quote (’none’). Inline code keeps it.
MISREAD_QUOTE = re.compile(r"(?:^|(?<=[^\s\w]))['\"](?=\w)|(?<=[\u3400-\u9fff])['\"](?=\w)")


def test_no_straight_quote_that_smart_quotes_would_turn_the_wrong_way():
    problems = []
    for page, _, msgstr in committed_messages():
        prose = msgstr
        for pattern in (ROLE, CODE, DISPLAY_MATH, INLINE_MATH, LINK):
            prose = pattern.sub(" ", prose)
        problems += [f"{page}: …{prose[max(0, m.start() - 12) : m.end() + 12]}…" for m in MISREAD_QUOTE.finditer(prose)]
    assert problems == []


# Words that may stand in \text{} inside math: units, and names the code spells the same way in
# both editions (argument and reduction names, data values, abbreviations). Anything else is
# English the Chinese edition cannot translate (math is kept verbatim): it belongs in the prose
# around the formula, or becomes a symbol the prose defines.
MATH_TEXT_ALLOWED = {
    *("bit", "bits", "nat", "nats", "bytes", "MiB"),
    *("input", "target", "mean", "init", "full", "focal", "test", "max", "NaN", "clouds", "const"),
    *("MM", "CE", "SE"),
}
MATH_TEXT = re.compile(r"\\(?:text|textrm|mbox)\{([^{}]*)\}")


def test_math_in_the_chapters_holds_no_english_words():
    import nbformat

    from tools.notebooks import toc_notebooks

    problems = []
    for path in toc_notebooks():
        for number, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "markdown":
                continue
            inline = INLINE_MATH.finditer(DISPLAY_MATH.sub(" ", cell.source))
            for math in (*DISPLAY_MATH.finditer(cell.source), *inline):
                words = [w.strip() for w in MATH_TEXT.findall(math["content"])]
                problems += [f"{path.name} cell {number}: \\text{{{w}}}" for w in words if w not in MATH_TEXT_ALLOWED]
    assert problems == []
