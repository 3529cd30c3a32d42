"""The whole-book PDF of each edition (``make pdf``, tools/pdf.py), checked against the built HTML
it was printed from: ``_build/pdf/book.pdf`` from the English site, ``book-zh_CN.pdf`` from the
Chinese one. Every check runs once per edition (``harness.EDITIONS``).

Run after ``make book`` and ``make pdf`` (``make pdf-test``; ``make browser-test`` runs it too).
Text is extracted with pypdf, in the order Chromium wrote it. Chromium does not write the glyphs
of a clipped box, so a code line, output line or table cell that was cut at the margin is
missing from the text: comparing every such line of the HTML with the PDF's text finds it.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from harness import EDITIONS, ROOT
from pypdf import PdfReader

import celib
from tools.notebooks import toc_files
from tools.pdf import STRINGS

PDFS = ROOT / "_build" / "pdf"
# TeX that only an untypeset formula would leave in the text (beyond what code shows literally).
TEX_MARKERS = ["\\(", "\\[", "$$", "\\frac", "\\sum", "\\mathrm", "\\log", "\\left"]


def squash(text: str) -> str:
    """Text without whitespace (wrapping a line only adds whitespace) and ligatures (ﬁ: fi)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def words(element) -> str:
    return " ".join(element.get_text().split())


@pytest.fixture(scope="module", params=[pytest.param(e, id=e.name) for e in EDITIONS])
def printed(request):
    """The edition whose PDF is checked (``harness.Edition``); its site is ``printed.root``."""
    return request.param


def pdf_of(edition) -> Path:
    """Where ``make pdf`` writes an edition's PDF: book.pdf for English, book-<name>.pdf for another."""
    return PDFS / ("book.pdf" if edition.name == "en" else f"book-{edition.name}.pdf")


@pytest.fixture(scope="module")
def reader(printed) -> PdfReader:
    pdf = pdf_of(printed)
    if not pdf.exists():
        pytest.fail(f"{pdf} is missing: run `make book` and `make pdf` first")
    return PdfReader(pdf)


