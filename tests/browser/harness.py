"""The machinery of the browser test: the editions of the site, a local server, and one visit
per (edition, page, viewport) that records everything the checks need.

Each page is opened once per viewport in its own browser context (one shared Chromium). The
visit collects the whole report (text, math, links, images, layout, GPU cells, requests,
console) and then drives the interactive parts (solutions, chapter drawer, page contents,
sidebar toggle) with real clicks and taps; the test functions only read that report, so
adding a check costs no page load.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
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
JS_DIR = Path(__file__).with_name("js")
PROBES_JS = (JS_DIR / "probes.js").read_text()

# name -> (width, height, touch). The phone is driven by taps, the others by mouse clicks.
VIEWPORTS = {
    "desktop": (1366, 900, False),
    "tablet": (800, 1000, False),
    "phone": (390, 844, True),
}
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}


@dataclass(frozen=True)
class Edition:
    """One language edition of the site: its pages live under ``SITE / prefix``.

    A Chinese edition built into ``_build/html/zh_CN/`` is one more entry in ``EDITIONS``:
    ``Edition("zh_CN", "zh_CN/", "zh-CN")``. Every page check then runs on its pages too;
    edition-specific checks (the prose is Chinese, the language switcher) read ``language``.
    """

    name: str
    prefix: str  # "" for the site root, "zh_CN/" for an edition in a sub-directory
    language: str

    @property
    def root(self) -> Path:
        return SITE / self.prefix

    def pages(self) -> list[str]:
        """Every built HTML page of this edition, relative to the site root."""
        if not self.root.is_dir():
            return []
        # Another edition's folder is not this edition's: the listed ones, and any sub-folder that
        # is a Sphinx build of its own (it has an objects.inv), e.g. zh_CN/ before it is listed.
        others = {e.prefix for e in EDITIONS if e.prefix and e.prefix != self.prefix}
        others |= {inv.parent.relative_to(SITE).as_posix() + "/" for inv in self.root.glob("*/objects.inv")}
        others.discard(self.prefix)
        pages = []
        for path in self.root.rglob("*.html"):
            rel = path.relative_to(SITE).as_posix()
            if SKIP_DIRS & set(Path(rel).parts) or any(rel.startswith(o) for o in others):
                continue
            pages.append(rel)
        return sorted(pages)


EDITIONS = [Edition("en", "", "en"), Edition("zh_CN", "zh_CN/", "zh-CN")]


def counterpart(page: str, edition: Edition, other: Edition) -> str:
    """The same page in ``other``: ``book/x.html`` <-> ``zh_CN/book/x.html``."""
    return other.prefix + page.removeprefix(edition.prefix)


def toc_pages(edition: Edition) -> list[str]:
    """The chapters of ``_toc.yml`` as built pages of ``edition`` (relative to the site root)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [f"{edition.prefix}{name}.html" for name in files]


