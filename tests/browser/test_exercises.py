"""Exercises and solutions as built: a solution's title names its exercise as the exercise
itself is titled, in the edition's language (sphinx-exercise builds that title at write time,
from its own copy of the exercise)."""

from __future__ import annotations

from urllib.parse import urljoin, urlparse

from bs4 import BeautifulSoup
from checks import check
from harness import SITE


def test_solution_titles_repeat_their_exercise_titles(edition):
    """The part of "Solution Exercise 1 (Two aces in a row)" after "Solution" is the exercise's
    own title, so in the Chinese edition it is the translated one: 解答 练习 1 (连抽两张 A)."""
    soups: dict[str, BeautifulSoup] = {}

    def soup(page: str) -> BeautifulSoup:
        if page not in soups:
            soups[page] = BeautifulSoup((SITE / page).read_text(encoding="utf-8"), "html.parser")
        return soups[page]

    problems, solutions = [], 0
    for page in edition.pages():
        for solution in soup(page).select("div.solution > .admonition-title"):
            link = solution.find("a", href=True)
            if link is None:
                continue
            solutions += 1
            target = urlparse(urljoin(page, link["href"]))
            exercise = soup(target.path).find(id=target.fragment)
            title = exercise and exercise.select_one(".admonition-title")
            shown, wanted = " ".join(link.get_text().split()), title and " ".join(title.get_text().split())
            if shown != wanted:
                problems.append(f"{page}: the solution title says “{shown}”, its exercise is titled “{wanted}”")
    assert solutions, f"{edition.name}: no solution titles found"
    check(edition.name, "solution titles that do not repeat their exercise's title", problems)
