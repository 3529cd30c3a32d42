"""The two editions of one site (issue 19): the Chinese pages are Chinese, the language switcher
lands on the same chapter in the other edition (by a real click, both ways), and the Chinese
edition's offline search finds Chinese words.

Every other check of tests/browser/ runs on both editions too (``harness.EDITIONS``)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from checks import check, fail
from harness import EDITIONS, SITE, VIEWPORTS, counterpart

BY_NAME = {e.name: e for e in EDITIONS}

#: The least share of Chinese characters among the letters of a Chinese page's prose (Chinese
#: characters plus Latin letters; code, outputs and math are not prose). One Chinese character
#: stands for a word, a Latin letter for a sixth of one, so a fully translated chapter that
#: keeps `logits`, `PyTorch` and function names in Latin script measures 0.45 to 0.7; a page
#: with one untranslated paragraph in ten drops well below its own level, which
#: ``test_no_english_paragraphs_on_chinese_pages`` catches paragraph by paragraph.
MIN_CJK_SHARE = 0.35

#: Pages whose text is English on purpose in every edition: the API reference is celib's
#: docstrings (code, shared by both editions); the bibliography lists the works as published
#: (so do the per-chapter reference lists, which the prose probe leaves out).
ENGLISH_BY_DESIGN = ("book/api.html", "book/bibliography.html", "genindex.html", "search.html")


def chinese(view) -> bool:
    return BY_NAME[view.edition].language.startswith("zh")


def by_design(view) -> bool:
    return view.page.removeprefix(BY_NAME[view.edition].prefix) in ENGLISH_BY_DESIGN


@pytest.mark.viewports("desktop")
def test_prose_of_chinese_pages_is_chinese(view):
    if not chinese(view) or by_design(view):
        return
    prose = view.probe["prose"]
    letters = prose["cjk"] + prose["latin"]
    problems = []
    if prose["lang"] != "zh-CN":
        problems.append(f'<html lang="{prose["lang"]}">, expected zh-CN')
    share = prose["cjk"] / letters if letters else 0.0
    if letters and share < MIN_CJK_SHARE:
        problems.append(
            f"only {share:.0%} of the prose's letters are Chinese ({prose['cjk']} Chinese characters, "
            f"{prose['latin']} Latin letters; at least {MIN_CJK_SHARE:.0%} expected)"
        )
    check(view.where, "the prose of this Chinese page is not Chinese", problems)


@pytest.mark.viewports("desktop")
def test_no_english_paragraphs_on_chinese_pages(view):
    """A paragraph, list item, heading or caption with 40 or more Latin letters and no Chinese
    character is an untranslated message (or an English string of the site)."""
    if not chinese(view) or by_design(view):
        return
    check(
        view.where,
        "English paragraphs on a Chinese page",
        [f"{b['where']}: “{b['text']}”" for b in view.probe["prose"]["english"]],
    )


@pytest.mark.viewports("desktop")
def test_language_switcher_lands_on_the_same_page(view):
    """A click on the switcher opens this same page in the other edition, whose switcher leads back."""
    edition = BY_NAME[view.edition]
    others = [e for e in EDITIONS if e is not edition and e.root.is_dir()]
    if not others:
        return
    switcher = view.probe.get("switcher") or []
    if not switcher:
        fail(view.where, "no language switcher", ["no a.language-switcher on the page"])
    nav = view.nav.get("switcher", {"problems": ["the switcher was not clicked"]})
    here = view.final_url and view.final_url.split("://", 1)[1].split("/", 1)[1].split("#")[0]
    here = here or view.page
    (other,) = others
    expected = counterpart(here, edition, other)
    problems = list(nav["problems"])
    if not problems:
        if nav.get("landed") != expected:
            problems.append(f"a click on “{switcher[0]['text']}” landed on {nav.get('landed')}, expected {expected}")
        if nav.get("lang") != other.language:
            problems.append(f'the page it landed on has <html lang="{nav.get("lang")}">, expected {other.language}')
        if here not in nav.get("back", []):
            problems.append(f"the switcher of {expected} leads to {nav.get('back')}, not back to {here}")
    if not (SITE / expected).exists():
        problems.append(f"{expected} was not built")
    check(view.where, "language switcher", problems)


#: The hint sphinx-togglebutton shows beside a closed and an open solution's title, by edition.
TOGGLE_HINTS = {"en": ("Click to show", "Click to hide"), "zh_CN": ("点击显示", "点击隐藏")}


@pytest.mark.viewports("desktop")
def test_solution_hints_are_in_the_language_of_the_edition(view):
    """Beside a solution's title (at desktop width) the hint says, in this edition's language,
    that a click shows it, and once it is open, that a click hides it."""
    show, hide = TOGGLE_HINTS[view.edition]
    problems = []
    for s in view.solutions:
        if s["hint"] is None:  # a solution without a toggle (shown open)
            continue
        if "hint_after" not in s:  # open before any click
            expected = [(s["hint"], hide)]
        else:
            expected = [(s["hint"], show)] + ([(s["hint_after"], hide)] if s["opened"] else [])
        problems += [f"“{s['title']}”: the hint reads {got!r}, not {want!r}" for got, want in expected if got != want]
    check(view.where, "solution hints in another language", problems)


def search_index(edition) -> dict:
    text = (edition.root / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


#: Chinese words and the chapters about them that searching each must find.
CHINESE_SEARCHES = {
    "交叉熵": ["book/cross_entropy.html", "book/cross_entropy_loss.html", "book/binary_cross_entropy.html"],
    "负对数似然": ["book/cross_entropy.html"],
    "标签平滑": ["book/cross_entropy_loss.html"],
    "熵": ["book/entropy.html"],  # one character: the book's central term
}


def zh_editions():
    return [pytest.param(e, id=e.name) for e in EDITIONS if e.language.startswith("zh")]


@pytest.mark.parametrize("zh", zh_editions())
def test_chinese_terms_are_words_of_the_search_index(zh):
    """jieba with the terminology dictionary put whole terms into searchindex.js, not pieces."""
    index = search_index(zh)
    docs = index["docnames"]
    problems = []
    for word, chapters in CHINESE_SEARCHES.items():
        hits = [index[kind].get(word) for kind in ("terms", "titleterms")]
        found = [i for hit in hits if hit is not None for i in ([hit] if isinstance(hit, int) else hit)]
        if not found:
            problems.append(f"{word!r} is not a term of the index (Chinese text was not split into words)")
            continue
        found = {f"{docs[i]}.html" for i in found}
        missing = [c for c in chapters if c not in found]
        if missing:
            problems.append(f"{word!r} is not indexed for {missing}")
    check(f"{zh.prefix}searchindex.js", "Chinese search words", problems)


def search(browser, server, edition, word: str) -> list[dict]:
    """Type ``word`` into the search page of ``edition`` (offline) and wait for all results: each
    is its link and its excerpt ("" for a result without one, e.g. an object of the API page)."""
    width, height, _ = VIEWPORTS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", lambda r: r.continue_() if server.netloc in r.request.url else r.abort())
    try:
        tab = context.new_page()
        tab.goto(server.url(f"{edition.prefix}search.html?q={quote(word)}"), wait_until="load")
        tab.wait_for_function(
            "() => document.querySelector('#search-results .search-summary')"
            " && !/searching|正在搜索/i.test(document.querySelector('#search-results h2')?.textContent || '')",
            timeout=20_000,
        )
        tab.wait_for_load_state("networkidle")  # each excerpt comes from a fetch of its page
        return tab.evaluate(
            """() => Array.from(document.querySelectorAll('#search-results ul.search li')).map(li => ({
                href: li.querySelector('a').href,
                excerpt: li.querySelector('p.context')?.textContent || '',
            }))"""
        )
    finally:
        context.close()


@pytest.mark.parametrize("zh", zh_editions())
def test_chinese_search_finds_the_chapters(zh, browser, server):
    """Typed into the search page, offline, each word lists the chapters about it."""
    problems = []
    for word, chapters in CHINESE_SEARCHES.items():
        results = search(browser, server, zh, word)
        found = {server.rel(r["href"]).removeprefix(zh.prefix) for r in results}
        missing = [c for c in chapters if c not in found]
        if missing:
            problems.append(f"{word!r}: {len(results)} results, not {missing} (found {sorted(found)[:8]})")
    check(f"{zh.prefix}search.html", "Chinese search", problems)


#: A word searched in each edition, whose excerpts are checked.
EXCERPT_SEARCHES = {"en": "entropy", "zh_CN": "交叉熵"}
#: How many excerpts (the first ones) are compared with the text of their pages, and how many
#: characters at the start of each (whitespace aside) must be that page's text.
EXCERPTS_CHECKED = 6
EXCERPT_START = 20


def test_search_excerpts_are_page_text(edition, browser, server):
    """An excerpt under a search result is the text of that page around the word, not the page's
    furniture: not the language switcher ("English", "中文"), the header buttons (".ipynb") or the
    print-only contents that come before the text in the element searchtools.js reads."""
    word = EXCERPT_SEARCHES[edition.name]
    results = [r for r in search(browser, server, edition, word) if r["excerpt"]]
    if not results:
        fail(f"{edition.prefix}search.html?q={word}", "search results with an excerpt", ["none"])
    problems = []
    for result in results[:EXCERPTS_CHECKED]:
        page = server.rel(result["href"])
        excerpt = " ".join(result["excerpt"].split()).removeprefix("...").removesuffix("...").strip()
        soup = BeautifulSoup((SITE / page).read_text(encoding="utf-8"), "html.parser")
        switchers = [a.get_text(strip=True) for a in soup.select("a.language-switcher")]
        article = soup.select_one("article")
        for link in article.select("a.headerlink"):
            link.decompose()
        text = "".join(article.get_text().split())
        start = "".join(excerpt.split())[:EXCERPT_START]
        if any(excerpt.startswith(label) for label in switchers) or len(start) < EXCERPT_START or start not in text:
            problems.append(f"{page}: “{excerpt[:80]}”")
    check(f"{edition.prefix}search.html?q={word}", "excerpts that are not the text of their page", problems)


def test_every_edition_is_listed():
    """A built edition folder that the browser test does not know would go untested."""
    built = {inv.parent.relative_to(SITE).as_posix() + "/" for inv in SITE.glob("*/objects.inv")}
    unknown = sorted(built - {e.prefix for e in EDITIONS})
    if unknown:
        fail("harness.EDITIONS", "editions built but not tested", unknown)
    assert re.fullmatch(r"[a-z]{2}(_[A-Z]{2})?/", BY_NAME["zh_CN"].prefix)
