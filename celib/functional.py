r"""Softmax, log-sum-exp and the classification losses of ``torch.nn.functional``, from plain ops.

Every function mirrors the signature and the semantics of its namesake in
``torch.nn.functional`` (the deprecated ``size_average``/``reduce`` arguments are left out), and
is written with elementary tensor operations (``exp``, ``log``, ``amax``, ``gather``, ``where``,
``clamp``, ``xlogy``), never with the fused kernels it re-implements. Autograd differentiates it.

Conventions shared by the losses:

- the class dimension is dim 1, or dim 0 for an unbatched input of shape ``(C,)``;
- a ``cross_entropy`` target with the input's shape holds class probabilities; any other target
  holds class indices (``torch.long``) of the input's shape without the class dimension;
- ``reduction`` is ``"none"`` (one loss per element), ``"sum"`` or ``"mean"``.

Bad input raises ``TypeError``, ``ValueError`` or ``IndexError`` naming the argument, at the
boundary, before anything is computed. Where PyTorch silently accepts nonsense (a negative
``label_smoothing``, an ``ignore_index`` with probability targets, targets outside [0, 1]
for ``binary_cross_entropy_with_logits``, ``kl_div`` inputs of different shapes), celib refuses it.

Where celib deliberately differs from PyTorch, the docstring says so: a target probability of 0
contributes exactly 0 to ``cross_entropy`` and ``kl_div`` even where the input is ``-inf``
(PyTorch returns NaN there, from ``0 * inf``), and ``binary_cross_entropy``'s gradient is the
derivative of the clamped value it returns.
"""

from __future__ import annotations

import torch

from celib._checks import (
    check_class_indices,
    check_distribution,
    check_label_smoothing,
    check_probabilities,
    check_reduction,
)

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "check_cross_entropy_args",
]

#: Floor that PyTorch's ``binary_cross_entropy`` puts under each log: a loss term is at most 100.
BCE_LOG_FLOOR = -100.0
#: The integer dtypes PyTorch accepts for class-index targets.
CLASS_INDEX_DTYPES = (torch.int64, torch.uint8)


# --------------------------------------------------------------------------------------------
# Validation helpers (private; check_cross_entropy_args is the public entry point)
# --------------------------------------------------------------------------------------------


def _check_floating(x, name: str, holds: str) -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor (``holds`` says what it holds)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of {holds}; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} has dtype {x.dtype}; {holds} must be floating point")


def _check_dims(input: torch.Tensor, dim, allow_tuple: bool) -> tuple[int, ...]:
    """Return ``dim`` as a tuple of non-negative dims of ``input``; raise if one is invalid."""
    dims = dim if allow_tuple and isinstance(dim, tuple) else (dim,)
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) for d in dims):
        expected = "an int or a non-empty tuple of ints" if allow_tuple else "an int"
        raise TypeError(f"dim must be {expected}; got {dim!r}")
    rank = max(input.dim(), 1)  # like torch, a 0-d tensor has one dimension to reduce
    for d in dims:
        if not -rank <= d < rank:
            raise IndexError(f"dim {d} is out of range for input with {input.dim()} dimension(s)")
    positive = tuple(d % rank for d in dims)
    if len(set(positive)) != len(positive):
        raise ValueError(f"dim {dim!r} names the same dimension twice")
    return positive


def _check_ignore_index(ignore_index) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"ignore_index must be an int; got {ignore_index!r}")


def _class_dim(input: torch.Tensor) -> int:
    """The class dimension: 0 for an unbatched ``(C,)`` input, else 1."""
    return 0 if input.dim() == 1 else 1


def _check_scores(input, holds: str) -> None:
    """``input`` must be a floating tensor with a class dimension holding at least one class."""
    _check_floating(input, "input", holds)
    if input.dim() == 0:
        raise ValueError("input must have a class dimension, shape (C,) or (N, C, d1, ..., dK); got a 0-d tensor")
    if input.shape[_class_dim(input)] == 0:
        raise ValueError(f"input has shape {tuple(input.shape)}, with no classes along dim {_class_dim(input)}")


