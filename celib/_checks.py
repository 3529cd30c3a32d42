"""Argument validation shared by every celib module, and the one loss reduction.

Validate at the boundary, once: every public function calls these checks on its arguments
before computing, so an error names the argument the caller passed. The rule for errors
(also in the README):

- ``TypeError``: the argument has the wrong type or dtype (a float where an int is expected,
  a list where a tensor is expected, integer logits, ``torch.int32`` class indices);
- ``ValueError``: the type is right but the value or shape is not (a negative weight, a
  reduction that does not exist, probabilities that do not sum to 1);
- ``IndexError``: an index is out of range (a class index outside ``[0, C)``, a ``dim``).

Every message reads ``<argument> must ...; got ...``, or ``<argument> has dtype/shape ...;
expected ...``, and the same mistake gets the same message in every module. Each check returns
the value it accepted, converted to what celib computes with (``int``, ``float``, a tensor).

Integers are Python ints or numpy integers (``numbers.Integral``), reals any
``numbers.Real``; ``bool`` is neither. Checks that read tensor values (ranges, sums) use
``detach()`` and never change what autograd records; they make a function synchronise with the
device and break a ``torch.compile`` graph, a price celib pays for naming the bad value (the
README explains the choice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, TypeAlias

import torch

#: What the math-convention modules (``information``, ``coding``) accept for a tensor of
#: numbers: a tensor, a Python number or a (nested) sequence of numbers, numpy arrays included.
ArrayLike: TypeAlias = torch.Tensor | float | Sequence[Any]
#: Class-index dtypes: the two that ``torch.nn.functional.cross_entropy`` accepts.
INDEX_DTYPES = (torch.int64, torch.uint8)
INDEX_DTYPES_TEXT = "torch.long or torch.uint8"


def describe(value: Any) -> str:
    """How a message shows a wrong-typed value: its repr and its type."""
    return f"{value!r} ({type(value).__name__})"


# --------------------------------------------------------------------------------------------
# Python scalars
# --------------------------------------------------------------------------------------------


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int``: an integer (not a bool), at least ``minimum`` if given.

    >>> check_int(2.5, "n_bins", minimum=1)
    Traceback (most recent call last):
    ...
    TypeError: n_bins must be an int >= 1; got 2.5 (float)
    """
    return _check_int(value, name, minimum, "an int" if minimum is None else f"an int >= {minimum}")


def check_optional_int(value: Any, name: str, *, minimum: int | None = None) -> int | None:
    """Return ``value`` as an ``int``, or None if it is None (the argument's default).

    >>> check_optional_int(0, "chunk_size", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: chunk_size must be an int >= 1 or None; got 0
    """
    if value is None:
        return None
    return _check_int(value, name, minimum, ("an int" if minimum is None else f"an int >= {minimum}") + " or None")


