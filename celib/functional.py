r"""Softmax, log-sum-exp and the classification losses of ``torch.nn.functional``, from plain ops.

Every function mirrors the signature and the semantics of its namesake in
``torch.nn.functional`` (the deprecated ``size_average``/``reduce`` arguments are left out), and
is written with elementary tensor operations (``exp``, ``log``, ``amax``, ``gather``, ``where``,
``clamp``, ``xlogy``), never with the fused kernels it re-implements. Autograd differentiates it.

Conventions shared by the losses:

- the class dimension is dim 1, or dim 0 for an unbatched input of shape ``(C,)``; the binary
  losses are elementwise and have none;
- a ``cross_entropy`` target with the input's shape holds class probabilities; any other target
  holds class indices (``torch.long`` or ``torch.uint8``, as in PyTorch) of the input's shape
  without the class dimension;
- ``reduction`` is ``"none"`` (one loss per element), ``"sum"`` or ``"mean"``;
- arguments are tensors (no array-likes, as in PyTorch), model output first.

Bad input raises ``TypeError`` (wrong type or dtype), ``ValueError`` (wrong value or shape) or
``IndexError`` (a class index or dim out of range) naming the argument, at the boundary, before
anything is computed. Where PyTorch silently accepts nonsense (a negative
``label_smoothing``, a negative ``ignore_index`` other than the default with probability
targets (PyTorch refuses a non-negative one, but a negative one it ignores), targets outside [0, 1]
for ``binary_cross_entropy_with_logits``, ``kl_div`` inputs of different shapes, labels other
than -1 and 1 for ``soft_margin_loss``), celib refuses it.

Where celib deliberately differs from PyTorch, the docstring says so: a target probability of 0
contributes exactly 0 to ``cross_entropy`` and ``kl_div`` even where the input is ``-inf``
(PyTorch returns NaN there, from ``0 * inf``), ``binary_cross_entropy``'s gradient is the
derivative of the clamped value it returns, and ``soft_margin_loss`` is finite for every finite
margin (PyTorch's ``log1p(exp(-y x))`` overflows to ``inf`` once the margin is below about
-88.7 in float32).
"""

from __future__ import annotations

import torch

from celib._checks import (
    apply_reduction,
    check_bool,
    check_broadcast_weight,
    check_cross_entropy_args,
    check_dims,
    check_floating,
    check_probabilities,
    check_reduction,
    check_same_shape,
    check_values,
    class_dim,
    target_weights,
)

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "kl_div",
]

#: Floor that PyTorch's ``binary_cross_entropy`` puts under each log: a loss term is at most 100.
BCE_LOG_FLOOR = -100.0


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
    check_floating(input, "input", "logits")
    (dim,) = check_dims(input, dim, allow_tuple=False)
    exps = torch.exp(input - _max_shift(input, (dim,)))
    return exps / exps.sum(dim, keepdim=True)


def log_softmax(input: torch.Tensor, dim: int) -> torch.Tensor:
    r"""Log of the softmax along ``dim``: :math:`x_i - m - \log \sum_j e^{x_j - m}`.

    Computed without forming the softmax, so a probability that underflows to 0 still gets its
    exact (large negative) logarithm instead of ``-inf``.

    >>> log_softmax(torch.tensor([0.0, 200.0]), dim=0)  # log(softmax) would give -inf
    tensor([-200.,    0.])
    """
    check_floating(input, "input", "logits")
    (dim,) = check_dims(input, dim, allow_tuple=False)
    return _log_softmax(input, dim)


def logsumexp(input: torch.Tensor, dim: int | tuple[int, ...], keepdim: bool = False) -> torch.Tensor:
    r"""Log-sum-exp over ``dim`` (an int or a tuple): :math:`m + \log \sum_j e^{x_j - m}`.

    With :math:`m = \max_j x_j` every exponential lies in (0, 1]: no overflow, and the largest
    term is exactly 1, so the sum cannot underflow to 0.

    >>> logsumexp(torch.tensor([100.0, 100.0]), dim=0)  # exp(100) overflows float32
    tensor(100.6931)
    >>> logsumexp(torch.zeros(2, 4), dim=(0, 1))  # log(8)
    tensor(2.0794)
    """
    check_floating(input, "input", "values")
    dims = check_dims(input, dim, allow_tuple=True)
    check_bool(keepdim, "keepdim")
    if input.dim() == 0:
        dims = ()
    shift = _max_shift(input, dims)
    out = torch.log(torch.exp(input - shift).sum(dims, keepdim=True)) + shift
    return out if keepdim or not dims else out.squeeze(dims)


