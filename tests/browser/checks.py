"""How a failing check reports: what failed, where (page, viewport, element), a few examples."""

from __future__ import annotations

import pytest

LIMIT = 12


def fail(where: str, what: str, items: list[str], limit: int = LIMIT):
    lines = [f"{where}: {what} ({len(items)}):"]
    lines += [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  … and {len(items) - limit} more")
    pytest.fail("\n".join(lines), pytrace=False)


def check(where: str, what: str, items: list[str], limit: int = LIMIT):
    if items:
        fail(where, what, items, limit)