def root_page(printed) -> BeautifulSoup:
    return BeautifulSoup((printed.root / f"{toc_files()[0]}.html").read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def texts(reader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


@pytest.fixture(scope="module")
def body_text(texts) -> str:
    """The text of every numbered page, without its page number."""
    return "\n".join(text.rstrip().rpartition("\n")[0] for text in texts[1:])


@pytest.fixture(scope="module")
def pages(texts) -> list[str]:
    """Each numbered page's text without its page number, squashed."""
    return [squash(text.rstrip().rpartition("\n")[0]) for text in texts[1:]]


@pytest.fixture(scope="module")
def body(pages) -> str:
    return "".join(pages)


def split_over_pages(piece: str, pages: list[str]) -> bool:
    """A wrapped line that ends at the foot of a page and goes on on the next one: Chromium may
    write the rest after other text of that next page."""
    return any(
        pages[i].endswith(piece[:k]) and piece[k:] in pages[i + 1]
        for i in range(len(pages) - 1)
        for k in range(1, len(piece))
    )


@pytest.fixture(scope="module")
def articles(printed) -> dict[str, BeautifulSoup]:
    result = {}
    for name in toc_files():
        article = BeautifulSoup((printed.root / f"{name}.html").read_text(encoding="utf-8"), "html.parser").select_one(
            "article"
        )
        for link in article.select("a.headerlink"):
            link.decompose()
        result[name] = article
    return result


@pytest.fixture(scope="module")
def titles(articles) -> list[str]:
    return [words(article.h1) for article in articles.values()]


def test_cover_has_title_version_and_date_and_no_page_number(printed, texts):
    cover = squash(texts[0])
    assert squash(root_page(printed).select_one(".logo__title").get_text()) in cover
    assert squash(celib.__version__) in cover
    assert re.search(r"\d{4}-\d{2}-\d{2}", cover), "no build date on the cover"
    assert not texts[0].rstrip().rpartition("\n")[2].strip().isdigit(), "the cover has a page number"


def test_page_count_is_plausible(reader, texts, articles):
    # The book prints about 1,600 characters of its HTML per page (figures included); a page of
    # dense code holds at most about 4,000. Far fewer means blank or giant pages, far more
    # means lost content.
    assert len(reader.pages) > 2 * len(articles)
    html_chars = sum(len(squash(article.get_text())) for article in articles.values())
    per_page = html_chars / (len(reader.pages) - 1)
    assert 800 < per_page < 5_000, f"{per_page:.0f} characters of the HTML per PDF page"


def test_every_page_after_the_cover_shows_its_number(reader, texts):
    missing = [i for i, text in enumerate(texts[1:], start=1) if text.rstrip().rpartition("\n")[2].strip() != str(i)]
    assert not missing, f"pages without their number at the foot: {missing[:20]}"
    assert reader.page_labels[1:4] == ["1", "2", "3"]


def test_every_chapter_in_toc_order_in_the_outline_and_the_contents(reader, texts, titles):
    outline, flat = reader.outline, []
    for item in outline:
        flat.extend(item if isinstance(item, list) else [item])
    starts = {item["/Title"]: reader.get_destination_page_number(item) for item in flat}
    in_outline = [item["/Title"] for item in flat if item["/Title"] in titles]
    assert in_outline == titles, "the outline does not list every chapter in toc order"
    pages = [starts[title] for title in titles]
    assert pages == sorted(pages), "the chapters are not printed in toc order"
    contents = "".join(squash(text) for text in texts[1 : pages[0]])
    for title, page in zip(titles, pages):
        assert squash(title) in squash(texts[page]), (
            f"{title!r} is not on page {page}, where the outline says it starts"
        )
        assert squash(title) + str(page) in contents, f"the contents do not list {title!r} on page {page}"


def test_every_code_line_output_line_and_table_cell_is_printed_whole(body, pages, articles):
    missing, position = [], 0
    for name, article in articles.items():
        pieces = [line for pre in article.select("pre") for line in pre.get_text().splitlines()]
        pieces += [words(cell) for cell in article.select("td, th") if not cell.select(".math")]
        for piece in filter(None, map(squash, pieces)):
            found = body.find(piece, position)
            if found >= 0:  # in reading order: the usual case, and fast
                position = found + len(piece)
            elif piece not in body and not split_over_pages(piece, pages):
                missing.append(f"{name}: {piece[:100]}")
    assert not missing, f"{len(missing)} lines cut or missing, e.g.:\n" + "\n".join(missing[:15])


def test_math_is_typeset(body_text, articles):
    code = "".join(element.get_text() for article in articles.values() for element in article.select("pre, code"))
    raw = {marker: body_text.count(marker) for marker in TEX_MARKERS if body_text.count(marker) > code.count(marker)}
    assert not raw, f"TeX in the PDF text beyond what code shows: {raw}"


def test_solutions_are_printed_open(body, articles):
    solutions = [(name, s) for name, article in articles.items() for s in article.select(".solution")]
    assert solutions, "the book has exercise solutions: the selector is stale"
    hidden = []
    for name, solution in solutions:
        prose = [
            text
            for text in solution.find_all(string=True)
            if not text.find_parent(["pre", "code"]) and not text.find_parent(class_=["math", "admonition-title"])
        ]
        sample = squash(max(prose, key=lambda text: len(squash(text))))  # the longest run of plain prose
        if sample not in body:
            hidden.append(f"{name}: {words(solution.select_one('.admonition-title'))}")
    assert not hidden, f"{len(hidden)} of {len(solutions)} solutions are not printed, e.g. {hidden[:5]}"


def test_links_stay_in_the_pdf_or_point_outside(reader):
    internal, local = 0, []
    destinations = reader.named_destinations
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if "/Dest" in annotation:
                assert annotation["/Dest"] in destinations, f"link to a missing destination {annotation['/Dest']}"
                internal += 1
            elif "/A" in annotation and "/URI" in annotation["/A"]:
                url = urlsplit(annotation["/A"]["/URI"])
                if url.scheme not in {"http", "https", "mailto"} or url.hostname in {"127.0.0.1", "localhost"}:
                    local.append(annotation["/A"]["/URI"])
    assert not local, f"links to this machine: {local[:10]}"
    assert internal > 100, "the cross-references between chapters were not kept as internal links"


def test_no_site_chrome(printed, body):
    root = root_page(printed)
    chrome = [squash(words(p)) for p in root.select("footer.bd-footer-content p") if len(words(p)) > 20]
    assert chrome, "the site's footer has text: the selector is stale"
    assert not [text for text in chrome if text in body], "the web page's footer is printed"


def test_contents_are_headed_in_the_language_of_the_edition(printed, texts):
    lang = root_page(printed).html["lang"]
    heading = squash(STRINGS[lang]["contents"])
    assert squash(texts[1]).startswith(heading), f"the contents do not start with {heading!r}: {texts[1][:60]!r}"


def test_every_chapter_prose_is_printed_as_text(body, articles):
    """The first paragraph of every chapter (its first without math, which the PDF has typeset)
    is in the PDF's text: prose is printed as text, in the edition's script, not as pictures of
    glyphs. Each chapter starts on a new page, so its first paragraph is not split by a page end."""
    missing = []
    for name, article in articles.items():
        first = squash(next(p.get_text() for p in article.select("p") if not p.select(".math")))
        if first not in body:
            missing.append(f"{name}: {first[:60]}")
    assert not missing, f"{len(missing)} chapters' first paragraph is not in the text, e.g. {missing[:5]}"


#: Chinese characters and the radicals that look like them (CJK Radicals Supplement, Kangxi
#: Radicals, CJK symbols and punctuation, unified and compatibility ideographs, full-width forms).
CJK = re.compile(r"[\u2e80-\u2fdf\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def test_chinese_characters_are_those_of_the_html(printed, texts, articles):
    """Every Chinese character of the PDF's text is one the pages have: a character that only
    looks the same (the Kangxi radical ⼀ U+2F00 for 一 U+4E00, which a font's shared glyph gives)
    makes the PDF unsearchable for the words that hold it and garbles what a reader copies
    (tools/pdf.py's ``map_shared_glyphs`` maps the glyphs Noto CJK shares back to the ideographs)."""
    html = "".join(article.get_text() for article in articles.values())
    html += root_page(printed).get_text() + "".join("".join(row.values()) for row in STRINGS.values())
    known = set(CJK.findall(html))
    strangers: dict[str, int] = {}
    for text in texts:
        for char in CJK.findall(text):
            if char not in known:
                strangers[char] = strangers.get(char, 0) + 1
    found = sorted(strangers.items(), key=lambda item: -item[1])
    assert not strangers, (
        f"{sum(strangers.values())} Chinese characters of the PDF's text are not the pages' ones: "
        + ", ".join(f"{c} U+{ord(c):04X} ({unicodedata.name(c, '?')}, {n}x)" for c, n in found[:8])
    )
