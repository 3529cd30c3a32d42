r"""Vocab-parallel cross entropy: each rank holds a slice of the output layer's vocabulary.

:func:`vocab_parallel_cross_entropy` shards ``weight`` over the ranks of a
``torch.distributed`` group; each rank holds logits for its slice of the vocabulary only, and
three all-reduces per token (row max, sum of exponentials, target logit) give every rank the
exact loss of :func:`celib.linear_cross_entropy.linear_cross_entropy` on the whole weight.
:func:`run_vocab_parallel` runs it on CPU processes, for tests and demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch.autograd.function import once_differentiable

from celib._checks import (
    apply_reduction,
    check_class_indices,
    check_int,
    check_linear_args,
    check_real,
    check_reduction,
)
from celib._spawn import run_on_ranks
from celib.linear_cross_entropy import accumulation_dtype

__all__ = ["RankResult", "run_vocab_parallel", "vocab_parallel_cross_entropy"]


def _vocab_size_of_group(vocab_start: int, shard_size: int, device: torch.device, group: Any) -> int:
    """All-gather every rank's ``(vocab_start, shard_size)``; check the shards tile ``[0, V)``; return ``V``."""
    world_size = dist.get_world_size(group)
    mine = torch.tensor([vocab_start, shard_size], device=device)
    ranges = [torch.empty_like(mine) for _ in range(world_size)]
    dist.all_gather(ranges, mine, group=group)
    expected_start = 0
    for start, size in sorted(tuple(r.tolist()) for r in ranges):
        if start != expected_start:
            shards = ", ".join(f"[{a}, {a + b})" for a, b in (r.tolist() for r in ranges))
            raise ValueError(
                f"vocab_start out of range: the ranks' shards {shards} do not tile [0, V) without "
                f"gaps or overlaps (a shard starts at {start}, expected {expected_start})"
            )
        expected_start = start + size
    return expected_start


