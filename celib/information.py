r"""Information measures of discrete distributions, in any unit.

All functions take probabilities as torch tensors (array-likes are accepted), return tensors,
and are differentiable. ``base`` chooses the unit: ``2`` gives bits, ``math.e`` (the default,
the unit of PyTorch's losses) gives nats, ``10`` gives hartleys. One nat is
:math:`1/\ln 2 \approx 1.4427` bits.
"""

from __future__ import annotations

import math

import torch

from celib._checks import as_float_tensor, check_probabilities, log_of_base


def self_information(p, base: float = math.e) -> torch.Tensor:
    r"""Surprise of an outcome of probability ``p``: :math:`I(p) = -\log_b p`.

    :math:`I` is 0 for a certain outcome (``p = 1``), grows as ``p`` shrinks, is ``inf`` for an
    impossible one (``p = 0``), and adds up over independent events:
    :math:`I(p q) = I(p) + I(q)`.

    Args:
        p: probabilities in [0, 1], any shape.
        base: the logarithm's base ``b`` (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``p``'s shape: the surprise of each entry in units of ``base``.

    >>> self_information(0.5, base=2)
    tensor(1.)
    >>> self_information([1.0, 0.25, 0.0], base=2)
    tensor([0., 2., inf])
    """
    p = as_float_tensor(p, "p")
    log_b = log_of_base(base)
    check_probabilities(p, "p")
    # Adding 0.0 turns the -0.0 of a certain outcome (p = 1) into 0.0.
    return -torch.log(p) / log_b + 0.0
