r"""Training a classifier with cross entropy: a small loop, a focal loss, gradient accumulation.

The loop is deliberately plain (nanoGPT-sized): :func:`train_epoch` makes one pass over the
training set, :func:`fit` repeats it and records a :class:`History` of the mean cross entropy
(in nats) and the accuracy on the training and validation sets, and :func:`evaluate` computes
those two numbers for one set. Shuffling draws from an explicit ``torch.Generator``, so a run is
reproducible from its seeds.

Two losses built on ``reduction="none"`` complete it: :func:`focal_loss` reweights each
example by :math:`(1 - p_t)^\gamma`, and :func:`accumulate_cross_entropy` accumulates the
gradient over micro-batches with padded (``ignore_index``) targets, normalised either by the
total number of valid targets (exact) or per micro-batch (the common, biased shortcut).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from celib._checks import check_class_targets
from celib.functional import check_cross_entropy_args

__all__ = ["History", "accumulate_cross_entropy", "evaluate", "fit", "focal_loss", "train_epoch"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_dataset(data, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(inputs, targets)`` from a pair, checking that the two have the same length."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (inputs, targets) of tensors; got {type(data).__name__}")
    inputs, targets = data
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(f"{name} must be a pair (inputs, targets) of tensors")
    if targets.dim() != 1 or inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            f"{name} needs inputs (N, ...) and targets (N,) of the same length N; "
            f"got shapes {tuple(inputs.shape)} and {tuple(targets.shape)}"
        )
    if targets.dtype != torch.long:
        raise TypeError(f"{name} targets have dtype {targets.dtype}; class-index targets must be torch.long")
    return inputs, targets


@dataclass
class History:
    r"""Per-epoch record of :func:`fit`: entry 0 is the model before training, entry ``e`` after epoch ``e``.

    Losses are the mean cross entropy :math:`-\frac1N\sum_i \ln p_{i, y_i}` in nats (the NLL,
    whatever loss the model was trained with); accuracies are fractions in [0, 1]. The
    validation lists stay empty when :func:`fit` gets no validation set.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    r"""Mean cross entropy (nats) and accuracy of ``model`` on ``(inputs, targets)``.

    .. math::

        \text{loss} = -\frac1N \sum_{i=1}^N \ln \operatorname{softmax}(z_i)_{y_i}, \qquad
        \text{accuracy} = \frac1N \sum_{i=1}^N [\operatorname{argmax}_k z_{ik} = y_i],

    with :math:`z_i` = ``model(inputs)[i]``. The model runs in eval mode without gradients;
    its training mode is restored afterwards.

    >>> model = nn.Linear(2, 3)
    >>> _ = nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    >>> loss, accuracy = evaluate(model, torch.ones(4, 2), torch.tensor([0, 1, 2, 0]))
    >>> round(loss, 4), accuracy  # uniform predictions: ln 3 nats; argmax of a tie is class 0
    (1.0986, 0.5)
    """
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a tensor; got {type(inputs).__name__}")
    check_class_targets(targets, None, "targets")
    if targets.shape != inputs.shape[:1]:
        raise ValueError(
            f"targets must have shape ({inputs.shape[0]},), one class index per input; got {tuple(targets.shape)}"
        )
    was_training = model.training
    model.eval()
    try:
        logits = model(inputs)  # (N, C)
    finally:
        model.train(was_training)
    check_class_targets(targets, logits.shape[-1], "targets")
    loss = F.cross_entropy(logits, targets).item()
    accuracy = (logits.argmax(dim=-1) == targets).double().mean().item()
    return loss, accuracy


def _batches(num_examples: int, batch_size: int | None, sampler, generator) -> Iterable[torch.Tensor]:
    """Index tensors of the mini-batches of one epoch."""
    if sampler is not None:
        order = torch.as_tensor(list(sampler), dtype=torch.long)
    elif batch_size is None:
        return [torch.arange(num_examples)]  # full batch, in order: nothing to shuffle
    else:
        order = torch.randperm(num_examples, generator=generator)
    return order.split(batch_size or len(order))


