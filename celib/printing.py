"""Numbers as the chapters print them: rounded, and never with a sign on zero.

Printed outputs are compared character by character on every run (nbval), so a value that is
``-0.0`` on one machine and ``0.0`` on another, or a rounding noise of ``-1e-17``, must print
the same.
"""

from __future__ import annotations

from typing import TypeVar

import torch

__all__ = ["fmt", "no_negative_zero"]

Number = TypeVar("Number", float, torch.Tensor)


def no_negative_zero(x: Number) -> Number:
    """``x + 0.0``: IEEE 754 addition gives ``-0.0 + 0.0 = +0.0`` and leaves every other value alone.

    >>> no_negative_zero(-0.0), no_negative_zero(torch.tensor([-0.0, -1.0]))
    (0.0, tensor([ 0., -1.]))
    """
    return x + 0.0


def fmt(value: float, digits: int = 4, signed: bool = False) -> str:
    """``value`` rounded to ``digits`` decimals, as text; a sign is shown if ``signed``, and zero has none.

    >>> fmt(-1e-17), fmt(0.125, 2, signed=True), fmt(-0.5, signed=True)
    ('0.0000', '+0.12', '-0.5000')
    """
    return f"{no_negative_zero(round(value, digits)):{'+' if signed else ''}.{digits}f}"