def _check_target(input: torch.Tensor, target, ignore_index: int, allow_probabilities: bool) -> bool:
    """Check ``target`` against ``input``; return True for class indices, False for probabilities."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor; got {type(target).__name__}")
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    input_shape = tuple(input.shape)
    index_shape = input_shape[:class_dim] + input_shape[class_dim + 1 :]

    if allow_probabilities and tuple(target.shape) == input_shape:
        if not target.is_floating_point():
            raise TypeError(
                f"target has the input's shape {input_shape} and dtype {target.dtype}; probability "
                f"targets must be floating point (for one-hot class targets pass the class indices, "
                f"target.argmax({class_dim}), of shape {index_shape})"
            )
        if ignore_index != -100:
            raise ValueError(
                f"ignore_index={ignore_index} has no effect with probability targets (target has the "
                f"input's shape {input_shape}); it applies only to class-index targets, leave it at -100"
            )
        check_distribution(target, "target", dim=class_dim)
        return False

    if tuple(target.shape) != index_shape:
        expected = f"class indices of shape {index_shape}"
        if allow_probabilities:
            expected += f" or probabilities of shape {input_shape}"
        raise ValueError(f"target has shape {tuple(target.shape)}; for input of shape {input_shape} expected {expected}")
    if target.dtype not in CLASS_INDEX_DTYPES:
        raise TypeError(f"target has dtype {target.dtype}; class-index targets must be torch.long (or torch.uint8)")
    check_class_indices(target, n_classes, "target", ignore_index)
    return True


def _check_nonnegative_weight(input: torch.Tensor, weight, name: str) -> None:
    """``weight`` must be a tensor of ``input``'s dtype holding finite values >= 0."""
    _check_floating(weight, name, "weights")
    if weight.dtype != input.dtype:
        raise TypeError(f"{name} has dtype {weight.dtype}; it must match input's dtype {input.dtype}")
    values = weight.detach()
    bad = ~((values >= 0) & values.isfinite())
    if bad.any():
        raise ValueError(f"{name} must hold finite values >= 0; got {values[bad][0].item()!r}")


def _check_class_weight(input: torch.Tensor, weight) -> None:
    if weight is None:
        return
    _check_nonnegative_weight(input, weight, "weight")
    n_classes = input.shape[_class_dim(input)]
    if tuple(weight.shape) != (n_classes,):
        raise ValueError(f"weight has shape {tuple(weight.shape)}; expected one weight per class, shape ({n_classes},)")


def _check_broadcast_weight(input: torch.Tensor, weight, name: str, hint: str = "") -> None:
    if weight is None:
        return
    _check_nonnegative_weight(input, weight, name)
    try:
        shape = torch.broadcast_shapes(weight.shape, input.shape)
    except RuntimeError:
        shape = None
    if shape != input.shape:
        raise ValueError(
            f"{name} has shape {tuple(weight.shape)}; it must broadcast to input's shape {tuple(input.shape)}{hint}"
        )


def _check_same_shape(input: torch.Tensor, target, holds: str) -> None:
    _check_floating(target, "target", holds)
    if target.shape != input.shape:
        raise ValueError(f"target has shape {tuple(target.shape)}; expected input's shape {tuple(input.shape)}")