def _check_loop_arguments(batch_size, sampler, generator) -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None (full batch); got {batch_size!r}")
    if sampler is not None and generator is not None:
        raise ValueError("give either sampler or generator, not both: the sampler draws from its own generator")


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    train: tuple[torch.Tensor, torch.Tensor],
    *,
    batch_size: int | None = None,
    sampler: Iterable[int] | None = None,
    generator: torch.Generator | None = None,
) -> float:
    r"""One pass over ``train``: a step of ``optimizer`` on ``loss_fn(model(x_b), y_b)`` per mini-batch.

    Mini-batches hold ``batch_size`` examples (``None``: the whole set, one step). Their order
    is a fresh permutation drawn from ``generator``, or the indices that ``sampler`` yields
    (e.g. a ``torch.utils.data.WeightedRandomSampler``, which resamples with replacement);
    with neither ``batch_size`` nor ``sampler`` the epoch is one full-batch step. The model is
    left in training mode.

    Returns:
        The training loss averaged over the epoch, :math:`\sum_b n_b \ell_b / \sum_b n_b` for
        mini-batches of :math:`n_b` examples and loss :math:`\ell_b` (before each step).

    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(2, 2)
    >>> x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    >>> first = train_epoch(model, optimizer, F.cross_entropy, (x, y))
    >>> second = train_epoch(model, optimizer, F.cross_entropy, (x, y))
    >>> second < first
    True
    """
    inputs, targets = _check_dataset(train, "train")
    _check_loop_arguments(batch_size, sampler, generator)
    model.train()
    total, count = 0.0, 0
    for index in _batches(len(targets), batch_size, sampler, generator):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs[index]), targets[index])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
        count += len(index)
    return total / count


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    epochs: int,
    batch_size: int | None = None,
    sampler: Iterable[int] | None = None,
    generator: torch.Generator | None = None,
) -> History:
    """Train for ``epochs`` passes of :func:`train_epoch`, evaluating before and after each one.

    The history records :func:`evaluate` on ``train`` and ``val`` (mean cross entropy in nats
    and accuracy): entry 0 is the untrained model, so every list has ``epochs + 1`` entries.
    With the same initial parameters and the same seeded ``generator`` (or sampler), two runs
    give identical histories.

    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(2, 2)
    >>> x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    >>> history = fit(model, torch.optim.SGD(model.parameters(), lr=1.0), F.cross_entropy, (x, y), epochs=3)
    >>> len(history.train_loss), history.train_accuracy[-1]
    (4, 1.0)
    """
    _check_dataset(train, "train")
    if val is not None:
        _check_dataset(val, "val")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int; got {epochs!r}")
    _check_loop_arguments(batch_size, sampler, generator)

    history = History()

    def record() -> None:
        loss, accuracy = evaluate(model, *train)
        history.train_loss.append(loss)
        history.train_accuracy.append(accuracy)
        if val is not None:
            loss, accuracy = evaluate(model, *val)
            history.val_loss.append(loss)
            history.val_accuracy.append(accuracy)

    record()
    for _ in range(epochs):
        train_epoch(model, optimizer, loss_fn, train, batch_size=batch_size, sampler=sampler, generator=generator)
        record()
    return history


