"""What first-class online books have (issue 11, item 10) and buttons that work (item 8):
a notation page in the sidebar, a licence, how to cite, version and build date in the footer,
a favicon, a 404 page that works from any URL, and no repository, issue or launch buttons
unless the site is built from a real repository."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from functools import cache
from urllib.parse import urlparse

import pytest
import yaml
from bs4 import BeautifulSoup
from checks import check, fail
from harness import ROOT, SITE, VIEWPORTS, git_remote_repos, toc_pages

VERSION = re.compile(r"\b(?:v|version\s*)?\d+\.\d+(?:\.\d+)?(?:[.-]?(?:dev|rc|a|b|post)\d*)?\b", re.I)
DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},? \d{4}\b"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b"
)
#: The title of the notation page and a how-to-cite heading, by edition (``Edition.name``).
NOTATION = {"en": r"\bnotation\b", "zh_CN": r"^(符号|记号)"}
CITE = {"en": r"\bcit(e|ing|ation)\b", "zh_CN": r"引用"}
LICENCE = re.compile(r"MIT|Apache|BSD|GPL|MPL|Creative Commons|CC[- ]BY|CC0|Unlicense", re.I)


@cache
def soup(path: str) -> BeautifulSoup:
    return BeautifulSoup((SITE / path).read_text(encoding="utf-8"), "html.parser")


def title_of(path: str) -> str:
    h1 = soup(path).select_one("article h1") or soup(path).find("h1")
    return h1.get_text(" ", strip=True).rstrip("#").strip() if h1 else ""


def test_notation_page_exists_and_is_in_the_sidebar(edition):
    pages = [p for p in edition.pages() if re.search(NOTATION[edition.name], title_of(p), re.I)]
    if not pages:
        fail(edition.name, "no page titled 'Notation'", [f"page titles: {[title_of(p) for p in edition.pages()][:25]}"])
    notation = pages[0]
    rows = soup(notation).select("article table tr")
    problems = (
        []
        if len(rows) >= 10
        else [f"{notation}: the notation table has {len(rows)} rows (expected the book's table, >= 10)"]
    )
    for page in toc_pages(edition):
        if not (SITE / page).exists():
            continue
        base = page.rsplit("/", 1)[0] + "/" if "/" in page else ""
        hrefs = {
            _resolve(base, a.get("href", ""))
            for a in soup(page).select("#pst-primary-sidebar a[href], .bd-sidebar-primary a[href]")
        }
        if notation not in hrefs and page != notation:
            problems.append(f"{page}: the sidebar has no link to {notation}")
    check(edition.name, "notation page", problems)


def _resolve(base: str, href: str) -> str:
    from posixpath import normpath

    href = href.split("#")[0]
    if not href or re.match(r"\w+:", href):
        return href
    return normpath(base + href)


def test_licence_file_covers_code_and_content():
    files = [p for p in ROOT.iterdir() if re.fullmatch(r"(LICEN[CS]E|COPYING)(\.\w+)?", p.name, re.I)]
    if not files:
        fail("repository root", "no LICENSE file", [f"files: {sorted(p.name for p in ROOT.iterdir() if p.is_file())}"])
    text = files[0].read_text(errors="replace")
    problems = []
    if not LICENCE.search(text):
        problems.append(f"{files[0].name} names no known licence (MIT, Apache, BSD, CC BY, ...)")
    if not (
        re.search(r"\bcode\b|software|celib", text, re.I)
        and re.search(r"\bcontent|\btext\b|prose|figures|book", text, re.I)
    ):
        problems.append(f"{files[0].name} does not say what covers the code and what covers the content")
    check(files[0].name, "licence", problems)


def test_how_to_cite_section(edition):
    title = yaml.safe_load((ROOT / "_config.yml").read_text()).get("title", "")
    found = []
    for page in edition.pages():
        for h in soup(page).select("article h1, article h2, article h3"):
            if re.search(CITE[edition.name], h.get_text(" ", strip=True), re.I):
                section = h.find_parent("section") or h.parent
                found.append((page, h.get_text(" ", strip=True).rstrip("#"), section.get_text(" ", strip=True)))
    if not found:
        fail(edition.name, "no 'How to cite' section on any page", ["expected a heading with cite/citing/citation"])
    ok = [f for f in found if title and title.split(",")[0] in f[2] and re.search(r"@\w+\{|\b(19|20)\d\d\b", f[2])]
    check(
        edition.name,
        "the how-to-cite section gives no citation of the book (its title and a year or BibTeX entry)",
        [] if ok else [f"{p}: “{t}”: {text[:120]!r}" for p, t, text in found],
    )


@pytest.mark.viewports("desktop")
def test_footer_shows_version_and_build_date(view):
    footer = view.probe["furniture"]["footer"]
    problems = []
    if not VERSION.search(footer):
        problems.append("no version number")
    if not DATE.search(footer):
        problems.append("no build date")
    check(view.where, f"footer (“{footer[:140]}”)", problems)


def test_header_controls_sit_inside_the_header_bar(view):
    """Every button of the header, the edition switcher included, lies within the header bar
    (a second header item once wrapped below it, cutting the buttons at the top of the page)."""
    header = view.probe["furniture"]["header"]
    if header is None:
        fail(view.where, "no header bar (.bd-header-article)", [])
    problems = [
        f"{c['el']}: {c['top']:.0f}..{c['bottom']:.0f} px, bar {header['top']:.0f}..{header['bottom']:.0f} px"
        for c in header["controls"]
        if c["top"] < header["top"] - 1 or c["bottom"] > header["bottom"] + 1
    ]
    check(view.where, "header controls inside the header bar", problems)


@pytest.mark.viewports("desktop")
def test_favicon_declared_and_loads(view, server):
    icons = view.probe["furniture"]["icons"]
    if not icons:
        fail(view.where, "no favicon", ["no <link rel=icon> in the page head"])
    problems = []
    for url in icons:
        if urlparse(url).netloc != server.netloc:
            problems.append(f"{url}: not served by the site itself")
            continue
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body, kind = response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            problems.append(f"{url}: HTTP {exc.code}")
            continue
        if not body or not (
            kind.startswith("image/") or body[:4] in (b"\x89PNG", b"\x00\x00\x01\x00") or b"<svg" in body[:300]
        ):
            problems.append(f"{url}: not an image ({kind}, {len(body)} bytes)")
    check(view.where, "favicon", problems)


def test_404_page_exists(edition):
    if not (SITE / edition.prefix / "404.html").exists():
        fail(
            edition.name,
            "no 404 page",
            [f"{edition.prefix}404.html is missing: a mistyped URL gets the host's bare error page"],
        )


@pytest.mark.parametrize("missing", ["no-such-page.html", "book/no-such-page.html", "book/deep/er/no-such-page.html"])
def test_404_page_works_from_a_nested_url(edition, browser, server, missing):
    """A missing URL at any depth shows the book's 404 page with its styles and a working link home."""
    if not (SITE / edition.prefix / "404.html").exists():
        fail(edition.name, "no 404.html", ["see test_404_page_exists"])
    width, height, _ = VIEWPORTS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height})
    failed, remote = [], []
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if urlparse(r.request.url).netloc == server.netloc
            else (remote.append(r.request.url), r.abort())
        ),
    )
    tab = context.new_page()
    tab.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}") if r.status >= 400 and r.request.resource_type != "document" else None
        ),
    )
    tab.on("requestfailed", lambda r: failed.append(f"{r.failure} {r.url}"))
    try:
        response = tab.goto(server.url(edition.prefix + missing), wait_until="load")
        status = response.status if response else None
        info = tab.evaluate("""() => ({
            sheets: Array.from(document.styleSheets)
                .filter(s => { try { return s.cssRules.length > 0 } catch (e) { return true } }).length,
            h1: (document.querySelector('h1') || {}).textContent || '',
            links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
            font: getComputedStyle(document.body).fontFamily })""")
    finally:
        context.close()
    problems = []
    if status != 404:
        problems.append(f"answered HTTP {status}, expected 404 with the book's page")
    problems += [f"resource failed: {f}" for f in failed] + [f"remote request: {r}" for r in remote]
    if info["sheets"] == 0:
        problems.append("no stylesheet applied")
    home = [u for u in info["links"] if urlparse(u).netloc == server.netloc and _exists(urlparse(u).path)]
    if not home:
        problems.append(f"no link on the page leads to an existing page (links: {info['links'][:5]})")
    check(f"/{edition.prefix}{missing}", "the 404 page does not work here", problems)