# --------------------------------------------------------------------------------------------
# Negative log-likelihood and cross entropy
# --------------------------------------------------------------------------------------------


def _picked_nll(
    log_probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element ``-w[y] * log_probs[y]`` and ``w[y]``, both 0 where ``y == ignore_index``."""
    dim = class_dim(log_probs)
    kept, safe_target, target_weight = target_weights(target, weight, ignore_index, log_probs.dtype)
    # log_probs (N, C, *) -> gather along C with index (N, 1, *) -> squeeze back to (N, *)
    picked = log_probs.gather(dim, safe_target.unsqueeze(dim)).squeeze(dim)
    losses = torch.where(kept, -picked * target_weight, 0.0)  # (N, *)
    return losses, target_weight


def _per_class(weight: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """``weight (C,)`` viewed so that it broadcasts along the class dimension of ``log_probs``: (1, C, 1, ...)."""
    shape = [1] * log_probs.dim()
    shape[class_dim(log_probs)] = -1
    return weight.view(shape)


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

        \mathtt{mean} = \frac{\sum_n \ell_n}{\sum_{n:\,y_n \neq \mathtt{ignore\_index}} w_{y_n}},
        \qquad \mathtt{sum} = \sum_n \ell_n .

    The mean is NaN when every target is ignored (0/0), like PyTorch's.

    >>> nll_loss(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), torch.tensor([2, 0]), reduction="none")
    tensor([-3., -4.])
    """
    indices, _ = check_cross_entropy_args(
        input, target, weight, ignore_index, reduction, allow_probabilities=False, holds="log-probabilities"
    )
    assert indices is not None  # allow_probabilities=False: always class indices
    losses, target_weight = _picked_nll(input, indices, weight, ignore_index)
    return apply_reduction(losses, reduction, target_weight.sum())


def _smoothing_term(
    log_probs: torch.Tensor,
    kept: torch.Tensor,
    weight: torch.Tensor | None,
    reduction: str,
    total_weight: torch.Tensor,
) -> torch.Tensor:
    r"""PyTorch's smoothing term: :math:`-\sum_c w_c \log q_c`, 0 where ignored, reduced like the NLL."""
    if weight is not None:
        log_probs = log_probs * _per_class(weight, log_probs)  # (N, C, *) * (1, C, 1, ...)
    per_element = -log_probs.sum(class_dim(log_probs))  # (N, *)
    per_element = torch.where(kept, per_element, 0.0)
    return apply_reduction(per_element, reduction, total_weight)


def _soft_cross_entropy(
    log_probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, reduction: str, label_smoothing: float
) -> torch.Tensor:
    r"""Cross entropy with probability targets: :math:`-\sum_c w_c p_c \log q_c` per element."""
    dim = class_dim(log_probs)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / log_probs.shape[dim]
    # A class of probability 0 contributes 0, even where log q = -inf (PyTorch: 0 * -inf = nan).
    terms = torch.where(target != 0, target * log_probs, 0.0)  # (N, C, *)
    if weight is not None:
        terms = terms * _per_class(weight, log_probs)
    losses = -terms.sum(dim)  # (N, *)
    # The mean divides by the number of elements N * d1 * ... * dK, whatever the weights.
    return apply_reduction(losses, reduction)


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
    (PyTorch returns NaN there).

    >>> cross_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))  # ln 2
    tensor(0.6931)
    >>> cross_entropy(torch.tensor([1.0, 3.0]).log(), torch.tensor([0.25, 0.75]))
    tensor(0.5623)
    """
    indices, label_smoothing = check_cross_entropy_args(input, target, weight, ignore_index, reduction, label_smoothing)
    log_probs = _log_softmax(input, class_dim(input))
    if indices is None:
        return _soft_cross_entropy(log_probs, target, weight, reduction, label_smoothing)
    losses, target_weight = _picked_nll(log_probs, indices, weight, ignore_index)
    total_weight = target_weight.sum()
    nll = apply_reduction(losses, reduction, total_weight)
    if label_smoothing == 0:
        return nll
    smooth = _smoothing_term(log_probs, indices != ignore_index, weight, reduction, total_weight)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / input.shape[class_dim(input)])


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
    check_floating(input, "input", "probabilities")
    check_probabilities(input, "input")
    check_same_shape(input, target, "probabilities")
    check_probabilities(target, "target")
    check_broadcast_weight(input, weight, "weight")
    check_reduction(reduction)
    # Evaluate each log only where it is finite, so that a floored term has gradient 0, not nan.
    log_p = torch.where(input > 0, torch.log(torch.where(input > 0, input, 1.0)), BCE_LOG_FLOOR)
    log_1mp = torch.where(input < 1, torch.log1p(-torch.where(input < 1, input, 0.0)), BCE_LOG_FLOOR)
    loss = -(target * log_p.clamp(min=BCE_LOG_FLOOR) + (1 - target) * log_1mp.clamp(min=BCE_LOG_FLOOR))
    if weight is not None:
        loss = loss * weight
    return apply_reduction(loss, reduction)


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
    check_floating(input, "input", "logits")
    check_same_shape(input, target, "probabilities")
    check_probabilities(target, "target")
    check_broadcast_weight(input, weight, "weight")
    check_broadcast_weight(
        input, pos_weight, "pos_weight", hint=" (one weight per class is a tensor of shape (C,), the last dimension)"
    )
    check_reduction(reduction)
    log_sigmoid = _log_sigmoid(input)
    positive_weight = 1.0 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input - positive_weight * log_sigmoid
    if weight is not None:
        loss = loss * weight
    return apply_reduction(loss, reduction)


def soft_margin_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Logistic loss of the margin :math:`m = y x` for labels :math:`y \in \{-1, 1\}`, in nats.

    .. math::

        \ell(x, y) = \log\bigl(1 + e^{-y x}\bigr) = \max(-m, 0) + \log\bigl(1 + e^{-|m|}\bigr),

    which is ``binary_cross_entropy_with_logits(x, (y + 1) / 2)``. The right-hand form never
    exponentiates a positive number, so the loss is exact for every finite margin and its
    gradient :math:`-y\,\sigma(-y x)` is never NaN. This deliberately differs from PyTorch,
    whose ``soft_margin_loss`` evaluates ``log(1 + exp(-y x))`` and returns ``inf`` (gradient
    NaN) once :math:`-y x` exceeds :math:`\ln(\text{max})`: 88.72 in float32, 709.78 in float64.
    ``target`` must hold only -1 and 1 (PyTorch takes any number: a ``{0, 1}`` label gives the
    constant :math:`\log 2` and no gradient).

    >>> soft_margin_loss(torch.tensor([2.0, -100.0]), torch.tensor([-1.0, 1.0]), reduction="none")
    tensor([  2.1269, 100.0000])
    """
    check_floating(input, "input", "logits")
    check_same_shape(input, target, "labels")
    labels = target.detach()
    hint = " (for 0/1 labels use binary_cross_entropy_with_logits, or pass 2 * target - 1)"
    check_values(target, "target", (labels == 1) | (labels == -1), "labels -1 and 1", hint)
    check_reduction(reduction)
    return apply_reduction(-_log_sigmoid(target * input), reduction)


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
    check_floating(input, "input", "log-probabilities")
    check_same_shape(input, target, "log-probabilities" if log_target else "probabilities")
    check_reduction(reduction, ("none", "batchmean", "sum", "mean"))
    check_bool(log_target, "log_target")
    hint = " (did you pass probabilities? use log_softmax)"
    check_values(input, "input", input.detach() <= 0, "log-probabilities (<= 0)", hint)  # False for NaN
    if log_target:
        check_values(target, "target", target.detach() <= 0, "log-probabilities (<= 0) when log_target=True")
        terms = torch.where(target > -torch.inf, torch.exp(target) * (target - input), 0.0)
    else:
        check_probabilities(target, "target")
        terms = torch.where(target > 0, torch.xlogy(target, target) - target * input, 0.0)
    if reduction == "batchmean":
        return terms.sum() / (input.shape[0] if input.dim() > 0 else 1)
    return apply_reduction(terms, reduction)