def focal_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Focal loss of logits with class-index targets; ``gamma=0`` is ``F.cross_entropy``.

    With :math:`p_t = \operatorname{softmax}(z_i)_{y_i}`, element :math:`i` has loss

    .. math::

        \ell_i = -w_{y_i}\,(1 - p_t)^\gamma \ln p_t ,

    or 0 if :math:`y_i` is ``ignore_index``. The factor :math:`(1 - p_t)^\gamma` shrinks the
    loss of examples the model already gets right with confidence (Lin et al., 2017).
    ``reduction="mean"`` divides the sum by :math:`\sum_i w_{y_i}` over the kept elements, as
    ``F.cross_entropy`` does; ``"sum"`` adds, ``"none"`` returns :math:`\ell` of ``target``'s shape.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (or ``(C,)`` unbatched).
        target: class indices in ``[0, C)`` or ``ignore_index``, shape ``(N,)`` or ``(N, d1, ...)``.
        gamma: the focusing parameter :math:`\gamma \ge 0`.
        weight: optional per-class weights of shape ``(C,)``.
        ignore_index: target value whose elements contribute neither loss nor gradient.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> target = torch.tensor([0, 0])  # one easy example (p_t = 0.88), one hard (p_t = 0.12)
    >>> focal_loss(logits, target, gamma=2.0, reduction="none")
    tensor([0.0018, 1.6501])
    >>> F.cross_entropy(logits, target, reduction="none")  # gamma = 0
    tensor([0.1269, 2.1269])
    """
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite real number >= 0; got {gamma!r}")
    # The same boundary checks as celib.functional.cross_entropy, minus probability targets.
    if not check_cross_entropy_args(input, target, weight, ignore_index, reduction):
        raise ValueError(
            f"target has the input's shape {tuple(input.shape)}: focal_loss takes class indices, not probabilities"
        )
    if input.dim() == 1:  # unbatched: (C,) logits with a 0-d target
        return focal_loss(input.unsqueeze(0), target.unsqueeze(0), gamma, weight, ignore_index, reduction).squeeze(0)

    target = target.long()  # (N, *); uint8 indices are accepted too
    keep = target != ignore_index  # (N, *)
    safe_target = target.masked_fill(~keep, 0)  # (N, *): a valid index for gather
    log_pt = F.log_softmax(input, dim=1).gather(1, safe_target.unsqueeze(1)).squeeze(1)  # (N, *)
    # 1 - p_t via expm1 (accurate near p_t = 1), kept >= tiny: at p_t = 1 the derivative of x^gamma
    # for gamma < 1 is infinite and would turn the true gradient, 0, into 0 * inf = nan.
    one_minus_pt = (-torch.expm1(log_pt)).clamp_min(torch.finfo(log_pt.dtype).tiny)  # (N, *)
    modulating = one_minus_pt**gamma  # (N, *)
    w_y = torch.ones_like(log_pt) if weight is None else weight[safe_target]  # (N, *)
    losses = torch.where(keep, -w_y * modulating * log_pt, 0.0)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / torch.where(keep, w_y, 0.0).sum()


def accumulate_cross_entropy(
    model: nn.Module,
    micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    normalization: str = "global",
) -> torch.Tensor:
    r"""Accumulate into ``.grad`` the gradient of cross entropy over several micro-batches.

    Each micro-batch is ``(inputs, targets)``; ``model(inputs)`` gives logits with the classes
    in the last dimension, ``(..., C)``, for targets ``(...)`` (padding marked with
    ``ignore_index``). Micro-batch :math:`m` contributes the summed loss
    :math:`S_m = \sum_{i \in m} w_{y_i} \ell_i` over its valid targets, with total weight
    :math:`W_m = \sum_{i \in m} w_{y_i}` (the number of valid targets when ``weight`` is None).

    - ``normalization="global"`` backpropagates :math:`S_m / \sum_{m'} W_{m'}` for every
      :math:`m`: the sum is the mean loss of the full batch, so the accumulated gradient equals
      the full-batch gradient exactly.
    - ``normalization="per_micro_batch"`` backpropagates :math:`(S_m / W_m) / M` for
      :math:`M` micro-batches, the average of per-micro-batch means. It over-weights the
      targets of micro-batches with few valid targets: biased unless all :math:`W_m` are equal.

    Gradients are added to the parameters' ``.grad`` (call ``optimizer.zero_grad()`` before).

    Returns:
        The accumulated loss (detached): the full-batch mean for ``"global"``.

    >>> model = nn.Linear(1, 2)
    >>> micro_batches = [(torch.ones(3, 1), torch.tensor([0, 1, -100])), (torch.ones(1, 1), torch.tensor([1]))]
    >>> full = F.cross_entropy(model(torch.ones(3, 1)), torch.tensor([0, 1, 1]))
    >>> torch.isclose(accumulate_cross_entropy(model, micro_batches), full.detach()).item()
    True
    """
    if normalization not in ("global", "per_micro_batch"):
        raise ValueError(f"normalization must be 'global' or 'per_micro_batch'; got {normalization!r}")
    micro_batches = list(micro_batches)
    if not micro_batches:
        raise ValueError("micro_batches must hold at least one (inputs, targets) pair; got none")

    def target_weight(targets: torch.Tensor) -> float:  # sum of w_{y_i} over the valid targets
        keep = targets != ignore_index
        if weight is None:
            return keep.sum().item()
        return torch.where(keep, weight[targets.masked_fill(~keep, 0)], 0.0).sum().item()

    # First pass, targets only: the normaliser of every micro-batch. (The range of the targets
    # is checked against the logits in the second pass; with weight, against its length now.)
    totals = []
    for m, (_, targets) in enumerate(micro_batches):
        num_classes = None if weight is None else len(weight)
        check_class_targets(targets, num_classes, f"micro_batches[{m}] targets", ignore_index)
        totals.append(target_weight(targets))
    if normalization == "global":
        denominators = [sum(totals)] * len(micro_batches)
        if denominators[0] == 0:
            raise ValueError("micro_batches hold no valid target (all are ignore_index): the mean is 0 / 0")
    else:
        empty = [m for m, total in enumerate(totals) if total == 0]
        if empty:
            raise ValueError(f"micro_batches[{empty[0]}] holds no valid target: its mean is 0 / 0")
        denominators = [total * len(micro_batches) for total in totals]

    contributions = []
    for m, ((inputs, targets), denominator) in enumerate(zip(micro_batches, denominators)):
        logits = model(inputs)  # (..., C)
        logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)  # (n, C), (n,)
        check_class_targets(targets, logits.shape[-1], f"micro_batches[{m}] targets", ignore_index)
        summed = F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore_index, reduction="sum")
        loss = summed / denominator
        loss.backward()  # adds this micro-batch's share to .grad; its graph is freed here
        contributions.append(loss.detach())
    return torch.stack(contributions).sum()