@dataclass(frozen=True)
class _Shard:
    """This rank's place in the vocabulary and the options of the loss, validated."""

    vocab_start: int  # index in the global vocabulary of the shard's first row
    vocab_size: int  # V, the global vocabulary
    group: Any  # the torch.distributed process group (None: the world)
    ignore_index: int
    reduction: str
    label_smoothing: float


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Forward: three all-reduces per token give the exact loss; backward: one for grad_input."""

    @staticmethod
    def forward(
        ctx: Any, input: torch.Tensor, weight_shard: torch.Tensor, target: torch.Tensor, shard: _Shard
    ) -> torch.Tensor:
        eps = shard.label_smoothing
        acc = accumulation_dtype(input.dtype)
        shard_size = weight_shard.shape[0]
        z = (input @ weight_shard.T).to(acc)  # (N, V_r): this rank's slice of the logits

        valid = target != shard.ignore_index  # (N,)
        local_target = target - shard.vocab_start  # (N,)
        in_shard = valid & (local_target >= 0) & (local_target < shard_size)  # (N,)
        safe_local = local_target.clamp(0, shard_size - 1)[:, None]  # (N, 1): a valid column for gather
        target_logit = torch.where(in_shard, z.gather(1, safe_local).squeeze(1), 0)  # only y's rank contributes

        row_max = z.amax(1)  # (N,)
        dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=shard.group)
        sums = [target_logit, z.sum(1)] if eps else [target_logit]  # sum of logits: for smoothing
        exp = z.sub_(row_max[:, None]).exp_()  # in place: z is not needed any more
        packed = torch.stack([exp.sum(1), *sums], 1)  # (N, 2 or 3): one all-reduce for all sums
        dist.all_reduce(packed, op=dist.ReduceOp.SUM, group=shard.group)
        sum_exp, target_logit = packed[:, 0], packed[:, 1]

        # Smoothing divides the all-reduced sum of logits by the GLOBAL V, not this shard's size.
        loss = row_max + sum_exp.log() - (1 - eps) * target_logit
        if eps:
            loss -= eps / shard.vocab_size * packed[:, 2]
        losses = torch.where(valid, loss, 0)

        # Gradient of this rank's logits, a * (softmax - q), kept for backward: (N, V_r).
        token_weight = valid.to(acc)  # (N,)
        if shard.reduction == "mean":
            token_weight /= valid.sum().clamp(min=1)
        grad_logits = exp.mul_((token_weight / sum_exp)[:, None])
        grad_logits.scatter_add_(1, safe_local, (-(1 - eps) * token_weight * in_shard)[:, None])
        if eps:
            grad_logits.sub_((eps / shard.vocab_size * token_weight)[:, None])
        ctx.save_for_backward(input, weight_shard)
        ctx.grad_logits, ctx.shard = grad_logits, shard
        return apply_reduction(losses, shard.reduction, valid.sum()).to(input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        input, weight_shard = ctx.saved_tensors
        scale = grad_output[:, None] if ctx.shard.reduction == "none" else grad_output
        g = ctx.grad_logits * scale.to(ctx.grad_logits.dtype)  # (N, V_r)
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = g.to(input.dtype) @ weight_shard  # this rank's share of dL/dx
            dist.all_reduce(grad_input, op=dist.ReduceOp.SUM, group=ctx.shard.group)
        if ctx.needs_input_grad[1]:
            grad_weight = (g.T @ input.to(g.dtype)).to(weight_shard.dtype)  # local: no communication
        return grad_input, grad_weight, None, None


def vocab_parallel_cross_entropy(
    input: torch.Tensor,
    weight_shard: torch.Tensor,
    target: torch.Tensor,
    *,
    vocab_start: int,
    group: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Cross entropy of ``input @ weight.T`` when each rank holds only a slice of ``weight``'s rows.

    Rank :math:`r` holds rows ``[vocab_start, vocab_start + V_r)`` of the full ``(V, D)`` weight
    (the slices may be uneven but must tile ``[0, V)``) and computes only its logits
    :math:`z^{(r)} = x W_r^\top`. Three all-reduces over ``group`` per token make the loss exact:

    .. math::

        m = \max_r \max_j z^{(r)}_j, \qquad
        s = \sum_r \sum_j e^{z^{(r)}_j - m}, \qquad
        z_y = \sum_r z^{(r)}_y [y \in \text{shard } r],

    so that :math:`\ell = m + \log s - (1 - \varepsilon) z_y - \frac{\varepsilon}{V} \sum_r
    \sum_j z^{(r)}_j`, with :math:`V` the *global* vocabulary size (the sums travel in one packed
    all-reduce). The gradient of the local logits, :math:`\mathrm{softmax}(z)^{(r)} - q^{(r)}`,
    needs nothing from the other ranks, nor does the weight shard's gradient; the gradient of
    ``input`` is a sum over the shards, one more all-reduce in the backward pass.

    Every rank of ``group`` must call it with the same ``input``, ``target`` and options, and
    gets the loss of the full-vocabulary computation
    (:func:`celib.linear_cross_entropy.linear_cross_entropy` on the concatenated weight), the
    full gradient of ``input`` and the gradient of its own shard.

    Args:
        input: hidden states, shape ``(N, D)``, identical on every rank.
        weight_shard: this rank's rows of the weight, shape ``(V_r, D)`` with ``V_r >= 1``.
        target: class indices in the *global* vocabulary (``torch.long`` or ``torch.uint8``),
            shape ``(N,)``.
        vocab_start: index in the global vocabulary of ``weight_shard``'s first row.
        group: the ``torch.distributed`` process group (default: the world).
        ignore_index: target value whose tokens count neither in the loss nor in the mean.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``, as in ``torch.nn.functional.cross_entropy``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`, spread over the *global* vocabulary.

    Returns:
        The same loss on every rank, a scalar or, for ``reduction='none'``, of shape ``(N,)``.

    The process group must exist (``torch.distributed.init_process_group``); on CPU use the
    ``gloo`` backend, on GPUs ``nccl``. In a job started with ``torchrun``, rank ``r`` of ``k``
    (with ``V`` divisible by ``k`` here, for brevity) runs::

        shard = V // k
        loss = vocab_parallel_cross_entropy(x, W[r * shard : (r + 1) * shard], y, vocab_start=r * shard)
        loss.backward()

    :func:`run_vocab_parallel` does exactly this on CPU processes, and its example checks the loss.
    """
    input, weight_shard, _, target = check_linear_args(input, weight_shard, None, target, "weight_shard")
    vocab_start = check_int(vocab_start, "vocab_start", minimum=0)
    ignore_index = check_int(ignore_index, "ignore_index")
    check_reduction(reduction)
    smoothing = check_real(label_smoothing, "label_smoothing", minimum=0, maximum=1)
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "vocab_parallel_cross_entropy needs a torch.distributed process group: call "
            "torch.distributed.init_process_group first (run_vocab_parallel does it on CPU)"
        )
    vocab_size = _vocab_size_of_group(vocab_start, weight_shard.shape[0], input.device, group)
    check_class_indices(target, vocab_size, "target", ignore_index)
    shard = _Shard(vocab_start, vocab_size, group, ignore_index, reduction, smoothing)
    return _VocabParallelCrossEntropy.apply(input, weight_shard, target, shard)


