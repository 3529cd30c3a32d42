"""Fixtures of the browser test: one Chromium, one local server, one cached visit per
(edition, page, viewport).

A test that takes the ``view`` fixture runs once per built page of every edition and per
viewport named by its ``@pytest.mark.viewports(...)`` marker (desktop and phone by default);
``view`` is the ``harness.Visit`` of that page. ``edition_page`` gives (edition, page) without
a browser. ``edition`` runs a site-wide test once per edition.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, EDITIONS, SITE, VIEWPORTS, Server, Visitor


def pytest_configure(config):
    config.addinivalue_line("markers", "viewports(*names): viewports a `view` test runs at (desktop, tablet, phone)")


def pytest_generate_tests(metafunc):
    if "view" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("viewports")
        viewports = marker.args if marker else ("desktop", "phone")
        params = [
            pytest.param((edition, page, viewport), id=f"{edition.name}:{page}@{viewport}")
            for edition in EDITIONS
            for page in edition.pages()
            for viewport in viewports
        ]
        metafunc.parametrize("view", params, indirect=True)
    if "edition_page" in metafunc.fixturenames:
        params = [pytest.param((e, p), id=f"{e.name}:{p}") for e in EDITIONS for p in e.pages()]
        metafunc.parametrize("edition_page", params)
    if "edition" in metafunc.fixturenames:
        metafunc.parametrize("edition", [pytest.param(e, id=e.name) for e in EDITIONS])


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site at {SITE}: run `make book` first", pytrace=False)
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def visitor(browser, server, request):
    v = Visitor(browser, server)
    request.config._book_visitor = v  # for the timing summary
    return v


@pytest.fixture
def view(request, visitor):
    edition, page, viewport = request.param
    visit = visitor.get(edition, page, viewport)
    if visit.error:
        pytest.fail(f"{visit.where}: the visit itself failed: {visit.error}", pytrace=False)
    return visit


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # One line per check: how many of its cases failed, and which pages (the fix list).
    outcomes: dict[str, dict[str, list[str]]] = {}
    for kind in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(kind, []):
            if getattr(rep, "when", "call") != "call" and kind == "passed":
                continue
            name, _, param = rep.nodeid.partition("[")
            outcomes.setdefault(name.split("::")[-1], {}).setdefault(kind, []).append(param.rstrip("]"))
    if outcomes:
        terminalreporter.write_sep("-", "browser test: failures by check")
        for name, by in sorted(outcomes.items()):
            bad = by.get("failed", []) + by.get("error", [])
            total = len(bad) + len(by.get("passed", []))
            if bad:
                cases = ", ".join(b.removeprefix("en:") for b in bad[:6]) + (" …" if len(bad) > 6 else "")
                terminalreporter.write_line(f"FAIL {name}: {len(bad)}/{total}  [{cases}]")
            else:
                terminalreporter.write_line(f"ok   {name}: {total}/{total}")
    visitor = getattr(config, "_book_visitor", None)
    if not visitor or not visitor.cache:
        return
    visits = list(visitor.cache.values())
    total = sum(v.seconds for v in visits)
    slow = sorted(visits, key=lambda v: -v.seconds)[:3]
    per = {name: sum(1 for v in visits if v.viewport == name) for name in VIEWPORTS}
    phases: dict[str, float] = {}
    for v in visits:
        for phase, seconds in v.timings.items():
            phases[phase] = phases.get(phase, 0.0) + seconds
    terminalreporter.write_line(
        "browser time by phase: " + ", ".join(f"{p} {s:.0f} s" for p, s in sorted(phases.items(), key=lambda x: -x[1]))
    )
    terminalreporter.write_line(
        f"browser: {len(visits)} page visits ({', '.join(f'{n} {k}' for k, n in per.items())}) in {total:.0f} s; "
        f"slowest: {', '.join(f'{v.where} {v.seconds:.1f} s' for v in slow)}"
    )
