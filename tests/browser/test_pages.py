"""Open every built page of the book in headless Chromium with the network blocked.

Run after `make book` (``make browser-test``). Uses Debian's Chromium through Playwright's
``executable_path``; Playwright never downloads a browser here. Each page must: fetch nothing
outside the local server, log no console errors, load every image, and typeset its math with
the MathJax copy served from the site itself.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

SITE = Path(__file__).resolve().parents[2] / "_build" / "html"
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
PAGES = sorted(path.relative_to(SITE).as_posix() for path in SITE.rglob("*.html") if "_static" not in path.parts)


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_site_was_built():
    assert (SITE / "index.html").exists(), "run `make book` first"
    assert len(PAGES) >= 4


@pytest.mark.parametrize("page_path", PAGES)
def test_page_works_offline(browser, server, page_path):
    context = browser.new_context()
    remote, console_errors = [], []

    def route(route_):
        if urlparse(route_.request.url).netloc == urlparse(server).netloc:
            route_.continue_()
        else:  # the network is blocked: record the attempt and refuse it
            remote.append(route_.request.url)
            route_.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    response = page.goto(f"{server}/{page_path}", wait_until="load")
    assert response is not None and response.ok
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', (SITE / page_path).read_text())
    if redirect:  # index.html forwards to the first chapter: check where it lands
        page.wait_for_url(f"**/{redirect.group(1)}", wait_until="load")

    has_math = page.locator(".math").count() > 0
    if has_math:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container").count() > 0, "math was not typeset"
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"

    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    context.close()
    assert not broken, f"images that did not load: {broken}"
    assert not remote, f"the page tried to fetch remote resources: {remote}"
    assert not console_errors, f"console errors: {console_errors}"