class RankResult(NamedTuple):
    """What one rank of :func:`run_vocab_parallel` computed."""

    loss: torch.Tensor
    grad_input: torch.Tensor
    grad_weight_shard: torch.Tensor
    vocab_start: int


def run_vocab_parallel(
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    shard_sizes: list[int],
    *,
    grad_output: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> list[RankResult]:
    """Run :func:`vocab_parallel_cross_entropy` on ``len(shard_sizes)`` CPU processes, one shard each.

    Splits ``weight``'s rows into consecutive shards of ``shard_sizes`` rows, starts one process
    per shard (``gloo`` backend, rendezvous through a file, so no network port is needed), and
    on each rank computes the loss and backpropagates ``grad_output`` (default: 1, or ones for
    ``reduction='none'``). Returns the ranks' results in rank order. The options are those of
    :func:`vocab_parallel_cross_entropy`. Meant for tests and demonstrations; a real job starts
    its processes with ``torchrun`` and calls :func:`vocab_parallel_cross_entropy` directly.

    >>> from celib.linear_cross_entropy import linear_cross_entropy
    >>> _ = torch.manual_seed(0)
    >>> x, W, y = torch.randn(5, 3), torch.randn(11, 3), torch.tensor([0, 10, 4, 5, -100])
    >>> ranks = run_vocab_parallel(x, W, y, shard_sizes=[5, 4, 2], label_smoothing=0.1)
    >>> [r.vocab_start for r in ranks], [tuple(r.grad_weight_shard.shape) for r in ranks]
    ([0, 5, 9], [(5, 3), (4, 3), (2, 3)])
    >>> [f"{r.loss.item():.4f}" for r in ranks], f"{linear_cross_entropy(x, W, y, label_smoothing=0.1).item():.4f}"
    (['2.9649', '2.9649', '2.9649'], '2.9649')
    """
    input, weight, _, target = check_linear_args(input, weight, None, target)
    if isinstance(shard_sizes, (str, torch.Tensor)) or not isinstance(shard_sizes, (list, tuple)) or not shard_sizes:
        raise TypeError(f"shard_sizes must be a non-empty list of ints; got {shard_sizes!r}")
    sizes = [check_int(size, f"shard_sizes[{rank}]", minimum=1) for rank, size in enumerate(shard_sizes)]
    if sum(sizes) != weight.shape[0]:
        raise ValueError(f"shard_sizes must add up to V = {weight.shape[0]} (weight's rows); got sum {sum(sizes)}")
    # Check the options here, in this process, so that a mistake is not reported by every rank.
    options: dict[str, Any] = {
        "ignore_index": check_int(ignore_index, "ignore_index"),
        "reduction": check_reduction(reduction),
        "label_smoothing": check_real(label_smoothing, "label_smoothing", minimum=0, maximum=1),
    }
    check_class_indices(target, weight.shape[0], "target", options["ignore_index"])
    results = run_on_ranks(
        _vocab_parallel_rank, len(sizes), sizes, input.detach(), weight.detach(), target, grad_output, options
    )
    return [RankResult(**result) for result in results]


def _vocab_parallel_rank(
    rank: int,
    world_size: int,
    sizes: list[int],
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    grad_output: torch.Tensor | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """One rank of :func:`run_vocab_parallel`: its shard's loss and gradients."""
    start = sum(sizes[:rank])
    x = input.clone().requires_grad_()
    shard = weight[start : start + sizes[rank]].clone().requires_grad_()
    loss = vocab_parallel_cross_entropy(x, shard, target, vocab_start=start, **options)
    loss.backward(torch.ones_like(loss) if grad_output is None else grad_output)
    assert x.grad is not None and shard.grad is not None  # both are leaves that require grad
    return RankResult(loss.detach(), x.grad, shard.grad, start)._asdict()