def git_remote_repos() -> set[str]:
    """``owner/name`` of every git remote of this checkout (lower case); empty without remotes."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "remote", "-v"], capture_output=True, text=True, check=False)
    except OSError:
        return set()
    repos = set()
    for line in out.stdout.splitlines():
        match = re.search(r"[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?\s", line + " ")
        if match:
            repos.add(f"{match.group(1)}/{match.group(2)}".lower())
    return repos


# ---------------------------------------------------------------------------------------------
# The local server: serves SITE like a static host does, with 404.html for a missing path.


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        not_found = SITE / "404.html"
        if code == 404 and not_found.exists():
            body = not_found.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)


class Server:
    def __init__(self):
        handler = functools.partial(SiteHandler, directory=str(SITE))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.netloc = urlparse(self.base).netloc

    def url(self, rel: str) -> str:
        return urljoin(self.base, rel)

    def rel(self, url: str) -> str:
        """The site-relative path of a local URL (no query or fragment)."""
        return urlparse(url).path.lstrip("/")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------
# One visit.

# Patterns of markup that should have been rendered, searched in prose text nodes (outside
# code, pre, math and MathJax output). name -> JS regular expression (flag "u").
RAW_MARKUP = {
    "reST directive": r"(?:^|\s)\.\.\s+[A-Za-z][\w.:-]*::",
    "reST target": r"(?:^|\s)\.\.\s+_[\w -]+:",
    "reST role or field": (
        r"(?<![\w/:]):(?:py:)?(?:func|class|meth|mod|attr|obj|data|exc|math|ref|doc|numref|eq|term|"
        r"cite(?::[pt])?|footcite(?::[pt])?|param|parameter|arg|argument|key|keyword|kwarg|type|vartype|"
        r"returns?|rtype|raises?|except|exception|var|ivar|cvar|meta|value)(?::|\s+[\w.*]+:)"
    ),
    "MyST role or directive": (
        r"\{(?:doc|ref|numref|eq|math|term|download|abbr|sub|sup|cite(?::[a-z]+)?|footcite(?::[a-z]+)?|"
        r"bibliography|footbibliography|func|class|meth|mod|attr|obj|data|exc|code-cell|code-block|code|"
        r"note|warning|tip|admonition|exercise|solution|figure|image|table|list-table|toctree|eval-rst|"
        r"glue(?::[a-z]+)?|dropdown|margin|sidebar|epigraph|literalinclude|include|automodule|autoclass|"
        r"autofunction|contents|raw|index|seealso|important|hint|caution|attention|danger|error|"
        r"[a-z]+:[a-z-]+)\}"
    ),
    "code fence": r"```|~~~|:::",
    "backtick": r"`",
    "Markdown emphasis": r"\*\*\S|\S\*\*",
    "LaTeX command": r"\\[A-Za-z]{2,}|\\[()\[\]{}_$%&#,;!]",
    "stray $": r"\$",
}

# Absolute paths of a build machine, searched in all page text (code and outputs included)
# and in href/src attributes.
BUILD_PATHS = "|".join(
    [r"/home/", r"/root/", r"/work/", r"/tmp/", r"/Users/", r"site-packages", r"dist-packages"]
    + [r"/usr/lib/python", r"/usr/local/lib/python", r'File "?/', r"file:///"]
)


@dataclass
class Visit:
    edition: str
    page: str
    viewport: str
    url: str = ""
    final_url: str = ""
    status: int | None = None
    remote: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    http_errors: list = field(default_factory=list)
    console: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    probe: dict = field(default_factory=dict)  # everything probes.js reported
    solutions: list = field(default_factory=list)
    nav: dict = field(default_factory=dict)
    error: str | None = None  # the visit itself broke (timeout, crash)
    seconds: float = 0.0
    phase: str = "load"  # what the visit was doing: console and page errors are tagged with it
    timings: dict = field(default_factory=dict)
    left_page: bool = False  # the language switcher led to the other edition's page

    def mark(self, phase: str):
        now = time.monotonic()
        self.timings[self.phase] = round(now - self._t, 2) if hasattr(self, "_t") else 0.0
        self._t = now
        self.phase = phase

    @property
    def where(self) -> str:
        w, h, _ = VIEWPORTS[self.viewport]
        landed = urlparse(self.final_url).path.lstrip("/") if self.final_url else self.page
        page = self.page if landed in ("", self.page) else f"{self.page} (→ {landed})"
        return f"{page} at {w}x{h}"


class Visitor:
    """Opens pages in one shared browser and caches one Visit per (edition, page, viewport)."""

    def __init__(self, browser, server: Server):
        self.browser = browser
        self.server = server
        self.cache: dict[tuple, Visit] = {}

    def get(self, edition: Edition, page: str, viewport: str) -> Visit:
        key = (edition.name, page, viewport)
        if key not in self.cache:
            self.cache[key] = self._visit(edition, page, viewport)
        return self.cache[key]

    # -- the visit -------------------------------------------------------------------------

    def _visit(self, edition: Edition, page: str, viewport: str) -> Visit:
        start = time.monotonic()
        visit = Visit(edition.name, page, viewport, url=self.server.url(page))
        width, height, touch = VIEWPORTS[viewport]
        # has_touch without is_mobile: Chromium's mobile emulation shifts the visual viewport after
        # an in-page jump, and taps then land beside their target. The layout at 390 px is the same.
        context = self.browser.new_context(viewport={"width": width, "height": height}, has_touch=touch)
        context.set_default_timeout(10_000)
        context.route("**/*", functools.partial(self._route, visit, viewport == "tablet"))
        tab = context.new_page()
        # The checks are of this page: what happens on the page the language switcher leads to
        # (phase "switching language") is that page's own visit's business.
        here = lambda: not visit.left_page  # noqa: E731
        tab.on(
            "console",
            lambda msg: (
                visit.console.append(f"[{visit.phase}] {_console_line(msg)}")
                if msg.type == "error" and here()
                else None
            ),
        )
        tab.on("pageerror", lambda err: visit.page_errors.append(f"[{visit.phase}] {err}") if here() else None)
        tab.on("requestfailed", functools.partial(self._request_failed, visit))
        tab.on(
            "response",
            lambda r: visit.http_errors.append(f"{r.status} {r.url}") if r.status >= 400 and here() else None,
        )
        visit._t = time.monotonic()
        redirect = _meta_refresh(SITE / page)
        try:
            if redirect:  # index.html forwards to the first chapter: check where it lands
                response = tab.goto(visit.url, wait_until="commit")
                visit.status = response.status if response else None
                target = urljoin(visit.url, redirect)
                tab.wait_for_url(target, wait_until="load", timeout=10_000)
            else:
                response = tab.goto(visit.url, wait_until="load")
                visit.status = response.status if response else None
            visit.final_url = tab.url
            tab.evaluate(PROBES_JS)
            if viewport != "tablet":
                visit.mark("typesetting math")
                self._wait_for_math(tab, visit)
                visit.mark("reading the page")
                visit.probe = tab.evaluate(
                    "([raw, paths]) => window.__bookProbes.collect(raw, paths)", [RAW_MARKUP, BUILD_PATHS]
                )
                visit.mark("clicking solution titles")
                visit.solutions = self._solutions(tab, touch)
                visit.mark("measuring overflow")
                # Open what is still closed (via its own toggle button), with transitions off for
                # the measurement only, so the layout check sees every solution at its full size.
                visit.probe["overflow"] = tab.evaluate("() => window.__bookProbes.overflowWithAllOpen()")
            if viewport == "desktop":
                visit.mark("toggling the sidebar")
                visit.nav["sidebar_toggle"] = self._desktop_toggle(tab)
                if visit.probe.get("switcher"):
                    tab.wait_for_timeout(50)  # let late console messages of this page arrive
                    visit.mark("switching language")
                    visit.nav["switcher"] = self._switch_language(tab, visit)
            else:
                visit.mark("opening the chapter drawer")
                visit.nav["chapters"] = self._drawer(tab, touch, "primary", toc_pages(edition))
                visit.mark("opening the page contents")
                visit.nav["contents"] = self._drawer(tab, touch, "secondary", None)
            tab.wait_for_timeout(50)  # let late console messages arrive
            visit.mark("done")
        except Exception as exc:  # report, do not hide: every check of this visit fails with it
            visit.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            context.close()
        visit.seconds = time.monotonic() - start
        return visit

    def _route(self, visit: Visit, nav_only: bool, route):
        url = route.request.url
        if urlparse(url).netloc == self.server.netloc:
            if nav_only and re.search(r"/_static/mathjax/|/_images/|/searchindex\.js|/fontawesome\.js", url):
                route.fulfill(status=200, body="", content_type="text/plain")  # not needed to test navigation
            else:
                route.continue_()
        else:  # the network is blocked: record the attempt and refuse it
            visit.remote.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    def _request_failed(self, visit: Visit, request):
        if urlparse(request.url).netloc == self.server.netloc and not visit.left_page:
            visit.failed.append(f"{request.failure} {request.url}")

    def _wait_for_math(self, tab, visit: Visit):
        if not tab.evaluate("() => document.querySelector('.math') !== null"):
            return
        try:
            tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15_000)
            tab.evaluate("() => MathJax.startup.promise.then(() => true)")
        except Exception:
            visit.page_errors.append("MathJax did not start within 15 s on a page with math")

    # -- solutions -----------------------------------------------------------------------------

    def _solutions(self, tab, touch: bool) -> list[dict]:
        """Click (tap) each solution's title where a reader would: on its link text if it has one.

        The click goes to the point on screen (mouse or touchscreen), as a reader's does, so a
        fix that lets the title take the click (e.g. the link ignores pointer events) passes."""
        results = []
        for i in range(tab.evaluate("() => document.querySelectorAll('div.solution').length")):
            aim = tab.evaluate("i => window.__bookProbes.solutionAim(i)", i)
            # "hint": what the solution's toggle shows beside its title; "hint_after": after the click.
            entry = {"index": i, "title": aim["title"], "id": aim["id"], "on": aim["on"], "hit": aim.get("hit")}
            entry["hint"] = aim["hint"]
            if aim["open"]:  # open by default is fine (nothing to click)
                results.append(entry | {"opened": True, "jumped": False})
                continue
            if aim["x"] is None:
                results.append(
                    entry | {"opened": False, "jumped": False, "error": "the solution has no title to click"}
                )
                continue
            if touch:
                tab.touchscreen.tap(aim["x"], aim["y"])
            else:
                tab.mouse.click(aim["x"], aim["y"])
            after = tab.evaluate("i => window.__bookProbes.solutionAfter(i)", i)
            results.append(
                entry
                | {
                    "opened": after["open"],
                    "jumped": after["href"] != aim["href"],
                    "url_after": after["href"],
                    "hint_after": after["hint"],
                }
            )
        return results

    # -- navigation ------------------------------------------------------------------------

    def _press(self, tab, locator, touch):
        """A real tap or click at the middle of the (visible) button, wherever it is on screen:
        the browser's hit testing decides what receives it, as for a reader's finger."""
        locator.scroll_into_view_if_needed(timeout=3_000)
        box = locator.bounding_box()
        if box is None:
            raise RuntimeError("the button has no box on screen")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # A drawer that is fading out still covers the button for a moment: wait (as a reader
        # does) until the button itself is what a tap at that point reaches.
        on_top = (
            "([el, x, y]) => { const h = document.elementFromPoint(x, y); return !!h && (h === el || el.contains(h)); }"
        )
        handle = locator.element_handle()
        if not _wait(tab, on_top, [handle, x, y], timeout_ms=1500):
            cover = tab.evaluate("([x, y]) => window.__bookProbes.describe(document.elementFromPoint(x, y))", [x, y])
            raise RuntimeError(f"the button is covered by {cover} at ({x:.0f}, {y:.0f})")
        tab.touchscreen.tap(x, y) if touch else tab.mouse.click(x, y)

    def _drawer(self, tab, touch: bool, side: str, chapters: list[str] | None) -> dict:
        """Open the chapter drawer (primary) or page contents (secondary) with the visible button,
        check what it shows, close it with Escape, reopen it, close it with a tap on the backdrop."""
        start = urlparse(tab.url).path
        try:
            result = self._drawer_steps(tab, touch, side, chapters)
        except Exception as exc:  # a button that cannot be pressed, a dialog that vanished, ...
            result = {
                "side": side,
                "applicable": True,
                "problems": [f"{type(exc).__name__}: {str(exc).splitlines()[0]}"],
            }
        if urlparse(tab.url).path != start:  # a tap went through to a link: report it, come back
            result["problems"].append(f"a tap or click of this check navigated away, to {urlparse(tab.url).path}")
            tab.goto(urljoin(tab.url, start), wait_until="load")
            tab.evaluate(PROBES_JS)
        # whatever happened, leave no dialog open for the next check
        tab.evaluate("() => { for (const d of document.querySelectorAll('dialog[open]')) d.close(); }")
        return result

    def _drawer_steps(self, tab, touch: bool, side: str, chapters: list[str] | None) -> dict:
        dialog_id = f"pst-{side}-sidebar-modal"
        result = {"side": side, "dialog": dialog_id, "problems": [], "applicable": True}
        info = tab.evaluate("s => window.__bookProbes.drawerInfo(s)", side)
        result["has_content"] = info["has_content"]
        if side == "secondary" and not info["has_content"]:
            result["applicable"] = False  # this page has no in-page contents
            return result
        button = tab.locator(f".{side}-toggle:visible").first
        if not button.count():
            result["problems"].append(f"no visible .{side}-toggle button (buttons: {info['buttons']})")
            return result
        result["button"] = tab.evaluate("e => window.__bookProbes.describe(e)", button.element_handle())

        opened = "id => { const d = document.getElementById(id); return !!(d && d.open); }"
        closed = "id => { const d = document.getElementById(id); return !(d && d.open); }"
        is_open = lambda: _wait(tab, opened, dialog_id)  # noqa: E731

        how = "tap" if touch else "click"
        try:
            self._press(tab, button, touch)
        except Exception as exc:
            result["problems"].append(
                f"could not {how} the visible button {result['button']}: {str(exc).splitlines()[0]}"
            )
            return result
        if not is_open():
            tooltip = tab.evaluate(
                "() => { const t = document.querySelector('.tooltip.show, .tooltip'); return t ? t.innerText : null; }"
            )
            result["problems"].append(
                f"a {how} on the visible button {result['button']} did not open <dialog id={dialog_id}>"
                + (f" (only a tooltip appeared: {tooltip!r})" if tooltip else "")
            )
            return result
        shown = tab.evaluate("id => window.__bookProbes.dialogContent(id)", dialog_id)
        result["shown"] = shown
        if side == "primary":
            here = tab.evaluate("() => location.pathname.replace(/^\\//, '')")
            missing = [c for c in chapters if c not in shown["links"] and c != here]
            if missing:
                result["problems"].append(
                    f"the open chapter drawer does not show links to {len(missing)} chapters: {missing[:6]}"
                )
        elif not shown["links"] and not shown["anchors"]:
            result["problems"].append("the open page-contents drawer shows no links")
        if not shown["in_view"]:
            result["problems"].append(f"the open drawer is not on screen (rect {shown['rect']})")
        tab.keyboard.press("Escape")
        if not _wait(tab, closed, dialog_id):
            result["problems"].append("Escape did not close the drawer")
            tab.evaluate("id => document.getElementById(id).close()", dialog_id)
        try:
            self._press(tab, button, touch)
        except Exception as exc:
            result["problems"].append(f"after closing, could not {how} the button again: {str(exc).splitlines()[0]}")
            return result
        if not is_open():
            result["problems"].append(f"a second {how} on the button did not reopen the drawer")
            return result
        rect = tab.evaluate("id => window.__bookProbes.rect(document.getElementById(id))", dialog_id)
        width, height = tab.evaluate("() => [innerWidth, innerHeight]")
        y = height / 2
        if side == "primary" and rect["right"] < width - 8:
            x = (rect["right"] + width) / 2
        elif side == "secondary" and rect["left"] > 8:
            x = rect["left"] / 2
        else:
            result["problems"].append(f"the drawer covers the whole width (rect {rect}): no backdrop to tap")
            return result
        if touch:
            tab.touchscreen.tap(x, y)
        else:
            tab.mouse.click(x, y)
        if not _wait(tab, closed, dialog_id):
            result["problems"].append(f"a {how} on the backdrop at ({x:.0f}, {y:.0f}) did not close the drawer")
        return result

    def _switch_language(self, tab, visit: Visit) -> dict:
        """Click the visible language switcher (last: it leaves the page) and record where it
        lands: the page, its language, and where that page's own switcher leads back to."""
        result: dict = {"from": tab.url, "problems": []}
        link = tab.locator("a.language-switcher:visible").first
        if not link.count():
            result["problems"].append("no visible language switcher")
            return result
        try:
            visit.left_page = True  # from here on, requests and messages are the other page's
            self._press(tab, link, False)
            # The other page's own visit checks it fully; here only where the click leads.
            tab.wait_for_url(lambda url: url != result["from"], wait_until="domcontentloaded", timeout=10_000)
            result["landed"] = self.server.rel(tab.url)
            landed = tab.evaluate(
                "() => ({ lang: document.documentElement.lang,"
                " back: Array.from(document.querySelectorAll('a.language-switcher')).map(a => a.href) })"
            )
            result["lang"], result["back"] = landed["lang"], [self.server.rel(u) for u in landed["back"]]
        except Exception as exc:
            result["problems"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        return result

    def _desktop_toggle(self, tab) -> dict:
        """At desktop width the visible ☰ collapses the primary sidebar and a second click restores it."""
        try:
            return self._desktop_toggle_steps(tab)
        except Exception as exc:
            return {"problems": [f"{type(exc).__name__}: {str(exc).splitlines()[0]}"]}

    def _desktop_toggle_steps(self, tab) -> dict:
        result = {"problems": []}
        button = tab.locator(".primary-toggle:visible").first
        if not button.count():
            result["problems"].append("no visible .primary-toggle button")
            return result
        result["button"] = tab.evaluate("e => window.__bookProbes.describe(e)", button.element_handle())
        state = lambda: tab.evaluate("() => window.__bookProbes.sidebarState()")  # noqa: E731
        before = state()
        result["before"] = before
        if before["hidden"]:
            result["problems"].append(f"the primary sidebar is hidden before any click ({before})")
            return result

        self._press(tab, button, False)
        collapsed = (
            "b => { const s = window.__bookProbes.sidebarState();"
            " return s.hidden || s.article_width >= b.article_width + b.sidebar_width / 2; }"
        )
        _wait(tab, collapsed, before, timeout_ms=1000)
        after = state()
        result["after_first"] = after
        if not (after["hidden"] or after["article_width"] >= before["article_width"] + before["sidebar_width"] / 2):
            result["problems"].append(
                f"a click on the visible sidebar toggle {result['button']} did not collapse the primary sidebar "
                f"(sidebar width {before['sidebar_width']} -> {after['sidebar_width']} px, "
                f"article width {before['article_width']} -> {after['article_width']} px"
                + (", a modal dialog opened instead" if after["dialog_open"] else "")
                + ")"
            )
            return result
        self._press(tab, button, False)
        back = (
            "b => { const s = window.__bookProbes.sidebarState(); return !s.hidden"
            " && Math.abs(s.sidebar_width - b.sidebar_width) < 2"
            " && s.article_width < b.article_width + b.sidebar_width / 2; }"
        )
        _wait(tab, back, before, timeout_ms=1000)
        restored = state()
        result["after_second"] = restored
        if (
            restored["hidden"]
            or abs(restored["sidebar_width"] - before["sidebar_width"]) >= 2
            or restored["article_width"] >= before["article_width"] + before["sidebar_width"] / 2
        ):
            result["problems"].append(f"a second click did not restore the sidebar ({before} -> {restored})")
        return result


def _wait(tab, predicate: str, arg, timeout_ms: int = 600) -> bool:
    """Wait in the page (every animation frame) until ``predicate(arg)`` holds; False on timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        tab.wait_for_function(predicate, arg=arg, timeout=timeout_ms, polling="raf")
        return True
    except PlaywrightTimeout:
        return False


def _meta_refresh(path: Path) -> str | None:
    """The target of a <meta http-equiv="refresh"> redirect page, or None."""
    if not path.exists():
        return None
    head = path.read_text(errors="replace")[:4000]
    match = re.search(r'http-equiv="refresh"[^>]*content="\d+;\s*url=([^"]+)"', head, re.I)
    return match.group(1) if match else None


def _console_line(msg) -> str:
    loc = msg.location or {}
    return f"{msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})"
