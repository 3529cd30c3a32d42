"""Fixtures of the browser test: one Chromium, one local server, one cached visit per
(edition, page, viewport).

A test that takes the ``view`` fixture runs once per built page of every edition and per
viewport named by its ``@pytest.mark.viewports(...)`` marker (desktop and phone by default);
``view`` is the ``harness.Visit`` of that page. ``edition_page`` gives (edition, page) without
a browser. ``edition`` runs a site-wide test once per edition.

Under pytest-xdist (``make browser-test`` runs two workers with ``--dist loadscope``) every test
of one visit runs in the same worker, so each page is still loaded once per viewport; so do the
tests of one edition's PDF and of one edition's layout measurements (module fixtures): see
:func:`work_unit`.
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


#: Modules whose module fixtures work on a whole edition (its PDF, its layout measurements).
EDITION_MODULES = ("test_pdf.py", "test_layout.py")


def work_unit(nodeid: str) -> str:
    """The tests that pytest-xdist runs in one worker, named by one of their ids: every test of one
    page visit (their parameter is the visit, ``edition:page@viewport``); every test of one
    edition in an ``EDITION_MODULES`` module; any other test on its own."""
    name, _, param = nodeid.partition("[")
    param = param.removesuffix("]")
    if "@" in param:
        return param
    module = name.split("::")[0]
    if module.endswith(EDITION_MODULES):
        return f"{module}[{param.split('-')[0]}]"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` with :func:`work_unit` as the scope. (xdist's ``loadgroup`` marks do not
    work with pytest 9.2, whose node ids ignore the suffix xdist gives them.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


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
    yield v
    # for the timing summary: this process's visits (an xdist worker sends them to the controller)
    records = [(visit.where, visit.viewport, visit.seconds, visit.timings) for visit in v.cache.values()]
    config = request.config
    if hasattr(config, "workeroutput"):
        config.workeroutput["book_visits"] = records
    else:
        config._book_visits = records


@pytest.fixture
def view(request, visitor):
    edition, page, viewport = request.param
    visit = visitor.get(edition, page, viewport)
    if visit.error:
        pytest.fail(f"{visit.where}: the visit itself failed: {visit.error}", pytrace=False)
    return visit


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist's controller: collect a finished worker's visits for the timing summary."""
    visits = node.config.__dict__.setdefault("_book_visits", [])
    visits.extend(getattr(node, "workeroutput", {}).get("book_visits", []))


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
    visits = getattr(config, "_book_visits", [])
    if not visits:
        return
    total = sum(seconds for _, _, seconds, _ in visits)
    slow = sorted(visits, key=lambda v: -v[2])[:3]
    per = {name: sum(1 for v in visits if v[1] == name) for name in VIEWPORTS}
    phases: dict[str, float] = {}
    for _, _, _, timings in visits:
        for phase, seconds in timings.items():
            phases[phase] = phases.get(phase, 0.0) + seconds
    terminalreporter.write_line(
        "browser time by phase: " + ", ".join(f"{p} {s:.0f} s" for p, s in sorted(phases.items(), key=lambda x: -x[1]))
    )
    terminalreporter.write_line(
        f"browser: {len(visits)} page visits ({', '.join(f'{n} {k}' for k, n in per.items())}) in {total:.0f} s "
        f"of browser time; slowest: {', '.join(f'{where} {seconds:.1f} s' for where, _, seconds, _ in slow)}"
    )
