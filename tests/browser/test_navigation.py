"""Navigation by real clicks and taps on the buttons a reader sees: the chapter drawer and the
page contents at phone and tablet width, the sidebar toggle at desktop width, and the solution
dropdowns at every width."""

from __future__ import annotations

import pytest
from checks import check


@pytest.mark.viewports("phone", "tablet")
def test_chapter_drawer_opens_and_closes(view):
    """The visible ☰ opens <dialog id=pst-primary-sidebar-modal> with every chapter's link; Escape
    and a tap on the backdrop close it."""
    nav = view.nav["chapters"]
    check(view.where, "chapter drawer (☰) does not work", nav["problems"])


@pytest.mark.viewports("phone", "tablet")
def test_page_contents_drawer_opens_and_closes(view):
    """On a page with in-page contents, the visible contents button opens
    <dialog id=pst-secondary-sidebar-modal> with its links; Escape and the backdrop close it."""
    nav = view.nav["contents"]
    if not nav["applicable"]:
        return  # the page has no in-page contents
    check(view.where, "page-contents drawer does not work", nav["problems"])


@pytest.mark.viewports("desktop")
def test_sidebar_toggle_collapses_and_restores(view):
    """At 1366 px the visible ☰ hides the primary sidebar; a second click brings it back."""
    check(view.where, "desktop sidebar toggle does not work", view.nav["sidebar_toggle"]["problems"])


def test_solutions_open_from_their_title(view):
    """Clicking (tapping) a solution's title bar where a reader does, on its link text, opens the
    solution in place; it must not jump to the exercise instead."""
    problems = []
    for s in view.solutions:
        if s.get("error"):
            problems.append(f"solution {s['index'] + 1} ({s['title']!r}): {s['error']}")
        elif not s["opened"]:
            jumped = f"; it jumped to {s['url_after'].rsplit('/', 1)[-1]} instead" if s["jumped"] else ""
            problems.append(
                f"solution {s['index'] + 1} ({s['title']!r}, #{s['id']}): a click on {s['on']} "
                f"(landing on {s['hit']}) did not open it{jumped}"
            )
        elif s["jumped"]:
            problems.append(
                f"solution {s['index'] + 1} ({s['title']!r}): opened, but the page also jumped to "
                f"{s['url_after'].rsplit('/', 1)[-1]}"
            )
    check(view.where, "solutions that do not open from their title", problems)
