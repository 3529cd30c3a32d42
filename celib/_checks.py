"""Argument validation shared by the celib modules.

Validate at the boundary, once: every public function calls these helpers on its arguments
before computing, so an error names the argument the caller passed. Checks read values with
``detach()`` and never change what autograd records.
"""

from __future__ import annotations

import math
from numbers import Real

import torch


def as_float_tensor(x, name: str) -> torch.Tensor:
    """Return ``x`` as a floating-point tensor (array-likes accepted; integers become the default dtype).

    >>> as_float_tensor([0, 1], "p")
    tensor([0., 1.])
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or an array-like of numbers; got {type(x).__name__}") from err
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def log_of_base(base) -> float:
    """Return ``ln(base)``, the divisor that converts nats to units of ``base``.

    ``base`` must be a real number, positive and different from 1 (``2`` gives bits,
    ``math.e`` nats, ``10`` hartleys).

    >>> round(log_of_base(2), 6)
    0.693147
    """
    if isinstance(base, bool) or not isinstance(base, Real) or not math.isfinite(base):
        raise ValueError(f"base must be a finite real number > 0 and != 1; got {base!r}")
    if base <= 0 or base == 1:
        raise ValueError(f"base must be > 0 and != 1; got {base!r}")
    return math.log(base)


def check_probabilities(p: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` unless every entry of ``p`` lies in [0, 1] (NaN is rejected too)."""
    values = p.detach()
    bad = ~((values >= 0) & (values <= 1))  # also true for NaN
    if bad.any():
        first = values[bad].flatten()[0].item()
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; got {int(bad.sum())} value(s) outside, e.g. {first!r}"
        )


def sum_tolerance(dtype: torch.dtype, size: int) -> float:
    """Tolerance for ``|sum(p) - 1|``: rounding error of summing ``size`` terms in ``dtype``.

    >>> sum_tolerance(torch.float64, 100) < 1e-12 < sum_tolerance(torch.float32, 100) < 1e-4
    True
    """
    return 16 * math.sqrt(max(size, 1)) * torch.finfo(dtype).eps


def check_distribution(p: torch.Tensor, name: str, dim: int | tuple[int, ...] = -1) -> None:
    """Raise ``ValueError`` unless ``p`` holds probability distributions along ``dim``.

    Every entry must lie in [0, 1] and each slice along ``dim`` (one dim, or a tuple of dims
    for a joint distribution) must sum to 1 within :func:`sum_tolerance` of its dtype.

    >>> check_distribution(torch.tensor([[0.5, 0.25], [0.125, 0.125]]), "pxy", dim=(-2, -1))
    >>> check_distribution(torch.tensor([0.5, 0.25]), "p")
    Traceback (most recent call last):
    ...
    ValueError: p must sum to 1 along dim -1 (tolerance 2.7e-06 for torch.float32); got a sum of 0.75
    """
    dims = dim if isinstance(dim, tuple) else (dim,)
    if p.dim() < len(dims):
        expected = "one dimension (the outcomes)" if len(dims) == 1 else f"{len(dims)} dimensions (the outcomes)"
        raise ValueError(f"{name} must have at least {expected}; got shape {tuple(p.shape)}")
    try:
        size = math.prod(p.shape[d] for d in dims)
    except IndexError as err:
        raise IndexError(f"dim {dim} is out of range for {name} with shape {tuple(p.shape)}") from err
    check_probabilities(p, name)
    totals = p.detach().sum(dims)
    error = (totals - 1).abs()
    tol = sum_tolerance(p.dtype, size)
    if (error > tol).any():
        worst = totals.flatten()[error.flatten().argmax()].item()
        raise ValueError(
            f"{name} must sum to 1 along dim {dim} (tolerance {tol:.1e} for {p.dtype}); got a sum of {worst!r}"
        )


def check_class_indices(target: torch.Tensor, num_classes: int, name: str = "target", ignore_index: int | None = None) -> None:
    """Raise ``IndexError`` unless every entry of ``target`` lies in ``[0, num_classes)`` or equals ``ignore_index``.

    >>> check_class_indices(torch.tensor([0, 2, -100]), 3, ignore_index=-100)
    >>> check_class_indices(torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
    ...
    IndexError: target must hold class indices in [0, 3); got 3
    """
    values = target.detach().long()
    outside = (values < 0) | (values >= num_classes)
    if ignore_index is not None:
        outside &= values != ignore_index
    if outside.any():
        allowed = f"[0, {num_classes})" + ("" if ignore_index is None else f" or ignore_index={ignore_index}")
        raise IndexError(f"{name} must hold class indices in {allowed}; got {values[outside].flatten()[0].item()}")


def check_class_targets(
    target, num_classes: int | None, name: str = "target", ignore_index: int | None = None
) -> None:
    """Raise unless ``target`` is a ``torch.long`` tensor of class indices in ``[0, num_classes)`` (or ``ignore_index``).

    With ``num_classes=None`` only the type and dtype are checked (the range needs the logits).

    >>> check_class_targets(torch.tensor([0.0, 1.0]), 2, "labels")
    Traceback (most recent call last):
    ...
    TypeError: labels has dtype torch.float32; class-index targets must be torch.long
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"{name} must be a torch.long tensor of class indices; got {type(target).__name__}")
    if target.dtype != torch.long:
        raise TypeError(f"{name} has dtype {target.dtype}; class-index targets must be torch.long")
    if num_classes is None:
        return
    check_class_indices(target, num_classes, name, ignore_index)


def check_reduction(reduction, allowed: tuple[str, ...] = ("none", "mean", "sum")) -> None:
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``.

    >>> check_reduction("avg")
    Traceback (most recent call last):
    ...
    ValueError: reduction must be one of 'none', 'mean', 'sum'; got 'avg'
    """
    if not isinstance(reduction, str) or reduction not in allowed:
        expected = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction must be one of {expected}; got {reduction!r}")


def check_label_smoothing(label_smoothing) -> float:
    """Return ``label_smoothing`` as a float, or raise ``ValueError`` unless it lies in [0, 1].

    >>> check_label_smoothing(1.5)
    Traceback (most recent call last):
    ...
    ValueError: label_smoothing must be a float in [0, 1]; got 1.5
    """
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, Real) or not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be a float in [0, 1]; got {label_smoothing!r}")
    return float(label_smoothing)