def _check_int(value: Any, name: str, minimum: int | None, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be {expected}; got {describe(value)}")
    if minimum is not None and int(value) < minimum:
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return int(value)


def check_real(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """Return ``value`` as a ``float``: a finite real number (not a bool) in ``[minimum, maximum]``.

    >>> check_real(1.5, "label_smoothing", minimum=0, maximum=1)
    Traceback (most recent call last):
    ...
    ValueError: label_smoothing must be a real number in [0, 1]; got 1.5
    """
    if minimum is not None and maximum is not None:
        expected = f"a real number in [{minimum}, {maximum}]"
    elif minimum is not None:
        expected = f"a finite real number >= {minimum}"
    else:
        expected = "a finite real number"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {expected}; got {describe(value)}")
    number = float(value)
    if (
        not math.isfinite(number)
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return number


def check_optional_positive_real(value: Any, name: str) -> float | None:
    """Return ``value`` as a ``float`` (a finite real number > 0, not a bool), or None if it is None.

    >>> check_optional_positive_real(0, "softcap")
    Traceback (most recent call last):
    ...
    ValueError: softcap must be a finite real number > 0 or None; got 0
    """
    if value is None:
        return None
    expected = "a finite real number > 0 or None"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {expected}; got {describe(value)}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return number


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a ``bool``.

    >>> check_bool(1, "log_target")
    Traceback (most recent call last):
    ...
    TypeError: log_target must be a bool; got 1 (int)
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {describe(value)}")
    return value


def check_choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``allowed``.

    >>> check_choice("avg", "reduction", ("none", "mean", "sum"))
    Traceback (most recent call last):
    ...
    ValueError: reduction must be one of 'none', 'mean', 'sum'; got 'avg'
    """
    expected = "one of " + ", ".join(repr(choice) for choice in allowed)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {expected}; got {describe(value)}")
    if value not in allowed:
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return value


def check_reduction(reduction: Any, allowed: Sequence[str] = ("none", "mean", "sum")) -> str:
    """Return ``reduction`` if it is one of ``allowed`` (PyTorch's three by default)."""
    return check_choice(reduction, "reduction", allowed)


def log_of_base(base: Any) -> float:
    """Return ``ln(base)``, the divisor that turns nats into units of ``base``.

    ``base`` must be a finite real number, positive and different from 1 (``2`` gives bits,
    ``math.e`` nats, ``10`` hartleys).

    >>> round(log_of_base(2), 6)
    0.693147
    >>> log_of_base(1)
    Traceback (most recent call last):
    ...
    ValueError: base must be a finite real number > 0 and != 1; got 1
    """
    expected = "a finite real number > 0 and != 1"
    if isinstance(base, bool) or not isinstance(base, Real):
        raise TypeError(f"base must be {expected}; got {describe(base)}")
    number = float(base)
    if not (math.isfinite(number) and number > 0 and number != 1):
        raise ValueError(f"base must be {expected}; got {base!r}")
    return math.log(number)


# --------------------------------------------------------------------------------------------
# Tensors: type, dtype, values
# --------------------------------------------------------------------------------------------


def check_tensor(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` if it is a tensor.

    >>> check_tensor([0, 1], "target")
    Traceback (most recent call last):
    ...
    TypeError: target must be a torch.Tensor; got list
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    return x


def check_floating(x: Any, name: str, holds: str) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor (``holds`` says what it holds: logits...).

    >>> check_floating(torch.tensor([1, 2]), "input", "logits")
    Traceback (most recent call last):
    ...
    TypeError: input has dtype torch.int64; logits must be floating point
    """
    check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name} has dtype {x.dtype}; {holds} must be floating point")
    return x


def check_same_dtype(x: torch.Tensor, name: str, reference: torch.Tensor, whose: str = "input's") -> torch.Tensor:
    """Return ``x`` if it has the dtype of ``reference`` (``whose`` names the reference in the message)."""
    if x.dtype != reference.dtype:
        raise TypeError(f"{name} has dtype {x.dtype}; it must match {whose} dtype {reference.dtype}")
    return x


def as_float_tensor(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` as a floating-point tensor; array-likes and Python numbers are converted.

    Integers become the default dtype. Only the math-convention modules (``information``,
    ``coding``) take array-likes; the PyTorch-convention ones take tensors, as PyTorch does.

    >>> as_float_tensor([0, 1], "p")
    tensor([0., 1.])
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or an array-like of numbers; got {type(x).__name__}") from err
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} has dtype {x.dtype}; it must hold real numbers")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def as_probability_vector(p: Any, name: str) -> torch.Tensor:
    """Return ``p`` as a float tensor if it is one distribution: 1-D, entries in [0, 1], sum 1.

    >>> as_probability_vector([[0.5, 0.5]], "p")
    Traceback (most recent call last):
    ...
    ValueError: p has shape (1, 2); expected a 1-D probability vector
    """
    p = as_float_tensor(p, name)
    if p.dim() != 1:
        raise ValueError(f"{name} has shape {tuple(p.shape)}; expected a 1-D probability vector")
    return check_distribution(p, name)


def check_values(
    x: torch.Tensor, name: str, ok: torch.Tensor, expected: str, hint: str = "", error: type[Exception] = ValueError
) -> torch.Tensor:
    """Return ``x`` if the boolean tensor ``ok`` holds everywhere; else raise ``error`` showing the first bad value.

    The one "find and report the first bad value" scan of celib: the message says what ``x``
    must hold, the first value that does not, and how many more there are.

    >>> x = torch.tensor([0.5, -1.0, 2.0])
    >>> check_values(x, "weight", x >= 0, "values >= 0")
    Traceback (most recent call last):
    ...
    ValueError: weight must hold values >= 0; got -1.0
    """
    if bool(ok.all()):
        return x
    bad = x.detach()[~ok]
    more = f" and {bad.numel() - 1} other bad value(s)" if bad.numel() > 1 else ""
    raise error(f"{name} must hold {expected}; got {bad[0].item()!r}{more}{hint}")


def check_probabilities(p: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``p`` if every entry lies in [0, 1] (NaN is rejected too)."""
    values = p.detach()
    check_values(p, name, (values >= 0) & (values <= 1), "probabilities in [0, 1]")  # False for NaN
    return p


def sum_tolerance(dtype: torch.dtype, size: int) -> float:
    """Tolerance for ``|sum(p) - 1|``: rounding error of summing ``size`` terms in ``dtype``.

    >>> sum_tolerance(torch.float64, 100) < 1e-12 < sum_tolerance(torch.float32, 100) < 1e-4
    True
    """
    return 16 * math.sqrt(max(size, 1)) * torch.finfo(dtype).eps


def check_distribution(p: torch.Tensor, name: str, dim: int | tuple[int, ...] = -1) -> torch.Tensor:
    """Return ``p`` if it holds probability distributions along ``dim``.

    Every entry must lie in [0, 1] and each slice along ``dim`` (one dim, or a tuple of dims
    for a joint distribution) must sum to 1 within :func:`sum_tolerance` of its dtype.

    >>> _ = check_distribution(torch.tensor([[0.5, 0.25], [0.125, 0.125]]), "pxy", dim=(-2, -1))
    >>> check_distribution(torch.tensor([0.5, 0.25]), "p")
    Traceback (most recent call last):
    ...
    ValueError: p must sum to 1 along dim -1 (tolerance 2.7e-06 for torch.float32); got a sum of 0.75
    """
    dims = dim if isinstance(dim, tuple) else (dim,)
    if p.dim() < len(dims):
        expected = "one dimension" if len(dims) == 1 else f"{len(dims)} dimensions"
        raise ValueError(f"{name} has shape {tuple(p.shape)}; expected at least {expected} (the outcomes)")
    dims = check_dims(p, dim, name, allow_tuple=isinstance(dim, tuple))
    size = math.prod(p.shape[d] for d in dims)
    check_probabilities(p, name)
    totals = p.detach().sum(dims)
    error = (totals - 1).abs()
    tol = sum_tolerance(p.dtype, size)
    if (error > tol).any():
        worst = totals.flatten()[error.flatten().argmax()].item()
        raise ValueError(
            f"{name} must sum to 1 along dim {dim} (tolerance {tol:.1e} for {p.dtype}); got a sum of {worst!r}"
        )
    return p


def check_dims(x: torch.Tensor, dim: object, name: str = "input", allow_tuple: bool = False) -> tuple[int, ...]:
    """Return ``dim`` (an int, or a tuple of ints if ``allow_tuple``) as non-negative dims of ``x``.

    Like torch, a 0-d tensor has one dimension (0 or -1) to reduce.

    >>> check_dims(torch.zeros(2, 3), 2)
    Traceback (most recent call last):
    ...
    IndexError: dim 2 is out of range for input with 2 dimension(s)
    """
    dims = dim if allow_tuple and isinstance(dim, tuple) else (dim,)
    if not dims or any(isinstance(d, bool) or not isinstance(d, Integral) for d in dims):
        expected = "an int or a non-empty tuple of ints" if allow_tuple else "an int"
        raise TypeError(f"dim must be {expected}; got {describe(dim)}")
    rank = max(x.dim(), 1)
    positive = []
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(f"dim {d} is out of range for {name} with {x.dim()} dimension(s)")
        positive.append(int(d) % rank)
    if len(set(positive)) != len(positive):
        raise ValueError(f"dim {dim!r} names the same dimension twice")
    return tuple(positive)


def check_broadcast_weight(input: torch.Tensor, weight: Any, name: str, hint: str = "") -> torch.Tensor | None:
    """Return ``weight`` if it is ``None`` or finite weights >= 0 of input's dtype that broadcast to its shape."""
    if weight is None:
        return None
    weight = check_floating(weight, name, "weights")
    check_same_dtype(weight, name, input)
    try:
        shape = torch.broadcast_shapes(weight.shape, input.shape)
    except RuntimeError:
        shape = None
    if shape != input.shape:
        raise ValueError(
            f"{name} has shape {tuple(weight.shape)}; expected a shape that broadcasts to input's shape "
            f"{tuple(input.shape)}{hint}"
        )
    return check_nonnegative(weight, name)


def check_same_shape(input: torch.Tensor, target: Any, holds: str) -> torch.Tensor:
    """Return ``target`` if it is a floating-point tensor (of ``holds``) of the input's shape."""
    target = check_floating(target, "target", holds)
    if target.shape != input.shape:
        raise ValueError(f"target has shape {tuple(target.shape)}; expected input's shape {tuple(input.shape)}")
    return target


# --------------------------------------------------------------------------------------------
# Class indices, class weights, logits
# --------------------------------------------------------------------------------------------


def check_index_dtype(target: Any, name: str = "target") -> torch.Tensor:
    """Return ``target`` as a ``torch.long`` tensor if it holds class indices of an accepted dtype.

    >>> check_index_dtype(torch.tensor([0, 1], dtype=torch.int32))
    Traceback (most recent call last):
    ...
    TypeError: target has dtype torch.int32; class-index targets must be torch.long or torch.uint8
    """
    check_tensor(target, name)
    if target.dtype not in INDEX_DTYPES:
        raise TypeError(f"{name} has dtype {target.dtype}; class-index targets must be {INDEX_DTYPES_TEXT}")
    return target.long()  # gather, scatter and indexing need int64 (a uint8 index would be a mask)


def check_class_indices(
    target: torch.Tensor, num_classes: int, name: str = "target", ignore_index: int | None = None
) -> torch.Tensor:
    """Return ``target`` if every entry lies in ``[0, num_classes)`` or equals ``ignore_index``.

    >>> check_class_indices(torch.tensor([0, 2, -100]), 3, ignore_index=-100)
    tensor([   0,    2, -100])
    >>> check_class_indices(torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
    ...
    IndexError: target must hold class indices in [0, 3); got 3
    """
    values = target.detach()
    inside = (values >= 0) & (values < num_classes)
    if ignore_index is not None:
        inside |= values == ignore_index
    allowed = f"[0, {num_classes})" + ("" if ignore_index is None else f" or ignore_index={ignore_index}")
    return check_values(target, name, inside, f"class indices in {allowed}", error=IndexError)


def check_class_weight(
    weight: Any, num_classes: int, input: torch.Tensor, name: str = "weight", whose: str = "input's"
) -> torch.Tensor | None:
    """Return ``weight`` if it is ``None`` or ``(C,)`` finite weights >= 0 of ``input``'s dtype.

    >>> check_class_weight(torch.ones(2), 3, torch.zeros(1, 3))
    Traceback (most recent call last):
    ...
    ValueError: weight has shape (2,); expected (C,) = (3,), one weight per class
    """
    if weight is None:
        return None
    check_floating(weight, name, "weights")
    check_same_dtype(weight, name, input, whose)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"{name} has shape {tuple(weight.shape)}; expected (C,) = ({num_classes},), one weight per class"
        )
    check_nonnegative(weight, name)
    return weight


def check_nonnegative(x: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``x`` if it holds finite values >= 0 (weights)."""
    values = x.detach()
    check_values(x, name, (values >= 0) & values.isfinite(), "finite values >= 0")
    return x


def class_dim(input: torch.Tensor) -> int:
    """The class dimension of logits: 0 for an unbatched ``(C,)`` input, else 1 (PyTorch's rule)."""
    return 0 if input.dim() == 1 else 1


def check_logits(input: Any, holds: str = "logits") -> torch.Tensor:
    """Return ``input`` if it is floating point with a class dimension (dim 1, or 0 if 1-D) of size >= 1."""
    check_floating(input, "input", holds)
    if input.dim() == 0:
        raise ValueError("input has shape (); expected (C,) or (N, C, d1, ..., dK), with a class dimension")
    if input.shape[class_dim(input)] == 0:
        raise ValueError(
            f"input has shape {tuple(input.shape)}; expected at least one class along dim {class_dim(input)}"
        )
    return input


def check_target_shape(
    target: torch.Tensor,
    index_shape: tuple[int, ...],
    input_name: str,
    input_shape: tuple[int, ...],
    or_probabilities: bool = False,
) -> torch.Tensor:
    """Return ``target`` if it has the shape of class indices for ``input_name``.

    >>> check_target_shape(torch.zeros(2), (3,), "probs", (3, 4))
    Traceback (most recent call last):
    ...
    ValueError: target has shape (2,); expected class indices of shape (3,) for probs of shape (3, 4)
    """
    if tuple(target.shape) != tuple(index_shape):
        also = f" or probabilities of shape {tuple(input_shape)}" if or_probabilities else ""
        raise ValueError(
            f"target has shape {tuple(target.shape)}; expected class indices of shape {tuple(index_shape)}{also} "
            f"for {input_name} of shape {tuple(input_shape)}"
        )
    return target


def check_class_target(
    input: torch.Tensor, target: Any, ignore_index: int, *, allow_probabilities: bool
) -> torch.Tensor | None:
    """Check ``target`` against logits ``input``; return it as ``torch.long`` class indices, or None for probabilities.

    A target of the input's shape holds probabilities (a distribution along the class
    dimension), allowed only where ``allow_probabilities``; any other target holds class
    indices of the input's shape without the class dimension.
    """
    check_tensor(target, "target")
    dim = class_dim(input)
    input_shape = tuple(input.shape)
    index_shape = input_shape[:dim] + input_shape[dim + 1 :]
    if tuple(target.shape) == input_shape and not allow_probabilities:
        raise ValueError(
            f"target has the input's shape {input_shape}, the shape of probability targets; expected class "
            f"indices of shape {index_shape} (this function takes class indices only)"
        )
    if tuple(target.shape) == input_shape:
        if not target.is_floating_point():
            raise TypeError(
                f"target has the input's shape {input_shape} and dtype {target.dtype}; probability "
                f"targets must be floating point (for one-hot class targets pass the class indices, "
                f"target.argmax({dim}), of shape {index_shape})"
            )
        if ignore_index != -100:
            raise ValueError(
                f"ignore_index={ignore_index} has no effect with probability targets (target has the "
                f"input's shape {input_shape}); it applies only to class-index targets, leave it at -100"
            )
        check_distribution(target, "target", dim=dim)
        return None
    check_target_shape(target, index_shape, "input", input_shape, or_probabilities=allow_probabilities)
    indices = check_index_dtype(target)
    check_class_indices(indices, input.shape[dim], "target", ignore_index)
    return indices


def check_cross_entropy_args(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: Any = -100,
    reduction: Any = "mean",
    label_smoothing: Any = 0.0,
    *,
    allow_probabilities: bool = True,
    holds: str = "logits",
) -> tuple[torch.Tensor | None, float]:
    """The boundary check of every cross-entropy-like loss of logits ``input`` and ``target``.

    - ``input``: floating-point logits of shape ``(C,)`` or ``(N, C, d1, ..., dK)``, ``C >= 1``;
    - ``target`` with the input's shape (where ``allow_probabilities``): floating-point
      probabilities, each slice along the class dimension a distribution, and ``ignore_index``
      left at -100 (PyTorch silently accepts another one, which does nothing);
    - any other ``target``: class indices (:data:`INDEX_DTYPES`) of shape ``()`` or
      ``(N, d1, ..., dK)``, each in ``[0, C)`` or equal to ``ignore_index``;
    - ``weight``: ``None`` or a ``(C,)`` tensor of the input's dtype, finite and >= 0;
    - ``reduction`` in ``'none'``, ``'mean'``, ``'sum'``; ``label_smoothing`` in [0, 1]
      (PyTorch silently accepts a negative one).

    Returns the target as ``torch.long`` class indices (``None`` for probabilities) and
    ``label_smoothing`` as a float.

    >>> check_cross_entropy_args(torch.zeros(2, 3), torch.tensor([0.0, 2.0]))
    Traceback (most recent call last):
    ...
    TypeError: target has dtype torch.float32; class-index targets must be torch.long or torch.uint8
    """
    check_logits(input, holds)
    check_reduction(reduction)
    smoothing = check_real(label_smoothing, "label_smoothing", minimum=0, maximum=1)
    ignore_index = check_int(ignore_index, "ignore_index")
    indices = check_class_target(input, target, ignore_index, allow_probabilities=allow_probabilities)
    check_class_weight(weight, input.shape[class_dim(input)], input)
    return indices, smoothing


def check_linear_args(
    input: Any, weight: Any, bias: Any, target: Any, weight_name: str = "weight"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Validate a linear layer + cross entropy: ``input (N, D)``, ``weight (V, D)``, ``bias (V,)``, ``target (N,)``.

    Returns the four, the target as ``torch.long`` (its range is checked by the caller, who
    knows the vocabulary).

    >>> check_linear_args(torch.zeros(4, 3), torch.zeros(5, 2), None, torch.zeros(4, dtype=torch.long))
    Traceback (most recent call last):
    ...
    ValueError: weight has shape (5, 2); expected (V, D) with V >= 1 and D = 3, the width of input
    """
    check_floating(input, "input", "hidden states")
    check_floating(weight, weight_name, "weights")
    if input.dim() != 2 or input.shape[0] == 0:
        raise ValueError(
            f"input has shape {tuple(input.shape)}; expected (N, D) with N >= 1 tokens "
            "(flatten the leading dimensions with input.reshape(-1, D))"
        )
    if weight.dim() != 2 or weight.shape[1] != input.shape[1] or weight.shape[0] == 0:
        raise ValueError(
            f"{weight_name} has shape {tuple(weight.shape)}; expected (V, D) with V >= 1 and "
            f"D = {input.shape[1]}, the width of input"
        )
    check_same_dtype(weight, weight_name, input)
    if bias is not None:
        check_floating(bias, "bias", "biases")
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"bias has shape {tuple(bias.shape)}; expected (V,) = ({weight.shape[0]},)")
        check_same_dtype(bias, "bias", input)
    check_tensor(target, "target")
    check_target_shape(target, tuple(input.shape[:1]), "input", tuple(input.shape))
    return input, weight, bias, check_index_dtype(target)


# --------------------------------------------------------------------------------------------
# Training-loop arguments
# --------------------------------------------------------------------------------------------


def check_model(model: Any, name: str = "model") -> torch.nn.Module:
    """Return ``model`` if it is a ``torch.nn.Module``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}")
    return model


def check_pair(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(input, target)`` from a pair of tensors: ``input (N, ...)`` and class indices ``target (N, ...)``.

    The target's dtype is checked (and converted to ``torch.long``); its values are checked
    against the model's logits by the caller.
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (input, target) of tensors; got {type(data).__name__}")
    input = check_tensor(data[0], f"{name} input")
    target = check_index_dtype(data[1], f"{name} target")
    if input.dim() == 0 or target.shape[:1] != input.shape[:1]:
        raise ValueError(
            f"{name} has an input of shape {tuple(input.shape)} and a target of shape {tuple(target.shape)}; "
            "expected the same number N of examples in dim 0"
        )
    return input, target


# --------------------------------------------------------------------------------------------
# What every loss of class indices shares: the target weights and the reduction
# --------------------------------------------------------------------------------------------


def target_weights(
    target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The kept mask, a gather-safe target and the weight :math:`w_{y}` of each class-index target.

    All three have ``target``'s shape ``(N, *)``: ``kept`` is False where ``y == ignore_index``,
    ``safe_target`` replaces those ``y`` by class 0 (any valid index: their values are masked
    out), and ``target_weight`` is :math:`w_y` (1 without ``weight``) where kept, else 0. Shared
    by every loss of class indices (``nll_loss``, ``cross_entropy``, ``celib.autograd``,
    ``focal_loss``, ``accumulate_cross_entropy``, ``linear_cross_entropy``).
    """
    kept = target != ignore_index  # (N, *)
    safe_target = torch.where(kept, target, 0)  # (N, *)
    if weight is None:
        target_weight = kept.to(dtype)  # (N, *)
    else:
        target_weight = torch.where(kept, weight[safe_target], 0.0)  # (N, *)
    return kept, safe_target, target_weight


def apply_reduction(
    losses: torch.Tensor, reduction: str, denominator: torch.Tensor | float | None = None
) -> torch.Tensor:
    """Reduce per-element ``losses``: ``'none'`` keeps them, ``'sum'`` adds them, ``'mean'`` divides the sum.

    The mean divides by ``denominator`` (a total weight, a count of kept targets), or by the
    number of elements if it is None. ``0 / 0`` gives NaN, as in PyTorch.

    >>> apply_reduction(torch.tensor([1.0, 2.0, 3.0]), "mean", denominator=2.0)
    tensor(3.)
    """
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / (losses.numel() if denominator is None else denominator)