def check_cross_entropy_args(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> bool:
    """Validate the arguments of :func:`cross_entropy`; return True for class-index targets.

    This is the whole boundary check of ``cross_entropy``, exposed so that other
    implementations (``celib.autograd``) reject exactly what it rejects:

    - ``input``: floating-point logits of shape ``(C,)`` or ``(N, C, d1, ..., dK)``, ``C >= 1``;
    - ``target`` with the input's shape: floating-point probabilities, each slice along the
      class dimension a distribution (entries in [0, 1] summing to 1), and ``ignore_index`` left
      at -100 (PyTorch silently accepts a negative one, which does nothing);
    - any other ``target``: ``torch.long`` (or ``torch.uint8``) class indices of shape ``()`` or
      ``(N, d1, ..., dK)``, each in ``[0, C)`` or equal to ``ignore_index``;
    - ``weight``: ``None`` or a ``(C,)`` tensor of the input's dtype, finite and >= 0;
    - ``reduction`` in ``'none'``, ``'mean'``, ``'sum'``; ``label_smoothing`` in [0, 1]
      (PyTorch silently accepts a negative one).

    Raises ``TypeError``, ``ValueError`` or ``IndexError`` whose message names the argument.

    >>> check_cross_entropy_args(torch.zeros(2, 3), torch.tensor([0, 2]))
    True
    >>> check_cross_entropy_args(torch.zeros(2, 3), torch.full((2, 3), 1 / 3))
    False
    >>> check_cross_entropy_args(torch.zeros(2, 3), torch.tensor([0.0, 2.0]))
    Traceback (most recent call last):
    ...
    TypeError: target has dtype torch.float32; class-index targets must be torch.long (or torch.uint8)
    """
    _check_scores(input, "logits")
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    _check_ignore_index(ignore_index)
    class_indices = _check_target(input, target, ignore_index, allow_probabilities=True)
    _check_class_weight(input, weight)
    return class_indices


def _check_nll_loss_args(input, target, weight, ignore_index, reduction) -> None:
    _check_scores(input, "log-probabilities")
    check_reduction(reduction)
    _check_ignore_index(ignore_index)
    _check_target(input, target, ignore_index, allow_probabilities=False)
    _check_class_weight(input, weight)


# --------------------------------------------------------------------------------------------
# Softmax and log-sum-exp
# --------------------------------------------------------------------------------------------


def _max_shift(input: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """The max over ``dims`` (kept), detached, with infinities replaced by 0.

    Subtracting any constant leaves softmax and ``lse(x) = m + lse(x - m)`` unchanged, so the
    shift needs no gradient. An infinite max would give ``inf - inf = nan``; PyTorch shifts by 0
    there, and so do we (an all ``-inf`` slice then has log-sum-exp ``-inf``).
    """
    values = input.detach()
    if input.dim() > 0 and any(input.shape[d] == 0 for d in dims):
        shape = [1 if d in dims else size for d, size in enumerate(input.shape)]
        return values.new_zeros(shape)
    peak = values.amax(dims, keepdim=True)
    return peak.masked_fill(peak.isinf(), 0.0)


def _log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    shifted = input - _max_shift(input, (dim,))  # every entry <= 0: exp cannot overflow
    return shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))


def softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Softmax along ``dim``: :math:`\mathrm{softmax}(x)_i = e^{x_i - m} / \sum_j e^{x_j - m}`.

    The shift by :math:`m = \max_j x_j` changes nothing mathematically and keeps every
    exponential in (0, 1], so large logits cannot overflow to ``inf``.

    >>> softmax(torch.tensor([1.0, 3.0]).log(), dim=0)  # logits log 1, log 3
    tensor([0.2500, 0.7500])
    >>> softmax(torch.tensor([1000.0, 1000.0]), dim=0)  # exp(1000) overflows; the shift does not
    tensor([0.5000, 0.5000])
    """
    _check_floating(input, "input", "logits")
    (dim,) = _check_dims(input, dim, allow_tuple=False)
    exps = torch.exp(input - _max_shift(input, (dim,)))
    return exps / exps.sum(dim, keepdim=True)


def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Log of the softmax along ``dim``: :math:`x_i - m - \log \sum_j e^{x_j - m}`.

    Computed without forming the softmax, so a probability that underflows to 0 still gets its
    exact (large negative) logarithm instead of ``-inf``.

    >>> log_softmax(torch.tensor([0.0, 200.0]), dim=0)  # log(softmax) would give -inf
    tensor([-200.,    0.])
    """
    _check_floating(input, "input", "logits")
    (dim,) = _check_dims(input, dim, allow_tuple=False)
    return _log_softmax(input, dim)


def logsumexp(input: torch.Tensor, dim, keepdim: bool = False) -> torch.Tensor:
    r"""Log-sum-exp over ``dim`` (an int or a tuple): :math:`m + \log \sum_j e^{x_j - m}`.

    With :math:`m = \max_j x_j` every exponential lies in (0, 1]: no overflow, and the largest
    term is exactly 1, so the sum cannot underflow to 0.

    >>> logsumexp(torch.tensor([100.0, 100.0]), dim=0)  # exp(100) overflows float32
    tensor(100.6931)
    >>> logsumexp(torch.zeros(2, 4), dim=(0, 1))  # log(8)
    tensor(2.0794)
    """
    _check_floating(input, "input", "values")
    dims = _check_dims(input, dim, allow_tuple=True)
    if input.dim() == 0:
        dims = ()
    shift = _max_shift(input, dims)
    out = torch.log(torch.exp(input - shift).sum(dims, keepdim=True)) + shift
    return out if keepdim or not dims else out.squeeze(dims)


