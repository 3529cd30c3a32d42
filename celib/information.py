r"""Information measures of discrete distributions, in any unit.

This is celib's math-convention module: arguments come in the order of the formulas, the
target distribution first (:math:`H(p, q)`, :math:`D_{\mathrm{KL}}(p \,\|\, q)`), and they are
probabilities, not logits. :mod:`celib.functional` follows PyTorch instead (model output first,
log-space inputs); the README's translation table maps one onto the other.

All functions take probabilities as torch tensors (array-likes are accepted), return tensors,
and are differentiable. ``base`` chooses the unit: ``2`` gives bits, ``math.e`` (the default,
the unit of PyTorch's losses) gives nats, ``10`` gives hartleys. One nat is
:math:`1/\ln 2 \approx 1.4427` bits.
"""

from __future__ import annotations

import math

import torch

from celib._checks import ArrayLike, as_float_tensor, check_distribution, check_probabilities, check_values, log_of_base
from celib.printing import no_negative_zero


def self_information(p: ArrayLike, base: float = math.e) -> torch.Tensor:
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
    return _in_base(-torch.log(p), log_b)


def _in_base(nats: torch.Tensor, log_b: float) -> torch.Tensor:
    """Convert ``nats`` to units of the base whose log is ``log_b``.

    The -0.0 of a certain outcome (``-log 1``, or a sum of ``-0 log 0`` terms) becomes 0.0, so
    that a printed entropy of zero shows no sign.
    """
    return no_negative_zero(nats / log_b)


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x * ln(y)`` with ``0 ln 0 = 0`` and finite gradients where ``x = y = 0``.

    ``torch.xlogy`` gives the value 0 at ``x = 0`` but a NaN gradient for ``y`` at ``x = y = 0``
    (``x / y = 0 / 0``). Replacing ``y`` by 1 there keeps the value 0 and makes both gradients 0.
    Elsewhere the gradients are exact: ``ln y`` for ``x`` (also at ``x = 0``) and ``x / y`` for ``y``.
    """
    both_zero = (x == 0) & (y == 0)
    return torch.xlogy(x, torch.where(both_zero, 1.0, y))


def _as_pair(p: ArrayLike, q: ArrayLike, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two distributions along ``dim`` of the same shape; return them as float tensors."""
    p, q = as_float_tensor(p, "p"), as_float_tensor(q, "q")
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape; got p of shape {tuple(p.shape)} and q of shape {tuple(q.shape)}"
        )
    check_distribution(p, "p", dim)
    check_distribution(q, "q", dim)
    return p, q


def _as_joint(pxy: ArrayLike) -> torch.Tensor:
    """Validate a joint distribution ``pxy[..., x, y]``: at least 2-D, each (x, y) table sums to 1."""
    pxy = as_float_tensor(pxy, "pxy")
    check_distribution(pxy, "pxy", dim=(-2, -1))
    return pxy