def _exists(path: str) -> bool:
    path = path.lstrip("/")
    target = SITE / path
    return target.is_file() or (target / "index.html").is_file()


def _repos(buttons) -> set[str]:
    repos = set()
    for b in buttons:
        m = re.search(
            r"(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/(?:github/)?([\w.-]+)/([\w.-]+?)(?:\.git)?(?:/|$)",
            b["href"],
        )
        m = m or re.search(r"colab\.research\.google\.com/github/([\w.-]+)/([\w.-]+)", b["href"])
        if m:
            repos.add(f"{m.group(1)}/{m.group(2)}".lower())
    return repos


def test_no_repository_buttons_without_a_real_repository(view):
    """Repository, issue and launch buttons only point to the repository this site is built from
    (a git remote of the checkout); with none configured there are no such buttons."""
    buttons = view.probe["furniture"]["buttons"]
    if not buttons:
        return
    remotes = git_remote_repos()
    shown = _repos(buttons)
    unknown = sorted(shown - remotes) if remotes else sorted(shown) or ["(no repository in the links)"]
    if remotes and not (shown - remotes):
        return
    why = (
        f"they point to {unknown}, which is not a git remote of this checkout ({sorted(remotes) or 'it has none'}):"
        " no real repository URL is configured, so no such button may be shown"
    )
    check(
        view.where,
        f"repository/issue/launch buttons shown: {why}",
        [f"{b['el']} {b['label']!r} -> {b['href'] or '(menu)'}" for b in buttons],
    )


