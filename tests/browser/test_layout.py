"""Horizontal overflow: the page never scrolls sideways, and nothing sticks out of the article
column unless it scrolls inside its own box."""

from __future__ import annotations

from checks import check


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
