"""Horizontal overflow: the page never scrolls sideways, and nothing sticks out of the article
column unless it scrolls inside its own box; code boxes hold an 88-character line at desktop
width, wide display math scrolls in its own box on a phone, table columns keep a readable width."""

from __future__ import annotations

import pytest
from checks import check
from harness import JS_DIR, VIEWPORTS, toc_pages


def test_page_does_not_scroll_sideways(view):
    o = view.probe["overflow"]
    if o["doc_scroll_width"] > o["inner_width"]:
        check(
            view.where,
            f"the page scrolls sideways (document {o['doc_scroll_width']} px wide > viewport "
            f"{o['inner_width']} px); elements past the right edge",
            [f"{e['el']} reaches x={e['right']}: “{e['text']}”" for e in o["beyond_viewport"]] or ["(none found)"],
        )


def test_nothing_sticks_out_of_the_article_column(view):
    o = view.probe["overflow"]
    col = o["article"]
    problems = [
        f"{e['el']} spans x={e['left']}..{e['right']}, column is {col['left']}..{col['right']}: “{e['text']}”"
        for e in o["sticking_out"]
    ]
    problems += [
        f"{e['el']} cuts off its content ({e['content_width']} px in a {e['box_width']} px box with "
        f"overflow hidden, no scrollbar): “{e['text']}”"
        for e in o["clipped"]
    ]
    check(view.where, "elements wider than the article column and not in their own scroll box", problems)


# --- measured in pages of our own: code boxes, display math, tables -------------------------
# These need the page laid out at a given width with its fonts loaded (and MathJax run), and
# a measurement the visit's report does not hold; one tab per edition and viewport visits
# each chapter.

MEASURE_JS = (JS_DIR / "measure.js").read_text()
MIN_CELL_EM = 6  # a column narrower than this (about six Chinese characters) wraps its text into slivers


@pytest.fixture(scope="module")
def measured(browser, server):
    """(edition, viewport) -> {page: what MEASURE_JS found}, measured once per module."""
    cache: dict[tuple[str, str], dict[str, dict]] = {}

    def measure(edition, viewport: str) -> dict[str, dict]:
        key = (edition.name, viewport)
        if key not in cache:
            width, height, touch = VIEWPORTS[viewport]
            context = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch)
            local = lambda route: route.continue_() if server.netloc in route.request.url else route.abort()  # noqa: E731
            context.route("**/*", local)
            tab = context.new_page()
            cache[key] = {}
            for page in toc_pages(edition):
                tab.goto(server.url(page), wait_until="load")
                tab.evaluate("() => document.fonts.ready.then(() => true)")
                if tab.evaluate("() => document.querySelector('.math') !== null"):
                    tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                    tab.evaluate("() => MathJax.startup.promise.then(() => true)")
                cache[key][page] = tab.evaluate(MEASURE_JS, MIN_CELL_EM)
            context.close()
        return cache[key]

    return measure


def test_an_88_character_line_fits_every_code_box_at_desktop_width(edition, measured):
    """Code and printed lines are at most 88 characters (CONTRIBUTING.md); at 1366x900 a box
    holds such a line without wrapping or a scrollbar, in each edition's monospace font."""
    problems = [
        f"{page}: {c['where']} ({c['kind']}): an 88-character line is {c['line']} px, the box holds {c['inner']} px"
        for page, found in measured(edition, "desktop").items()
        for c in found["code"]
    ]
    check(f"{edition.name} at 1366x900", "code boxes too narrow for an 88-character line", problems)


def test_wide_display_math_scrolls_inside_its_own_box_on_a_phone(edition, measured):
    """At 390x844 a long equation scrolls sideways in its own box, not cut off at the edge of
    the screen, and the box stays inside the article column."""
    problems = [
        f"{page}: {m['where']}: {m['width']} px of math in a box at x={m['box']}, column {m['column']}, "
        f"overflow-x {m['overflow']}, {'scrolls' if m['scrolls'] else 'does not scroll'}: “{m['tex']}”"
        for page, found in measured(edition, "phone").items()
        for m in found["math"]
    ]
    check(f"{edition.name} at 390x844", "display math cut off or outside the column", problems)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_table_columns_keep_a_readable_width(edition, viewport, measured):
    """A wide table scrolls in its own box rather than squeezing its columns: no cell is
    narrower than MIN_CELL_EM while its text wraps onto several lines."""
    problems = [
        f"{page}: {c['where']}: {c['width']} px wide, {c['lines']} lines: “{c['text']}”"
        for page, found in measured(edition, viewport).items()
        for c in found["cells"]
    ]
    w, h, _ = VIEWPORTS[viewport]
    check(f"{edition.name} at {w}x{h}", f"table cells squeezed below {MIN_CELL_EM} em", problems)