# --------------------------------------------------------------------------------------------
# Negative log-likelihood and cross entropy
# --------------------------------------------------------------------------------------------


def _picked_nll(log_probs, target, weight, ignore_index) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element ``-w[y] * log_probs[y]`` and ``w[y]``, both 0 where ``y == ignore_index``."""
    class_dim = _class_dim(log_probs)
    target = target.long()
    kept = target != ignore_index
    safe_target = torch.where(kept, target, 0)  # any valid index; its value is masked out below
    picked = log_probs.gather(class_dim, safe_target.unsqueeze(class_dim)).squeeze(class_dim)
    if weight is None:
        target_weight = kept.to(log_probs.dtype)
    else:
        target_weight = torch.where(kept, weight[safe_target], 0.0)
    losses = torch.where(kept, -picked * target_weight, 0.0)
    return losses, target_weight


def _reduce(losses: torch.Tensor, reduction: str, total_weight=None) -> torch.Tensor:
    """Apply ``reduction``; ``"mean"`` divides by ``total_weight`` (default: the count)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / (losses.numel() if total_weight is None else total_weight)


def nll_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Negative log-likelihood: pick :math:`-w_{y}\,\mathrm{input}[y]` for each target ``y``.

    It takes no logarithm and no softmax: ``input`` should already hold log-probabilities
    (``log_softmax`` of the logits), but any numbers are accepted. With
    :math:`\ell_n = -w_{y_n} x_{n, y_n}` (0 where :math:`y_n` = ``ignore_index``):

    .. math::

        \texttt{mean} = \frac{\sum_n \ell_n}{\sum_{n:\,y_n \neq \texttt{ignore\_index}} w_{y_n}},
        \qquad \texttt{sum} = \sum_n \ell_n .

    The mean is NaN when every target is ignored (0/0), like PyTorch's.

    >>> nll_loss(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), torch.tensor([2, 0]), reduction="none")
    tensor([-3., -4.])
    """
    _check_nll_loss_args(input, target, weight, ignore_index, reduction)
    losses, target_weight = _picked_nll(input, target, weight, ignore_index)
    return _reduce(losses, reduction, target_weight.sum())


def _smoothing_term(log_probs, target, weight, ignore_index, reduction, total_weight) -> torch.Tensor:
    r"""PyTorch's smoothing term: :math:`-\sum_c w_c \log q_c`, 0 where ignored, reduced like the NLL."""
    class_dim = _class_dim(log_probs)
    if weight is not None:
        shape = [1] * log_probs.dim()
        shape[class_dim] = -1
        log_probs = log_probs * weight.view(shape)
    per_element = -log_probs.sum(class_dim)
    per_element = torch.where(target.long() != ignore_index, per_element, 0.0)
    return _reduce(per_element, reduction, total_weight)


