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
:func:`logit_adjusted_cross_entropy` adds :math:`\tau \ln \pi` to the logits inside the loss,
for training on class-imbalanced data (Menon et al., 2021).

``focal_loss`` lives here, not in :mod:`celib.functional`: that module re-implements
PyTorch's own losses from elementary operations, and PyTorch has no focal loss. This one is
built, like the rest of the training chapter's code, on PyTorch's fused ``log_softmax``.

As everywhere in celib, logits have their classes in dim 1 (``(N, C, d1, ...)``, or ``(C,)``
unbatched) and class-index targets are ``torch.long`` or ``torch.uint8``. The functions that
return statistics (:func:`evaluate`, :func:`train_epoch`) return Python floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from celib._checks import (
    apply_reduction,
    check_choice,
    check_class_indices,
    check_class_weight,
    check_cross_entropy_args,
    check_distribution,
    check_floating,
    check_int,
    check_model,
    check_optional_int,
    check_pair,
    check_real,
    check_same_dtype,
    check_values,
    target_weights,
)

__all__ = [
    "History",
    "accumulate_cross_entropy",
    "evaluate",
    "fit",
    "focal_loss",
    "logit_adjusted_cross_entropy",
    "train_epoch",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


def evaluate(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    r"""Mean cross entropy (nats) and accuracy of ``model`` on ``data = (input, target)``.

    .. math::

        \text{loss} = -\frac1N \sum_{i=1}^N \ln \operatorname{softmax}(z_i)_{y_i}, \qquad
        \text{accuracy} = \frac1N \sum_{i=1}^N [\operatorname{argmax}_k z_{ik} = y_i],

    with :math:`z_i` = ``model(input)[i]``, logits with the classes in dim 1 (``(N, C)``, or
    ``(N, C, d1, ...)`` for targets ``(N, d1, ...)``, where the means run over all elements).
    The model runs in eval mode without gradients; its training mode is restored afterwards.

    Returns:
        ``(loss, accuracy)``, two Python floats.

    >>> model = nn.Linear(2, 3)
    >>> _ = nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    >>> loss, accuracy = evaluate(model, (torch.ones(4, 2), torch.tensor([0, 1, 2, 0])))
    >>> round(loss, 4), accuracy  # uniform predictions: ln 3 nats; argmax of a tie is class 0
    (1.0986, 0.5)
    """
    check_model(model)
    return _evaluate(model, data, "data")


def _evaluate(model: nn.Module, data: Any, name: str) -> tuple[float, float]:
    """:func:`evaluate`, with errors in ``data`` reported under ``name`` (``train``, ``val``...)."""
    input, target = check_pair(data, name)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(input)  # (N, C, *)
    finally:
        model.train(was_training)
    _check_model_output(logits, target, name)
    check_class_indices(target, logits.shape[1], f"{name} target")
    loss = F.cross_entropy(logits, target).item()
    accuracy = (logits.argmax(dim=1) == target).double().mean().item()
    return loss, accuracy


def _check_model_output(logits: Any, target: torch.Tensor, name: str, class_dim: int = 1) -> None:
    """The model's output on ``name`` must be floating-point logits: the target's shape plus a class dimension."""
    where = f"the model's output on {name}"
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{where} must be a torch.Tensor of logits; got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{where} has dtype {logits.dtype}; logits must be floating point")
    if not -logits.dim() <= class_dim < logits.dim():
        raise IndexError(f"class_dim {class_dim} is out of range for {where}, of shape {tuple(logits.shape)}")
    without_classes = list(logits.shape)
    del without_classes[class_dim]
    if tuple(without_classes) != tuple(target.shape):
        raise ValueError(
            f"{where} has shape {tuple(logits.shape)}; expected the target's shape {tuple(target.shape)} "
            f"with the classes inserted at dim {class_dim}"
        )


def _batches(
    num_examples: int, batch_size: int | None, sampler: Iterable[int] | None, generator: torch.Generator | None
) -> Iterable[torch.Tensor]:
    """Index tensors of the mini-batches of one epoch."""
    if sampler is not None:
        order = torch.as_tensor(list(sampler), dtype=torch.long)
    elif batch_size is None:
        return [torch.arange(num_examples)]  # full batch, in order: nothing to shuffle
    else:
        order = torch.randperm(num_examples, generator=generator)
    return order.split(batch_size or len(order))


def _check_loop_arguments(
    model: Any, optimizer: Any, loss_fn: Any, batch_size: Any, sampler: Any, generator: Any
) -> int | None:
    """Check the arguments :func:`train_epoch` and :func:`fit` share; return ``batch_size``."""
    check_model(model)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(logits, target); got {type(loss_fn).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    if sampler is not None and generator is not None:
        raise ValueError("give either sampler or generator, not both: the sampler draws from its own generator")
    return check_optional_int(batch_size, "batch_size", minimum=1)


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
        mini-batches of :math:`n_b` examples and loss :math:`\ell_b` (before each step), a
        Python float.

    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(2, 2)
    >>> x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    >>> first = train_epoch(model, optimizer, F.cross_entropy, (x, y))
    >>> second = train_epoch(model, optimizer, F.cross_entropy, (x, y))
    >>> second < first
    True
    """
    batch_size = _check_loop_arguments(model, optimizer, loss_fn, batch_size, sampler, generator)
    input, target = check_pair(train, "train")
    model.train()
    total, count = 0.0, 0
    for step, index in enumerate(_batches(len(target), batch_size, sampler, generator)):
        optimizer.zero_grad()
        logits = model(input[index])
        if step == 0:  # the first logits tell the number of classes C
            _check_model_output(logits, target[index], "train")
            check_class_indices(target, logits.shape[1], "train target")
        loss = loss_fn(logits, target[index])
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
    _check_loop_arguments(model, optimizer, loss_fn, batch_size, sampler, generator)
    check_pair(train, "train")
    if val is not None:
        check_pair(val, "val")
    epochs = check_int(epochs, "epochs", minimum=0)

    history = History()

    def record() -> None:
        loss, accuracy = _evaluate(model, train, "train")
        history.train_loss.append(loss)
        history.train_accuracy.append(accuracy)
        if val is not None:
            loss, accuracy = _evaluate(model, val, "val")
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
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    *,
    gamma: float = 2.0,
) -> torch.Tensor:
    r"""Focal loss of logits with class-index targets; ``gamma=0`` is ``F.cross_entropy``.

    With :math:`p_t = \operatorname{softmax}(z_i)_{y_i}`, element :math:`i` has loss

    .. math::

        \ell_i = -w_{y_i}\,(1 - p_t)^\gamma \ln p_t ,

    or 0 if :math:`y_i` is ``ignore_index``. The factor :math:`(1 - p_t)^\gamma` shrinks the
    loss of examples the model already gets right with confidence (Lin et al., 2017).
    ``reduction="mean"`` divides the sum by :math:`\sum_i w_{y_i}` over the kept elements, as
    ``F.cross_entropy`` does; ``"sum"`` adds, ``"none"`` returns :math:`\ell` of ``target``'s shape.
    The positional arguments are those of ``F.cross_entropy``; ``gamma`` is keyword-only.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (or ``(C,)`` unbatched).
        target: class indices in ``[0, C)`` or ``ignore_index``, shape ``(N,)`` or ``(N, d1, ...)``.
        weight: optional per-class weights of shape ``(C,)``.
        ignore_index: target value whose elements contribute neither loss nor gradient.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        gamma: the focusing parameter :math:`\gamma \ge 0`.

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> target = torch.tensor([0, 0])  # one easy example (p_t = 0.88), one hard (p_t = 0.12)
    >>> focal_loss(logits, target, gamma=2.0, reduction="none")
    tensor([0.0018, 1.6501])
    >>> F.cross_entropy(logits, target, reduction="none")  # gamma = 0
    tensor([0.1269, 2.1269])
    """
    gamma = check_real(gamma, "gamma", minimum=0)
    indices, _ = check_cross_entropy_args(input, target, weight, ignore_index, reduction, allow_probabilities=False)
    assert indices is not None  # allow_probabilities=False: always class indices
    if input.dim() == 1:  # unbatched: (C,) logits with a 0-d target
        return focal_loss(
            input.unsqueeze(0), indices.unsqueeze(0), weight, ignore_index, reduction, gamma=gamma
        ).squeeze(0)

    keep, safe_target, w_y = target_weights(indices, weight, ignore_index, input.dtype)  # (N, *) each
    # log_softmax (N, C, *) -> gather along C with index (N, 1, *) -> squeeze back to (N, *)
    log_pt = F.log_softmax(input, dim=1).gather(1, safe_target.unsqueeze(1)).squeeze(1)
    # 1 - p_t via expm1 (accurate near p_t = 1), kept >= tiny: at p_t = 1 the derivative of x^gamma
    # for gamma < 1 is infinite and would turn the true gradient, 0, into 0 * inf = nan.
    one_minus_pt = (-torch.expm1(log_pt)).clamp_min(torch.finfo(log_pt.dtype).tiny)  # (N, *)
    modulating = one_minus_pt**gamma  # (N, *)
    losses = torch.where(keep, -w_y * modulating * log_pt, 0.0)  # (N, *)
    return apply_reduction(losses, reduction, w_y.sum())


def logit_adjusted_cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    *,
    prior: torch.Tensor,
    tau: float = 1.0,
) -> torch.Tensor:
    r"""Cross entropy of the logits shifted by :math:`\tau \ln \pi`: the logit-adjusted loss.

    With the training set's class prior :math:`\pi` (``prior``, the class frequencies),
    element :math:`i` has loss

    .. math::

        \ell_i = -w_{y_i} \ln \frac{e^{z_{i y_i} + \tau \ln \pi_{y_i}}}{\sum_k e^{z_{ik} + \tau \ln \pi_k}}
        = -w_{y_i} \ln \frac{\pi_{y_i}^\tau e^{z_{i y_i}}}{\sum_k \pi_k^\tau e^{z_{ik}}}

    (:math:`w_{y_i} = 1` when ``weight`` is None), or 0 if
    :math:`y_i` is ``ignore_index``; ``reduction`` works as in ``F.cross_entropy``. Adding
    :math:`\tau \ln \pi` lowers the loss of predicting a frequent class, so the model's own
    logits :math:`z` need not carry the prior: with :math:`\tau = 1` the softmax of
    :math:`z + \ln \pi` models the training distribution, so at the loss's minimum
    :math:`\operatorname{argmax}_k z_{ik}` is the prediction with the smallest balanced error,
    the mean over the classes of their error rates (Menon et al., 2021). That is the error of
    a test set with a uniform prior: predict with the unshifted :math:`z` there, and with
    :math:`z + \ln \pi` for a test set with the training prior. ``tau=0`` is
    ``F.cross_entropy``.

    Args:
        input: logits of shape ``(N, C)`` or ``(N, C, d1, ...)`` (or ``(C,)`` unbatched).
        target: class indices in ``[0, C)`` or ``ignore_index``, shape ``(N,)`` or ``(N, d1, ...)``.
        weight: optional per-class weights of shape ``(C,)``.
        ignore_index: target value whose elements contribute neither loss nor gradient.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        prior: the class prior :math:`\pi`, shape ``(C,)``, entries > 0 summing to 1, in the
            input's dtype.
        tau: the scale :math:`\tau \ge 0` of the adjustment.

    >>> logits = torch.zeros(1, 2)
    >>> prior = torch.tensor([0.9, 0.1])
    >>> logit_adjusted_cross_entropy(logits, torch.tensor([1]), prior=prior)  # -ln 0.1
    tensor(2.3026)
    """
    tau = check_real(tau, "tau", minimum=0)
    indices, _ = check_cross_entropy_args(input, target, weight, ignore_index, reduction, allow_probabilities=False)
    assert indices is not None  # allow_probabilities=False: always class indices
    num_classes = input.shape[0 if input.dim() == 1 else 1]
    check_floating(prior, "prior", "probabilities")
    check_same_dtype(prior, "prior", input)
    if tuple(prior.shape) != (num_classes,):
        raise ValueError(
            f"prior has shape {tuple(prior.shape)}; expected (C,) = ({num_classes},), one probability per class"
        )
    check_distribution(prior, "prior")
    check_values(prior, "prior", prior.detach() > 0, "probabilities > 0 (ln 0 would be -inf)")
    # (C,) -> (C, 1, ..., 1): broadcast along the class dim of (C,) or (N, C, d1, ...)
    shift = (tau * prior.log()).reshape((num_classes,) + (1,) * max(input.dim() - 2, 0))
    return F.cross_entropy(input + shift, indices, weight=weight, ignore_index=ignore_index, reduction=reduction)


def _denominators(
    targets: list[torch.Tensor], weight: torch.Tensor | None, ignore_index: int, normalization: str
) -> list[float]:
    """What each micro-batch's summed loss is divided by: the total weight of all valid targets
    (``"global"``), or its own total weight times the number of micro-batches."""
    totals = [target_weights(t, weight, ignore_index, torch.float64)[2].sum().item() for t in targets]
    if normalization == "global":
        if sum(totals) == 0:
            raise ValueError("micro_batches hold no valid target (all are ignore_index): the mean is 0 / 0")
        return [sum(totals)] * len(targets)
    empty = [m for m, total in enumerate(totals) if total == 0]
    if empty:
        raise ValueError(f"micro_batches[{empty[0]}] holds no valid target: its mean is 0 / 0")
    return [total * len(targets) for total in totals]


def accumulate_cross_entropy(
    model: nn.Module,
    micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    normalization: str = "global",
    class_dim: int = 1,
) -> torch.Tensor:
    r"""Accumulate into ``.grad`` the gradient of cross entropy over several micro-batches.

    Each micro-batch is ``(input, target)``; ``model(input)`` gives logits with the classes in
    dim 1, ``(N, C, d1, ...)``, for targets ``(N, d1, ...)`` (padding marked with
    ``ignore_index``), as ``F.cross_entropy`` expects; for a model whose logits end with the
    classes, ``(N, d1, ..., C)`` as a language model's do, pass ``class_dim=-1``. Micro-batch
    :math:`m` contributes the summed loss :math:`S_m = \sum_{i \in m} w_{y_i} \ell_i` over its
    valid targets, with total weight :math:`W_m = \sum_{i \in m} w_{y_i}` (the number of valid
    targets when ``weight`` is None).

    - ``normalization="global"`` backpropagates :math:`S_m / \sum_{m'} W_{m'}` for every
      :math:`m`: the sum is the mean loss of the full batch, so the accumulated gradient equals
      the full-batch gradient exactly.
    - ``normalization="per_micro_batch"`` backpropagates :math:`(S_m / W_m) / M` for
      :math:`M` micro-batches, the average of per-micro-batch means. It over-weights the
      targets of micro-batches with few valid targets: biased unless all :math:`W_m` are equal.
      It is what Hugging Face Transformers' ``Trainer`` computed before its October 2024 fix,
      which divides the summed token losses by the number of non-ignored labels over all
      accumulation steps (``num_items_in_batch``), as ``"global"`` does.

    Both are per-token means. A per-sequence mean (each sequence's mean over its valid
    targets, averaged over the sequences) is a different loss; it accumulates exactly when
    every micro-batch backpropagates the sum of its sequences' means divided by the total
    number of sequences, which this function does not compute.

    ``normalization`` is not a ``reduction``: both choices return a mean; they differ in what
    the sum is divided by. Gradients are added to the parameters' ``.grad`` (call
    ``optimizer.zero_grad()`` before).

    Returns:
        The accumulated loss, detached; the full-batch mean for ``"global"``.

    >>> model = nn.Linear(1, 2)
    >>> micro_batches = [(torch.ones(3, 1), torch.tensor([0, 1, -100])), (torch.ones(1, 1), torch.tensor([1]))]
    >>> full = F.cross_entropy(model(torch.ones(3, 1)), torch.tensor([0, 1, 1]))
    >>> torch.isclose(accumulate_cross_entropy(model, micro_batches), full.detach()).item()
    True
    """
    check_model(model)
    ignore_index = check_int(ignore_index, "ignore_index")
    check_choice(normalization, "normalization", ("global", "per_micro_batch"))
    class_dim = check_int(class_dim, "class_dim")
    if isinstance(micro_batches, (str, torch.Tensor)) or not isinstance(micro_batches, Sequence):
        raise TypeError(
            f"micro_batches must be a sequence of (input, target) pairs; got {type(micro_batches).__name__}"
        )
    if not micro_batches:
        raise ValueError("micro_batches must hold at least one (input, target) pair; got none")
    pairs = [check_pair(pair, f"micro_batches[{m}]") for m, pair in enumerate(micro_batches)]

    denominators: list[float] = []
    contributions = []
    for m, (input, target) in enumerate(pairs):
        logits = model(input)
        _check_model_output(logits, target, f"micro_batches[{m}]", class_dim)
        logits = logits.movedim(class_dim, -1)  # (N, *, C): a no-op for class_dim=-1
        if not denominators:  # the first logits tell C: check weight and every target, then normalise
            check_class_weight(weight, logits.shape[-1], logits, whose="the logits'")
            for k, (_, t) in enumerate(pairs):
                check_class_indices(t, logits.shape[-1], f"micro_batches[{k}] target", ignore_index)
            denominators = _denominators([t for _, t in pairs], weight, ignore_index, normalization)
        # (N, *, C) -> (n, C) rows, (N, *) -> (n,)
        summed = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            target.reshape(-1),
            weight=weight,
            ignore_index=ignore_index,
            reduction="sum",
        )
        loss = summed / denominators[m]
        loss.backward()  # adds this micro-batch's share to .grad; its graph is freed here
        contributions.append(loss.detach())
    return torch.stack(contributions).sum()
