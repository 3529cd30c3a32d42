"""Print the whole built book as one PDF with headless Chromium (no TeX).

    python -m tools.pdf --site _build/html --out _build/pdf/book.pdf

Design. The chapters are concatenated into ONE print document, served next to the built site by
a local server, so that a single Chromium print gives continuous page numbers (the footer
template's ``pageNumber``) and real links between chapters. Printing each page separately and
merging would need page numbers stamped afterwards and every cross-chapter link re-targeted.

- Content: the ``<article>`` of every page of ``_toc.yml``, in toc order (``toc_files()``), so no
  sidebar, header, button or footer of the web page. Ids get the page name as prefix to stay
  unique; a link to another chapter becomes a link inside the PDF, a link to a page that is not
  in the book (index, sources) becomes plain text, an external link stays.
- Scripts: only MathJax, with the site's own configuration and local copy; printing waits until
  it has typeset everything. Without the theme's scripts nothing is collapsed by togglebutton,
  so the exercise solutions print open; ``<details>`` blocks are opened too.
- Print CSS: the site's own ``@media print`` rules (``_static/book.css``, which also serve a
  single page printed from the browser) wrap code and output lines and table cells, and stop
  math and table boxes from clipping; ``PRINT_CSS`` adds the book's page layout. A display
  equation still wider than its line is scaled down (``FIT_JS``). The build fails if MathJax
  left a formula untypeset, or if any element still sticks out of the printable width.
- Contents with page numbers, in two passes over the same loaded document: print, read where
  each chapter starts (Chromium writes a named destination for every link target, and the
  contents link to every chapter), fill the numbers in, print again, check nothing moved.
- The cover (title, author, version, build date) is printed on its own and put in front with
  pypdf, so it carries no page number: printed page n is page n of the PDF after the cover, and
  the page labels say so. pypdf also adds the outline (parts and chapters) and fixed dates.
- Text: Noto CJK draws some CJK radicals and the ideographs they look like with one shared glyph
  (the Kangxi radical ⼀ U+2F00 and 一 U+4E00), and Chromium's text layer gives such a glyph the
  radical's code point, so about one Chinese character in ten would be searched and copied as a
  radical. ``map_shared_glyphs`` rewrites the fonts' ToUnicode maps to the ideographs.
- Languages: the title, author, part captions and chapter titles come from the built pages; the
  few words this tool writes itself come from ``STRINGS``, keyed by the site's ``<html lang>``.
  Another edition is printed the same way from its own site root to its own output path.
- Offline: every request that is not for the local server is refused. The build date is
  ``SOURCE_DATE_EPOCH`` when set (as in tools/book_site.py), else today.

The PDF is also copied to ``<site>/_downloads/book.pdf``, where the site's sidebar links to it.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import io
import os
import re
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from playwright.sync_api import sync_playwright
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject

import celib
from tools.notebooks import ROOT, toc_files

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The CJK font the pages are set in (Debian's fonts-noto-cjk), and its Simplified Chinese face.
NOTO_CJK, NOTO_CJK_FACE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), "Noto Sans CJK SC"
SITE_COPY = "_downloads/book.pdf"  # where _templates/book-links.html links to, in every edition
BOOK_URL, COVER_URL = "/__book__.html", "/__cover__.html"  # served from memory, not written to the site
MARGIN_MM = {"top": 16, "bottom": 18, "left": 18, "right": 18}  # the bottom margin holds the page number
PAPER = {"format": "A4", "margin": {side: f"{mm}mm" for side, mm in MARGIN_MM.items()}}
CONTENT_WIDTH_PX = round((210 - MARGIN_MM["left"] - MARGIN_MM["right"]) / 25.4 * 96)  # A4 is 210 mm wide
FOOTER = (
    '<div style="width:100%;text-align:center;font:8pt sans-serif;color:#555"><span class="pageNumber"></span></div>'
)

# The words the tool writes itself, by the site's <html lang>. A new edition adds its row.
STRINGS = {
    "en": {"contents": "Contents", "version": "Version {}", "built": "Built {}", "cover": "Cover"},
    "zh-CN": {"contents": "目录", "version": "版本 {}", "built": "构建于 {}", "cover": "封面"},
}

PRINT_CSS = """
html { font-size: 13.5px; }
body { margin: 0; background: white; }
/* Chromium prints every shadow as a large image; the theme's admonition shadow is !important. */
*, .pdf-book .admonition { box-shadow: none !important; }
h1, h2, h3, h4 { break-after: avoid; }
.pdf-chapter { break-before: page; }
figure, img, .admonition-title, tr { break-inside: avoid; }
/* Code, outputs, tables and math wrap instead of scrolling: _static/book.css, @media print. */
a { text-decoration: none; }
/* The contents. */
.pdf-contents ol { list-style: none; padding: 0; margin: 2rem 0 0; }
.pdf-contents li.part { font-weight: 600; margin: 1.2rem 0 0.3rem; break-after: avoid; }
.pdf-contents li a { display: flex; gap: 0.4rem; color: inherit; padding: 0.15rem 0 0.15rem 1rem; }
.pdf-contents li a .leader { flex: 1; border-bottom: 1px dotted #999; margin-bottom: 0.3rem; }
/* The cover. */
.pdf-cover { display: flex; flex-direction: column; justify-content: center; height: 240mm;
             text-align: center; }
.pdf-cover h1 { font-size: 2.8rem; margin-bottom: 2rem; }
.pdf-cover p { font-size: 1.2rem; margin: 0.3rem 0; }
"""

# Scale each display equation wider than its line down to fit; list what still sticks out.
FIT_JS = """() => {
  const width = el => el.getBoundingClientRect().width;
  for (const eq of document.querySelectorAll('div.math > mjx-container[display="true"]')) {
    const others = Array.from(eq.parentElement.children).filter(el => el !== eq);  // equation numbers
    const room = eq.parentElement.clientWidth - others.reduce((sum, el) => sum + width(el), 0);
    const ratio = room / width(eq.querySelector('mjx-math'));
    if (ratio < 1) eq.style.zoom = (Math.floor(ratio * 100) / 100).toString();
  }
  const page = document.querySelector('.pdf-book').getBoundingClientRect();
  const out = el => {
    const r = el.getBoundingClientRect();
    return r.left < page.left - 1 || r.right > page.right + 1;
  };
  return Array.from(document.querySelectorAll('.pdf-chapter *'))
    .filter(el => el.getClientRects().length && !el.closest('mjx-assistive-mml') && out(el) && !out(el.parentElement))
    .map(el => `${el.closest('.pdf-chapter').id}: <${el.tagName.toLowerCase()}> ${el.textContent.slice(0, 80)}`);
}"""

MATH_JS = """async () => {
  await MathJax.startup.promise;
  await document.fonts.ready;
  return {
    untypeset: Array.from(document.querySelectorAll('.math')).filter(m => !m.querySelector('mjx-container')).length,
    errors: document.querySelectorAll('mjx-merror').length,
  };
}"""


def anchor(page: str, fragment: str = "") -> str:
    """The id of a page (``book/entropy``), or of an id inside it, unique in the whole book."""
    return f"{page}--{fragment}" if fragment else page


class Page:
    """One built page of the book, its article rewritten to sit in the print document."""

    def __init__(self, site: Path, name: str, book: set[str]):
        self.name = name
        self.soup = BeautifulSoup((site / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
        self.article = self.soup.select_one("article.bd-article")
        for link in self.article.select("a.headerlink"):
            link.decompose()
        self.title_html = self.article.h1.decode_contents().strip()
        self.title = " ".join(self.article.h1.get_text().split())
        for element in self.article.select("[id]"):
            element["id"] = anchor(name, element["id"])
        for element in self.article.select("[src]"):
            element["src"] = self.site_path(element["src"])
        for link in self.article.select("a[href]"):
            url = urlsplit(self.site_path(link["href"]))
            if url.scheme or url.netloc:
                continue  # an external link stays
            target = self.page_name(url.path)
            if target in book:
                link["href"] = "#" + anchor(target, url.fragment)
            else:
                link.unwrap()  # the index, sources, downloads: not in the PDF
        for span in self.article.select("td code span.pre"):  # a long path in a table breaks after a /
            *folders, last = span.get_text().split("/")
            span.clear()
            for folder in folders:
                span.extend([folder + "/", self.soup.new_tag("wbr")])
            span.append(last)

    def site_path(self, ref: str) -> str:
        """A link or source of this page as an absolute path on the site (or a full URL)."""
        return urljoin(f"/{self.name}.html", ref)

    @staticmethod
    def page_name(path: str) -> str:
        return path.lstrip("/").removesuffix(".html")

    def text(self, selector: str) -> str:
        element = self.soup.select_one(selector)
        return " ".join(element.get_text().split()) if element else ""

    def part_captions(self) -> dict[str, str]:
        """The toc's part captions, from the sidebar, keyed by the first page of each part."""
        captions = {}
        for caption in self.soup.select("nav.bd-docs-nav p.caption"):
            first = caption.find_next_sibling("ul").select_one("a[href]")
            captions[self.page_name(urlsplit(self.site_path(first["href"])).path)] = caption.get_text(strip=True)
        return captions

    def head(self) -> str:
        """This page's stylesheets and MathJax (configuration and local script), then the print CSS."""
        parts = ['<meta charset="utf-8">']
        for link in self.soup.select('head link[rel="stylesheet"]'):
            parts.append(f'<link rel="stylesheet" href="{self.site_path(link["href"])}">')
        for script in self.soup.select("head script"):
            if "mathjax" in script.get("src", "").lower():
                parts.append(f'<script defer src="{self.site_path(script["src"])}"></script>')
            elif "window.MathJax" in script.get_text():
                parts.append(str(script))
        return "".join(parts) + f"<style>{PRINT_CSS}</style>"


def document(root: Page, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{root.soup.html["lang"]}" data-theme="light" data-mode="light">'
        f"<head>{root.head()}<title>{html.escape(root.text('.logo__title'))}</title></head>"
        f"<body>{body}</body></html>"
    )


def book_body(pages: list[Page], captions: dict[str, str], words: dict[str, str]) -> str:
    """The contents (page numbers still 0), then every chapter on a new page."""
    entries = []
    for page in pages:
        if page.name in captions:
            entries.append(f'<li class="part">{html.escape(captions[page.name])}</li>')
        entries.append(
            f'<li><a href="#{anchor(page.name)}"><span>{page.title_html}</span><span class="leader"></span>'
            f'<span data-page="{anchor(page.name)}">0</span></a></li>'
        )
    contents = (
        f'<section class="pdf-contents"><h1>{html.escape(words["contents"])}</h1><ol>{"".join(entries)}</ol></section>'
    )
    chapters = "".join(
        f'<section class="pdf-chapter" id="{anchor(page.name)}">{page.article.decode_contents()}</section>'
        for page in pages
    )
    return f'<main class="pdf-book bd-article">{contents}{chapters}</main>'


def cover_body(root: Page, words: dict[str, str], date: str) -> str:
    lines = [root.text(".component-author"), words["version"].format(celib.__version__), words["built"].format(date)]
    return (
        f'<main class="pdf-cover"><h1>{html.escape(root.text(".logo__title"))}</h1>'
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
        + "</main>"
    )


def chapter_starts(pdf: bytes, pages: list[Page]) -> dict[str, int]:
    """The printed page number (from 1) on which each chapter starts."""
    reader = PdfReader(io.BytesIO(pdf))
    destinations = reader.named_destinations
    return {page.name: reader.get_destination_page_number(destinations["/" + anchor(page.name)]) + 1 for page in pages}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def render(site: Path, cover_html: str, book_html: str, pages: list[Page]) -> tuple[bytes, bytes, dict[str, int]]:
    """Print the cover, then the book twice (the second time with the contents' page numbers)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{httpd.server_address[1]}"
    served = {COVER_URL: cover_html, BOOK_URL: book_html}
    refused = []

    def route(route_):
        url = urlsplit(route_.request.url)
        if f"{url.scheme}://{url.netloc}" != server:
            refused.append(route_.request.url)
            route_.abort()  # offline: nothing leaves the machine
        elif url.path in served:
            route_.fulfill(body=served[url.path], content_type="text/html; charset=utf-8")
        else:
            route_.continue_()

    plain = dict(PAPER, print_background=True)
    numbered = dict(plain, display_header_footer=True, header_template="<span></span>", footer_template=FOOTER)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": CONTENT_WIDTH_PX, "height": 1000})
            page.route("**/*", route)
            page.emulate_media(media="print")
            page.goto(server + COVER_URL, wait_until="load")
            cover = page.pdf(**plain)

            page.goto(server + BOOK_URL, wait_until="load", timeout=300_000)
            page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            math = page.evaluate(MATH_JS)
            if math["untypeset"] or math["errors"]:
                raise RuntimeError(f"MathJax: {math['untypeset']} formulas not typeset, {math['errors']} errors")
            overflowing = page.evaluate(FIT_JS)
            if overflowing:
                raise RuntimeError(
                    f"{len(overflowing)} elements wider than the page, e.g.:\n  " + "\n  ".join(overflowing[:20])
                )

            # Writing the page numbers into the contents can lengthen it and move the chapters;
            # repeat until the numbers written are the pages the chapters start on.
            starts = chapter_starts(page.pdf(**numbered), pages)
            for _ in range(4):
                page.evaluate(
                    "starts => document.querySelectorAll('[data-page]')"
                    ".forEach(s => { s.textContent = starts[s.dataset.page]; })",
                    {anchor(name): number for name, number in starts.items()},
                )
                book = page.pdf(**numbered)
                moved = chapter_starts(book, pages)
                if moved == starts:
                    break
                starts = moved
            else:
                raise RuntimeError("chapters keep moving when the contents get their page numbers")
            browser.close()
    finally:
        httpd.shutdown()
    if refused:
        raise RuntimeError(f"the print document needs remote resources (refused): {refused[:10]}")
    return cover, book, starts


def assemble(
    cover: bytes,
    book: bytes,
    starts: dict[str, int],
    pages: list[Page],
    captions: dict[str, str],
    words: dict[str, str],
    when: datetime,
) -> PdfWriter:
    """The cover in front of the book, an outline of parts and chapters, page labels equal to the
    printed numbers, and the build date as the PDF's dates."""
    writer = PdfWriter()
    writer.append(io.BytesIO(cover))
    writer.append(io.BytesIO(book))
    writer.add_outline_item(title=words["contents"], page_number=1)
    part = None
    for page in pages:  # printed page n is page n of the PDF: the cover is page 0
        if page.name in captions:
            part = writer.add_outline_item(title=captions[page.name], page_number=starts[page.name])
        writer.add_outline_item(title=page.title, page_number=starts[page.name], parent=part)
    writer.set_page_label(0, 0, prefix=words["cover"])
    writer.set_page_label(1, len(writer.pages) - 1, style="/D", start=1)
    stamp = when.strftime("D:%Y%m%d%H%M%SZ")
    writer.add_metadata({"/Title": pages[0].text(".logo__title"), "/CreationDate": stamp, "/ModDate": stamp})
    return writer


@functools.cache
def shared_radicals() -> dict[int, str]:
    """Each radical (U+2E80 to U+2FDF) that Noto CJK draws with the glyph of an ideograph, to that
    ideograph: ⼀ U+2F00 to 一, ⻅ U+2EC5 to 见 (empty without the font)."""
    if not NOTO_CJK.exists():
        return {}
    from fontTools.ttLib import TTCollection

    fonts = TTCollection(NOTO_CJK, lazy=True).fonts
    cmap = next(f for f in fonts if f["name"].getDebugName(1) == NOTO_CJK_FACE).getBestCmap()
    ideographs = {glyph: chr(code) for code, glyph in cmap.items() if 0x4E00 <= code <= 0x9FFF}
    return {code: ideographs[glyph] for code, glyph in cmap.items() if 0x2E80 <= code <= 0x2FDF and glyph in ideographs}


_BFCHAR = re.compile(rb"\d+\s+beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"\d+\s+beginbfrange(.*?)endbfrange", re.S)
_HEX = re.compile(rb"<([0-9A-Fa-f]+)>")


def _utf16(hex_code: bytes) -> str:
    return bytes.fromhex(hex_code.decode()).decode("utf-16-be")


def to_unicode_without_radicals(cmap: bytes, table: dict[int, str]) -> bytes | None:
    """A ToUnicode CMap whose targets in ``table`` (radicals) are replaced by its ideographs; None if
    it has none. Every mapping is rewritten as a ``bfchar`` entry (a range's targets are consecutive,
    and a replaced one breaks that), 100 per block as the CMap format allows."""
    pairs: list[tuple[bytes, str]] = []
    for block in _BFCHAR.findall(cmap):
        codes = _HEX.findall(block)
        pairs += [(codes[i], _utf16(codes[i + 1])) for i in range(0, len(codes) - 1, 2)]
    for block in _BFRANGE.findall(cmap):
        codes = _HEX.findall(block)
        for low, high, first in (codes[i : i + 3] for i in range(0, len(codes) - 2, 3)):
            start, width = int(low, 16), len(low)
            target = _utf16(first)
            for offset in range(int(high, 16) - start + 1):
                text = target[:-1] + chr(ord(target[-1]) + offset)
                pairs.append((f"{start + offset:0{width}X}".encode(), text))
    mapped = [(code, "".join(table.get(ord(c), c) for c in text)) for code, text in pairs]
    if mapped == pairs:
        return None
    blocks = []
    for i in range(0, len(mapped), 100):
        chunk = mapped[i : i + 100]
        lines = [b"<%s> <%s>" % (code, text.encode("utf-16-be").hex().upper().encode()) for code, text in chunk]
        blocks.append(b"%d beginbfchar\n%s\nendbfchar" % (len(chunk), b"\n".join(lines)))
    head = cmap[: min(m.start() for m in (*_BFCHAR.finditer(cmap), *_BFRANGE.finditer(cmap)))]
    tail = cmap[cmap.rindex(b"endcmap") :]
    return head + b"\n".join(blocks) + b"\n" + tail


def map_shared_glyphs(writer: PdfWriter) -> int:
    """Rewrite the ToUnicode map of every font of ``writer`` that reads a shared glyph as a radical
    (``shared_radicals``); return how many maps changed."""
    table, done, changed = shared_radicals(), set(), 0

    def visit(resources: DictionaryObject) -> None:
        nonlocal changed
        for font in resources.get("/Font", DictionaryObject()).get_object().values():
            font = font.get_object()
            reference = font.get("/ToUnicode")
            if reference is None or id(stream := reference.get_object()) in done:
                continue
            done.add(id(stream))
            fixed = to_unicode_without_radicals(stream.get_data(), table)
            if fixed is not None:
                stream.set_data(fixed)
                changed += 1
        for xobject in resources.get("/XObject", DictionaryObject()).get_object().values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == NameObject("/Form") and "/Resources" in xobject:
                visit(xobject["/Resources"].get_object())

    if table:
        for page in writer.pages:
            if "/Resources" in page:
                visit(page["/Resources"].get_object())
    return changed


def build(site: Path, out: Path) -> int:
    """Write the PDF of the edition built in ``site`` to ``out``; return its number of pages."""
    names = toc_files()
    pages = [Page(site, name, set(names)) for name in names]
    root = pages[0]
    lang = root.soup.html["lang"]
    if lang not in STRINGS:
        raise SystemExit(f"tools/pdf.py has no STRINGS for the language {lang!r}: add its row")
    words = STRINGS[lang]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    captions = root.part_captions()

    cover_html = document(root, cover_body(root, words, when.strftime("%Y-%m-%d")))
    book_html = document(root, book_body(pages, captions, words))
    cover, book, starts = render(site, cover_html, book_html, pages)
    writer = assemble(cover, book, starts, pages, captions, words, when)
    map_shared_glyphs(writer)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        writer.write(stream)
    (site / SITE_COPY).parent.mkdir(exist_ok=True)
    shutil.copyfile(out, site / SITE_COPY)
    return len(writer.pages)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="root of one built edition")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf", help="the PDF to write")
    args = parser.parse_args(argv)
    if not (args.site / f"{toc_files()[0]}.html").exists():
        raise SystemExit(f"{args.site} holds no built book: run `make book` first")
    start = time.monotonic()
    count = build(args.site, args.out)
    print(f"{args.out}: {count} pages in {time.monotonic() - start:.0f} s; copied to {args.site / SITE_COPY}")


if __name__ == "__main__":
    main()