def _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing) -> torch.Tensor:
    r"""Cross entropy with probability targets: :math:`-\sum_c w_c p_c \log q_c` per element."""
    class_dim = _class_dim(log_probs)
    n_classes = log_probs.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    # A class of probability 0 contributes 0, even where log q = -inf (PyTorch: 0 * -inf = nan).
    terms = torch.where(target != 0, target * log_probs, 0.0)
    if weight is not None:
        shape = [1] * log_probs.dim()
        shape[class_dim] = -1
        terms = terms * weight.view(shape)
    losses = -terms.sum(class_dim)
    # The mean divides by the number of elements N * d1 * ... * dK, whatever the weights.
    return _reduce(losses, reduction)


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Cross entropy between the softmax of the logits ``input`` and ``target``, in nats.

    With :math:`\log q = \mathrm{log\_softmax}(\mathrm{input})` along the class dimension and
    :math:`C` classes:

    - **class indices** ``y``: ``nll_loss(log q, y, weight, ignore_index, reduction)``. With
      ``label_smoothing`` :math:`\varepsilon > 0`, PyTorch's formula is

      .. math::

          (1 - \varepsilon)\,\mathrm{NLL} + \frac{\varepsilon}{C}\, S, \qquad
          S_n = -\sum_c w_c \log q_{n,c},

      where :math:`S` is reduced like the NLL: 0 where ignored, and the mean divides
      :math:`\sum_n S_n` by :math:`\sum_n w_{y_n}` (the weights of the *targets*, although
      :math:`S_n` weights every class);
    - **probabilities** ``p`` (``target`` has the input's shape): the per-element loss is
      :math:`-\sum_c w_c\, p'_c \log q_c` with :math:`p' = (1 - \varepsilon) p + \varepsilon / C`,
      and the mean divides by the number of elements :math:`N d_1 \cdots d_K`, not by weights.

    A target probability of 0 contributes exactly 0, even where :math:`\log q = -\infty`
    (PyTorch returns NaN there). Arguments are validated by :func:`check_cross_entropy_args`.

    >>> cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))  # ln 2
    tensor(0.6931)
    >>> cross_entropy(torch.tensor([1.0, 3.0]).log(), torch.tensor([0.25, 0.75]))
    tensor(0.5623)
    """
    class_indices = check_cross_entropy_args(input, target, weight, ignore_index, reduction, label_smoothing)
    log_probs = _log_softmax(input, _class_dim(input))
    if not class_indices:
        return _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing)
    losses, target_weight = _picked_nll(log_probs, target, weight, ignore_index)
    total_weight = target_weight.sum()
    nll = _reduce(losses, reduction, total_weight)
    if label_smoothing == 0:
        return nll
    smooth = _smoothing_term(log_probs, target, weight, ignore_index, reduction, total_weight)
    n_classes = input.shape[_class_dim(input)]
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


# --------------------------------------------------------------------------------------------
# Binary cross entropy
# --------------------------------------------------------------------------------------------


def _log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})`, exact for every finite ``x``.

    ``-|x|`` is written ``2 min(x, 0) - x`` so that autograd gets the derivative
    :math:`1 - \sigma(x)` right at ``x = 0`` too (the gradient of ``abs`` there is 0).
    """
    negative_part = x.clamp(max=0)
    return negative_part - torch.log1p(torch.exp(2 * negative_part - x))


def binary_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Binary cross entropy of probabilities ``input`` against ``target``, both in [0, 1], in nats.

    .. math::

        \ell = -w\,\bigl[y \max(\log p, -100) + (1 - y) \max(\log(1 - p), -100)\bigr].

    Like PyTorch, each log is floored at -100, so a confident wrong probability (``p = 0`` for
    ``y = 1``) costs 100 nats instead of ``inf``. ``weight`` broadcasts to the input's shape.

    The gradient is autograd's derivative of this clamped value: where a log is floored it is
    0. PyTorch's hand-written backward returns :math:`w (p - y) / \max(p (1 - p), 10^{-12})`
    instead; the two agree wherever :math:`p(1-p) \gg 10^{-12}`, and differ only near 0 and 1.

    >>> binary_cross_entropy(torch.tensor([0.5, 0.0]), torch.tensor([1.0, 1.0]), reduction="none")
    tensor([  0.6931, 100.0000])
    """
    _check_floating(input, "input", "probabilities")
    check_probabilities(input, "input")
    _check_same_shape(input, target, "probabilities")
    check_probabilities(target, "target")
    _check_broadcast_weight(input, weight, "weight")
    check_reduction(reduction)
    # Evaluate each log only where it is finite, so that a floored term has gradient 0, not nan.
    log_p = torch.where(input > 0, torch.log(torch.where(input > 0, input, 1.0)), BCE_LOG_FLOOR)
    log_1mp = torch.where(input < 1, torch.log1p(-torch.where(input < 1, input, 0.0)), BCE_LOG_FLOOR)
    loss = -(target * log_p.clamp(min=BCE_LOG_FLOOR) + (1 - target) * log_1mp.clamp(min=BCE_LOG_FLOOR))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Binary cross entropy of :math:`\sigma(x)` against ``target``, computed from the logits ``x``.

    With :math:`\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})` (never overflows) and
    :math:`\log(1 - \sigma(x)) = \log \sigma(x) - x`:

    .. math::

        \ell = w\,\bigl[(1 - y)\,x - (1 + (p_w - 1)\,y) \log \sigma(x)\bigr],

    which for :math:`p_w = 1` is :math:`\max(x, 0) - x y + \log(1 + e^{-|x|})`. ``weight`` and
    ``pos_weight`` broadcast to the input's shape: a ``(C,)`` ``pos_weight`` weights the positive
    term of each class (the last dimension). ``target`` must lie in [0, 1]: PyTorch silently
    accepts ``-1`` (a ``{-1, 1}`` label bug) and returns a meaningless number; celib refuses it.

    >>> binary_cross_entropy_with_logits(torch.tensor([0.0, 200.0]), torch.tensor([1.0, 0.0]), reduction="none")
    tensor([  0.6931, 200.0000])
    """
    _check_floating(input, "input", "logits")
    _check_same_shape(input, target, "probabilities")
    check_probabilities(target, "target")
    _check_broadcast_weight(input, weight, "weight")
    _check_broadcast_weight(
        input, pos_weight, "pos_weight", hint=" (one weight per class is a tensor of shape (C,), the last dimension)"
    )
    check_reduction(reduction)
    log_sigmoid = _log_sigmoid(input)
    positive_weight = 1.0 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input - positive_weight * log_sigmoid
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------------------------
# Kullback-Leibler divergence
# --------------------------------------------------------------------------------------------


