"""Every page loads offline: no remote request, no failed local request, no console or page error
(on load or after the test's clicks, which each error names). The tablet visits skip MathJax and
images (they only test navigation), so these checks run at desktop and phone width."""

from __future__ import annotations

import pytest
from checks import check


@pytest.mark.viewports("desktop", "phone")
def test_no_failed_or_remote_requests(view):
    problems = [f"remote (blocked): {r}" for r in view.remote]
    problems += [f"failed: {r}" for r in view.failed]
    problems += [f"HTTP {r}" for r in view.http_errors]
    if view.status is not None and view.status >= 400:
        problems.insert(0, f"the page itself answered {view.status}")
    check(view.where, "failed or remote requests", problems)


@pytest.mark.viewports("desktop", "phone")
def test_no_console_or_page_errors(view):
    check(
        view.where,
        "console errors and uncaught page errors",
        [f"console: {c}" for c in view.console] + [f"page error: {e}" for e in view.page_errors],
    )
