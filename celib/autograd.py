r"""Cross entropy as a ``torch.autograd.Function`` with a hand-written backward.

The forward pass computes the loss from log-probabilities; the backward pass does not replay
the forward's operations but applies the closed form derived in the gradients chapter:

.. math::

    \frac{\partial \ell_i}{\partial z_{ik}} = w_{y_i}\,\bigl(p_{ik} - [k = y_i]\bigr),
    \qquad p_i = \operatorname{softmax}(z_i),

scaled by the upstream gradient, by :math:`1 / \sum_i w_{y_i}` for the mean, and zero for the
rows whose target is ``ignore_index``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from celib._checks import apply_reduction, check_cross_entropy_args, target_weights

__all__ = ["CrossEntropyFunction", "cross_entropy"]


class CrossEntropyFunction(torch.autograd.Function):
    r"""Cross entropy of logits ``(N, C, *)`` with class indices ``(N, *)``; arguments already valid.

    Call it through :func:`cross_entropy`, which validates the arguments. ``forward`` saves the
    log-probabilities, the targets (ignored ones replaced by class 0, a valid index) and the
    per-element scale of the gradient; ``backward`` turns them into
    :math:`(\mathrm{softmax}(z) - \mathrm{onehot}(y))` times that scale. The backward is
    ``once_differentiable``: it computes first derivatives only (no double backward).
    """

    @staticmethod
    def forward(
        ctx: Any,
        input: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None,
        ignore_index: int,
        reduction: str,
    ) -> torch.Tensor:
        # input (N, C, *), target (N, *) int64, weight (C,) or None
        shifted = input - input.amax(dim=1, keepdim=True)  # log-sum-exp with the max shift
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()  # (N, C, *)
        keep, safe_target, w_y = target_weights(target, weight, ignore_index, input.dtype)  # (N, *) each
        nll = -log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # (N, 1, *) -> (N, *)
        losses = torch.where(keep, w_y * nll, 0.0)  # (N, *): ignored elements contribute 0
        total_weight = w_y.sum()  # the mean's normaliser; 0 / 0 = nan if nothing is kept
        output = apply_reduction(losses, reduction, total_weight)
        scale = w_y / total_weight if reduction == "mean" else w_y  # (N, *): d output / d loss_i
        # Ignored elements get no gradient, even where the normaliser is 0 (PyTorch does the same).
        ctx.save_for_backward(log_probs, safe_target, torch.where(keep, scale, 0.0))
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        log_probs, safe_target, scale = ctx.saved_tensors
        grad = log_probs.exp()  # softmax, (N, C, *)
        grad.scatter_add_(1, safe_target.unsqueeze(1), -torch.ones_like(log_probs[:, :1]))  # - onehot
        # grad_output is (N, *) for reduction="none" and a scalar otherwise; both broadcast.
        grad = grad * (scale * grad_output).unsqueeze(1)
        return grad, None, None, None, None


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross entropy with class-index targets and the hand-written gradient; mirrors ``F.cross_entropy``.

    With :math:`\log p_i = \operatorname{log\_softmax}(z_i)` over the classes (dimension 1),
    element :math:`i` has loss :math:`\ell_i = -w_{y_i} \log p_{i, y_i}`, or 0 if
    :math:`y_i` is ``ignore_index``. ``reduction="mean"`` divides the sum by
    :math:`\sum_i w_{y_i}` over the kept elements (``nan`` if none is kept, like PyTorch).
    The gradient with respect to ``input`` is :math:`w_{y_i} (p_i - e_{y_i})` times the
    upstream gradient (and the mean's normaliser). Arguments are validated by the same check as
    ``celib.functional.cross_entropy``, so bad input is rejected with the same messages;
    probability targets are refused (use ``celib.functional.cross_entropy``), and so is a
    ``weight`` that requires grad.

    The backward is ``once_differentiable``: it gives first derivatives only. Differentiating
    its result again raises an error where autograd can tell, but
    ``torch.autograd.functional.hessian`` returns zeros unless called with ``strict=True``;
    use ``torch.nn.functional.cross_entropy`` for second derivatives.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (or ``(C,)`` unbatched).
        target: class indices in ``[0, C)`` or ``ignore_index``, shape ``(N,)`` or ``(N, d1, ...)``.
        weight: optional per-class weights of shape ``(C,)``.
        ignore_index: target value whose elements contribute neither loss nor gradient.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss: a scalar, or of ``target``'s shape for ``reduction="none"``.

    >>> logits = torch.tensor([[2.0, 1.0, 1.0]]).log().requires_grad_()  # softmax: [0.5, 0.25, 0.25]
    >>> loss = cross_entropy(logits, torch.tensor([0]))
    >>> loss.backward()
    >>> logits.grad  # softmax(logits) - onehot(0)
    tensor([[-0.5000,  0.2500,  0.2500]])
    """
    indices, _ = check_cross_entropy_args(input, target, weight, ignore_index, reduction, allow_probabilities=False)
    assert indices is not None  # allow_probabilities=False: always class indices
    if weight is not None and weight.requires_grad:
        raise ValueError(
            "weight requires grad; cross entropy is differentiable with respect to input only (as in PyTorch)"
        )
    if input.dim() == 1:  # unbatched: (C,) logits and a 0-d target are a batch of one
        loss = CrossEntropyFunction.apply(input.unsqueeze(0), indices.unsqueeze(0), weight, ignore_index, reduction)
        return loss.squeeze(0)
    return CrossEntropyFunction.apply(input, indices, weight, ignore_index, reduction)