def test_site_was_built(edition):
    pages = edition.pages()
    assert (SITE / edition.prefix / "index.html").exists(), "run `make book` first"
    assert len(pages) >= len(toc_pages(edition)), f"{len(pages)} pages built, the toc has {len(toc_pages(edition))}"
    missing = [p for p in toc_pages(edition) if not (SITE / p).exists()]
    assert not missing, f"toc chapters not built: {missing}"


#: The site's shared assets (theme, MathJax, fonts), measured at 29.5 MiB before unused MathJax
#: bundles and source maps were pruned (tools/book_site.py) and 11.4 MiB after.
STATIC_BUDGET_MB = 14


def test_static_assets_carry_nothing_unused():
    static = SITE / "_static"
    maps = sorted(str(p.relative_to(SITE)) for p in static.rglob("*.map"))
    size_mb = sum(p.stat().st_size for p in static.rglob("*") if p.is_file()) / 2**20
    problems = [f"source map {m}" for m in maps]
    if size_mb > STATIC_BUDGET_MB:
        problems.append(f"_static is {size_mb:.1f} MiB, above its budget of {STATIC_BUDGET_MB} MiB")
    check("_static", "assets no page needs", problems)


def test_browser_tab_titles_do_not_repeat(edition):
    """The tab reads "Page — Book"; the front page, whose title is the book's, reads "Book" once."""
    repeated = []
    for page in edition.pages():
        title = soup(page).title
        parts = [part.strip() for part in (title.get_text() if title else "").split("—")]
        if len(parts) != len(set(parts)):
            repeated.append(f"{page}: {title.get_text()!r}")
    check(edition.name, "browser tab titles that repeat themselves", repeated)