def _marginals(pxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p(x), p(y))`` of ``pxy[..., x, y]``: sum out the other variable."""
    return pxy.sum(-1), pxy.sum(-2)


def entropy(p: ArrayLike, dim: int = -1, base: float = math.e) -> torch.Tensor:
    r"""Entropy, the expected surprise of a distribution: :math:`H(p) = -\sum_x p(x) \log_b p(x)`.

    Terms with :math:`p(x) = 0` contribute 0 (the limit of :math:`t \log t` as :math:`t \to 0`).
    :math:`0 \le H(p) \le \log_b K` for :math:`K` outcomes, with the maximum at the uniform
    distribution. The gradient of an entry :math:`p(x) = 0` is taken as 0 (the one-sided
    derivative :math:`-\log_b p - 1/\ln b` is infinite there).

    Args:
        p: probability distributions along ``dim`` (entries in [0, 1], summing to 1); any other
            dims are a batch.
        dim: the dimension that holds the outcomes.
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``p``'s shape without ``dim``: one entropy per distribution.

    >>> entropy([0.5, 0.5], base=2)
    tensor(1.)
    >>> entropy([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], base=2)
    tensor([0., 2.])
    """
    p = as_float_tensor(p, "p")
    log_b = log_of_base(base)
    check_distribution(p, "p", dim)
    return _in_base(-_xlogy(p, p).sum(dim), log_b)


def cross_entropy(p: ArrayLike, q: ArrayLike, dim: int = -1, base: float = math.e) -> torch.Tensor:
    r"""Cross entropy of ``q`` relative to ``p``: :math:`H(p, q) = -\sum_x p(x) \log_b q(x)`.

    The expected surprise of outcomes drawn from :math:`p` when you believe :math:`q`.
    :math:`H(p, q) = H(p) + D_{\mathrm{KL}}(p \,\|\, q) \ge H(p)`, with equality only at
    :math:`q = p`. Terms with :math:`p(x) = 0` contribute 0 even where :math:`q(x) = 0`; an
    outcome with :math:`p(x) > 0 = q(x)` makes it ``inf``.

    This is the quantity behind ``torch.nn.functional.cross_entropy``, which takes logits and
    targets instead of two distributions.

    Args:
        p: the true distributions along ``dim``.
        q: the model distributions, same shape as ``p``.
        dim: the dimension that holds the outcomes.
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``p``'s shape without ``dim``.

    >>> cross_entropy([0.5, 0.5], [0.25, 0.75], base=2).round(decimals=4)
    tensor(1.2075)
    >>> cross_entropy([1.0, 0.0], [0.5, 0.5], base=2)  # one-hot p: the surprise of its outcome
    tensor(1.)
    >>> cross_entropy([0.5, 0.5], [1.0, 0.0])
    tensor(inf)
    """
    p, q = _as_pair(p, q, dim)
    log_b = log_of_base(base)
    return _in_base(-_xlogy(p, q).sum(dim), log_b)


def kl_divergence(p: ArrayLike, q: ArrayLike, dim: int = -1, base: float = math.e) -> torch.Tensor:
    r"""Kullback-Leibler divergence :math:`D_{\mathrm{KL}}(p \,\|\, q) = \sum_x p(x) \log_b \frac{p(x)}{q(x)}`.

    The extra surprise, on average over :math:`p`, of believing :math:`q` instead of :math:`p`:
    :math:`D_{\mathrm{KL}}(p \,\|\, q) = H(p, q) - H(p) \ge 0`, zero only at :math:`q = p`, and
    not symmetric. Terms with :math:`p(x) = 0` contribute 0 whatever :math:`q(x)` is; an outcome
    with :math:`p(x) > 0 = q(x)` makes it ``inf``. Computed term by term, so
    ``kl_divergence(p, p)`` is exactly 0.

    Args:
        p: the true distributions along ``dim``.
        q: the model distributions, same shape as ``p``.
        dim: the dimension that holds the outcomes.
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``p``'s shape without ``dim``.

    >>> kl_divergence([0.5, 0.5], [0.5, 0.5])
    tensor(0.)
    >>> kl_divergence([0.5, 0.5], [0.25, 0.75], base=2).round(decimals=4)
    tensor(0.2075)
    >>> kl_divergence([1.0, 0.0], [0.5, 0.5], base=2)
    tensor(1.)
    """
    p, q = _as_pair(p, q, dim)
    log_b = log_of_base(base)
    return _in_base((_xlogy(p, p) - _xlogy(p, q)).sum(dim), log_b)


def joint_entropy(pxy: ArrayLike, base: float = math.e) -> torch.Tensor:
    r"""Joint entropy :math:`H(X, Y) = -\sum_{x, y} p(x, y) \log_b p(x, y)`.

    The entropy of the pair, treated as one variable.

    Args:
        pxy: joint distributions ``pxy[..., x, y] = P(X = x, Y = y)``: at least 2-D, each table
            over the last two dims sums to 1; leading dims are a batch.
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``pxy``'s shape without the last two dims.

    >>> joint_entropy([[0.25, 0.25], [0.25, 0.25]], base=2)  # two fair coins: 2 bits
    tensor(2.)
    """
    pxy = _as_joint(pxy)
    log_b = log_of_base(base)
    return _in_base(-_xlogy(pxy, pxy).sum((-2, -1)), log_b)


def conditional_entropy(pxy: ArrayLike, base: float = math.e) -> torch.Tensor:
    r"""Conditional entropy :math:`H(Y \mid X) = -\sum_{x, y} p(x, y) \log_b \frac{p(x, y)}{p(x)}`.

    The surprise left in :math:`Y` once :math:`X` is known, averaged over :math:`X`. The chain
    rule :math:`H(X, Y) = H(X) + H(Y \mid X)` holds, and :math:`0 \le H(Y \mid X) \le H(Y)`.
    For :math:`H(X \mid Y)`, pass ``pxy.transpose(-2, -1)``.

    Args:
        pxy: joint distributions ``pxy[..., x, y] = P(X = x, Y = y)`` (see :func:`joint_entropy`).
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``pxy``'s shape without the last two dims; never negative.

    >>> conditional_entropy([[0.5, 0.0], [0.0, 0.5]], base=2)  # Y is a copy of X
    tensor(0.)
    >>> conditional_entropy([[0.25, 0.25], [0.25, 0.25]], base=2)  # Y independent of X
    tensor(1.)
    """
    pxy = _as_joint(pxy)
    log_b = log_of_base(base)
    px, _ = _marginals(pxy)
    # Term by term, p(x, y) <= p(x) even after rounding, so no term (and no sum) is negative.
    return _in_base(-(_xlogy(pxy, pxy) - _xlogy(pxy, px.unsqueeze(-1))).sum((-2, -1)), log_b)


def mutual_information(pxy: ArrayLike, base: float = math.e) -> torch.Tensor:
    r"""Mutual information :math:`I(X; Y) = \sum_{x, y} p(x, y) \log_b \frac{p(x, y)}{p(x)\,p(y)}`.

    How much knowing one variable reduces the surprise of the other:
    :math:`I(X; Y) = H(X) + H(Y) - H(X, Y) = H(Y) - H(Y \mid X)`. It is the KL divergence of the
    joint from the product of its marginals, so :math:`I \ge 0`, with 0 exactly for independent
    variables (up to rounding, which can leave values of order ``1e-16``).

    Args:
        pxy: joint distributions ``pxy[..., x, y] = P(X = x, Y = y)`` (see :func:`joint_entropy`).
        base: the logarithm's base (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``pxy``'s shape without the last two dims.

    >>> mutual_information([[0.5, 0.0], [0.0, 0.5]], base=2)  # Y is a copy of a fair coin X
    tensor(1.)
    >>> mutual_information([[0.25, 0.25], [0.25, 0.25]], base=2)
    tensor(0.)
    """
    pxy = _as_joint(pxy)
    log_b = log_of_base(base)
    px, py = _marginals(pxy)
    independent = px.unsqueeze(-1) * py.unsqueeze(-2)  # (..., X, Y)
    return _in_base((_xlogy(pxy, pxy) - _xlogy(pxy, independent)).sum((-2, -1)), log_b)


def perplexity(cross_entropy_value: ArrayLike, base: float = math.e) -> torch.Tensor:
    r"""Perplexity :math:`b^{H}` of a (mean) cross entropy or entropy :math:`H` measured in base :math:`b`.

    The effective number of equally likely choices: a model as surprised as a uniform guess over
    :math:`K` outcomes has perplexity :math:`K`. The value does not depend on the unit, as long
    as ``base`` is the unit of ``cross_entropy_value``: ``perplexity(loss)`` for a PyTorch loss
    in nats (:math:`e^{H}`), ``perplexity(bits, base=2)`` for bits (:math:`2^{H}`).

    Args:
        cross_entropy_value: cross entropies (or entropies), any shape, each >= 0, in units of
            ``base``; ``inf`` gives ``inf``.
        base: the unit of ``cross_entropy_value`` (2 for bits, ``math.e`` for nats); > 0 and != 1.

    Returns:
        A tensor of ``cross_entropy_value``'s shape.

    >>> perplexity(3.0, base=2)
    tensor(8.)
    >>> perplexity(torch.tensor(10.0).log())  # ln 10 nats: a uniform guess over 10 classes
    tensor(10.)
    """
    value = as_float_tensor(cross_entropy_value, "cross_entropy_value")
    log_b = log_of_base(base)
    check_values(
        value, "cross_entropy_value", value.detach() >= 0, "cross entropies >= 0 (in units of base)"
    )  # False for NaN
    return torch.exp(value * log_b)