def kl_div(
    input: torch.Tensor,
    target: torch.Tensor,
    reduction: str = "mean",
    log_target: bool = False,
) -> torch.Tensor:
    r"""Pointwise KL divergence terms :math:`p\,(\log p - \log q)`, with ``input`` :math:`= \log q`.

    Note the order: ``input`` is the model's **log**-probabilities, ``target`` the reference
    distribution :math:`p` (its log if ``log_target``); the sum is
    :math:`D_{\mathrm{KL}}(p \,\|\, q)` in nats. A term with :math:`p = 0` is exactly 0, even
    where :math:`\log q = -\infty` (PyTorch returns NaN there).

    ``reduction``: ``'none'``, ``'sum'``, ``'batchmean'`` (sum divided by ``input.shape[0]``:
    the KL divergence per example, the one that matches the math) or ``'mean'`` (sum divided by
    the number of elements, which is *not* the KL divergence). ``input`` must hold values <= 0
    (positive values usually mean probabilities were passed instead of log-probabilities),
    ``target`` probabilities in [0, 1] (log-probabilities <= 0 if ``log_target``), same shape.

    >>> kl_div(torch.tensor([[0.5, 0.5]]).log(), torch.tensor([[1.0, 0.0]]), reduction="batchmean")  # ln 2
    tensor(0.6931)
    """
    _check_floating(input, "input", "log-probabilities")
    _check_same_shape(input, target, "log-probabilities" if log_target else "probabilities")
    check_reduction(reduction, ("none", "batchmean", "sum", "mean"))
    if not isinstance(log_target, bool):
        raise TypeError(f"log_target must be a bool; got {log_target!r}")
    positive = ~(input.detach() <= 0)  # also true for nan
    if positive.any():
        raise ValueError(
            f"input must hold log-probabilities (<= 0); got {input.detach()[positive][0].item()!r} "
            f"(did you pass probabilities? use log_softmax)"
        )
    if log_target:
        above = ~(target.detach() <= 0)
        if above.any():
            raise ValueError(
                f"target must hold log-probabilities (<= 0) when log_target=True; got {target.detach()[above][0].item()!r}"
            )
        terms = torch.where(target > -torch.inf, torch.exp(target) * (target - input), 0.0)
    else:
        check_probabilities(target, "target")
        terms = torch.where(target > 0, torch.xlogy(target, target) - target * input, 0.0)
    if reduction == "batchmean":
        return terms.sum() / (input.shape[0] if input.dim() > 0 else 1)
    return _reduce(terms, reduction)
