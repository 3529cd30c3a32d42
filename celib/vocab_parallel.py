r"""Vocab-parallel cross entropy: each rank holds a slice of the output layer's vocabulary.

:func:`vocab_parallel_cross_entropy` shards ``weight`` over the ranks of a
``torch.distributed`` group; each rank holds logits for its slice of the vocabulary only, and
two all-reduces in the forward pass, each over all rows at once (per chunk of rows with
``chunk_size``): a MAX of the row maxima, then one packed SUM of the sums of exponentials and
the target logits. They give every rank the exact
loss of :func:`celib.linear_cross_entropy.linear_cross_entropy` on the whole weight; the
backward pass adds one more, for the input's gradient.
With ``chunk_size`` each rank also walks over the tokens in chunks, so that it never holds its
whole ``(N, V_r)`` block of logits. :func:`run_vocab_parallel` runs it on CPU processes, for
tests and demonstrations.
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
    check_optional_int,
    check_real,
    check_reduction,
)
from celib._spawn import run_on_ranks
from celib.linear_cross_entropy import accumulation_dtype
from celib.tracing import OpRecorder

__all__ = ["RankResult", "run_vocab_parallel", "vocab_parallel_cross_entropy"]

# The dispatcher's names of torch.distributed's collectives (as celib.tracing.OpRecorder sees them).
_COLLECTIVES = frozenset({"allreduce_", "allgather_", "reduce_scatter_", "broadcast_"})


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
    chunk_size: int | None = None  # rows of tokens per chunk; None: all N at once


def _chunk_statistics(
    z: torch.Tensor, target: torch.Tensor, shard: _Shard
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All-reduce one chunk's row max and packed sums; return its losses, log-sum-exps and softmax.

    ``z`` is the chunk's ``(R, V_r)`` block of logits, in the computing dtype; it is overwritten
    (in place) by this rank's columns of the softmax, the third return value.
    """
    eps, shard_size = shard.label_smoothing, z.shape[1]
    valid = target != shard.ignore_index  # (R,)
    local_target = target - shard.vocab_start  # (R,)
    in_shard = valid & (local_target >= 0) & (local_target < shard_size)  # (R,)
    safe_local = local_target.clamp(0, shard_size - 1)[:, None]  # (R, 1): a valid column for gather
    target_logit = torch.where(in_shard, z.gather(1, safe_local).squeeze(1), 0)  # only y's rank contributes

    row_max = z.amax(1)  # (R,)
    dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=shard.group)
    sums = [target_logit, z.sum(1)] if eps else [target_logit]  # sum of logits: for smoothing
    exp = z.sub_(row_max[:, None]).exp_()  # in place: z is not needed any more
    packed = torch.stack([exp.sum(1), *sums], 1)  # (R, 2 or 3): one all-reduce for all sums
    dist.all_reduce(packed, op=dist.ReduceOp.SUM, group=shard.group)
    sum_exp = packed[:, 0]
    lse = row_max + sum_exp.log()  # (R,): the global log-sum-exp of every row

    # Smoothing divides the all-reduced sum of logits by the GLOBAL V, not this shard's size.
    loss = lse - (1 - eps) * packed[:, 1]
    if eps:
        loss -= eps / shard.vocab_size * packed[:, 2]
    return torch.where(valid, loss, 0), lse, exp.div_(sum_exp[:, None])


def _logit_gradient(
    softmax: torch.Tensor, target: torch.Tensor, token_weight: torch.Tensor, shard: _Shard
) -> torch.Tensor:
    """Turn a chunk's ``(R, V_r)`` softmax columns, in place, into ``a_i (softmax - p)`` on this rank's columns."""
    eps, shard_size = shard.label_smoothing, softmax.shape[1]
    local_target = target - shard.vocab_start
    in_shard = (target != shard.ignore_index) & (local_target >= 0) & (local_target < shard_size)
    safe_local = local_target.clamp(0, shard_size - 1)[:, None]
    grad = softmax.mul_(token_weight[:, None])
    grad.scatter_add_(1, safe_local, (-(1 - eps) * token_weight * in_shard)[:, None])
    if eps:
        grad.sub_((eps / shard.vocab_size * token_weight)[:, None])
    return grad


def _token_weights(target: torch.Tensor, shard: _Shard, dtype: torch.dtype) -> torch.Tensor:
    """``a_i``: 0 for ignored tokens, else 1, or 1 / (number of tokens not ignored) for the mean."""
    valid = target != shard.ignore_index
    weight = valid.to(dtype)  # (N,)
    if shard.reduction == "mean":
        weight /= valid.sum().clamp(min=1)
    return weight


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Forward: two all-reduces (MAX, one packed SUM) give the exact loss; backward: one more.

    Without ``chunk_size`` the forward pass keeps the gradient of this rank's logits, an
    ``(N, V_r)`` tensor in the computing dtype, and the backward pass multiplies it out. With
    ``chunk_size`` it keeps only each token's log-sum-exp, and the backward pass recomputes the
    logits chunk by chunk (one more matrix product, as activation checkpointing does), so that
    no tensor of this rank holds more than ``chunk_size`` rows of logits.
    """

    @staticmethod
    def forward(
        ctx: Any, input: torch.Tensor, weight_shard: torch.Tensor, target: torch.Tensor, shard: _Shard
    ) -> torch.Tensor:
        acc = accumulation_dtype(input.dtype)
        num_tokens = input.shape[0]
        rows = num_tokens if shard.chunk_size is None else min(shard.chunk_size, num_tokens)
        losses = input.new_empty(num_tokens, dtype=acc)  # (N,)
        lse = input.new_empty(num_tokens, dtype=acc)  # (N,)
        for start in range(0, num_tokens, rows):
            chunk = slice(start, start + rows)
            z = (input[chunk] @ weight_shard.T).to(acc)  # (R, V_r): this rank's columns of the chunk's logits
            losses[chunk], lse[chunk], softmax = _chunk_statistics(z, target[chunk], shard)
        if shard.chunk_size is None:  # one chunk of N rows: keep its logits' gradient, (N, V_r)
            grad_logits = _logit_gradient(softmax, target, _token_weights(target, shard, acc), shard)
            ctx.save_for_backward(input, weight_shard, grad_logits)
        else:  # keep N log-sum-exps; backward recomputes the logits
            ctx.save_for_backward(input, weight_shard, target, lse)
        ctx.shard = shard
        return apply_reduction(losses, shard.reduction, (target != shard.ignore_index).sum()).to(input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        shard = ctx.shard
        input, weight_shard, *kept = ctx.saved_tensors
        acc = accumulation_dtype(input.dtype)
        scale = grad_output.to(acc)  # (N,) for reduction='none', else a scalar
        if shard.chunk_size is None:
            g = kept[0] * (scale[:, None] if shard.reduction == "none" else scale)  # (N, V_r)
            grad_input = g.to(input.dtype) @ weight_shard  # this rank's share of dL/dx
            grad_weight = g.T @ input.to(acc)  # local: no communication
        else:
            target, lse = kept
            token_weight = _token_weights(target, shard, acc) * scale  # (N,)
            grad_input = torch.empty_like(input)
            grad_weight = weight_shard.new_zeros(weight_shard.shape, dtype=acc)
            for start in range(0, input.shape[0], shard.chunk_size):
                chunk = slice(start, start + shard.chunk_size)
                z = (input[chunk] @ weight_shard.T).to(acc)  # (R, V_r), recomputed
                softmax = z.sub_(lse[chunk, None]).exp_()
                g = _logit_gradient(softmax, target[chunk], token_weight[chunk], shard)
                grad_input[chunk] = g.to(input.dtype) @ weight_shard
                grad_weight += g.T @ input[chunk].to(acc)
        if ctx.needs_input_grad[0]:
            dist.all_reduce(grad_input, op=dist.ReduceOp.SUM, group=shard.group)  # dL/dx = sum_r G^(r) W_r
        return (
            grad_input if ctx.needs_input_grad[0] else None,
            grad_weight.to(weight_shard.dtype) if ctx.needs_input_grad[1] else None,
            None,
            None,
        )


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
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""Cross entropy of ``input @ weight.T`` when each rank holds only a slice of ``weight``'s rows.

    Rank :math:`r` holds rows ``[vocab_start, vocab_start + V_r)`` of the full ``(V, D)`` weight
    (the slices may be uneven but must tile ``[0, V)``) and computes only its logits
    :math:`z^{(r)} = x W_r^\top`. Three reduced quantities per token make the loss exact; they
    are all-reduced over ``group`` in two calls that cover every row at once (a MAX for
    :math:`m`, then one packed SUM):

    .. math::

        m = \max_r \max_j z^{(r)}_j, \qquad
        s = \sum_r \sum_j e^{z^{(r)}_j - m}, \qquad
        z_y = \sum_r z^{(r)}_y [y \in \text{shard } r],

    so that :math:`\ell = m + \log s - (1 - \varepsilon) z_y - \frac{\varepsilon}{V} \sum_r
    \sum_j z^{(r)}_j`, with :math:`V` the *global* vocabulary size (the sums travel in one packed
    all-reduce). The gradient of the local logits, :math:`\mathrm{softmax}(z)^{(r)} - q^{(r)}`,
    needs nothing from the other ranks, nor does the weight shard's gradient; the gradient of
    ``input`` is a sum over the shards, one more all-reduce in the backward pass.

    **Memory per rank.** Without ``chunk_size`` a rank keeps the gradient of its logits, an
    ``(N, V_r)`` tensor in float32 for bf16/fp16 inputs (else in the input dtype), from the
    forward to the backward pass. With ``chunk_size=R`` it computes the logits ``R`` tokens at a
    time, all-reduces each chunk's row max and packed sums (the same collectives, on ``R`` rows,
    ``ceil(N / R)`` times), keeps only the ``N`` log-sum-exps, and recomputes each chunk's logits
    in the backward pass: at most ``(R, V_r)`` logits at a time, for one more matrix product
    (four of :math:`2 N V_r D` operations instead of three). Computing each chunk's gradients in
    the forward pass instead would keep three products but not suit ``reduction='none'``;
    chunking over blocks of the rank's vocabulary instead would keep the unchunked collectives
    for the same four products.

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
        chunk_size: rows of tokens per chunk, or ``None`` (the default) for all ``N`` at once.

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
    rows = check_optional_int(chunk_size, "chunk_size", minimum=1)
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "vocab_parallel_cross_entropy needs a torch.distributed process group: call "
            "torch.distributed.init_process_group first (run_vocab_parallel does it on CPU)"
        )
    vocab_size = _vocab_size_of_group(vocab_start, weight_shard.shape[0], input.device, group)
    check_class_indices(target, vocab_size, "target", ignore_index)
    shard = _Shard(vocab_start, vocab_size, group, ignore_index, reduction, smoothing, rows)
    return _VocabParallelCrossEntropy.apply(input, weight_shard, target, shard)


class RankResult(NamedTuple):
    """What one rank of :func:`run_vocab_parallel` computed."""

    loss: torch.Tensor
    grad_input: torch.Tensor
    grad_weight_shard: torch.Tensor
    vocab_start: int
    saved_bytes: int  # what the loss kept from forward to backward, the rank's inputs excluded
    collectives: list[str]  # the collectives the rank ran, in order ("allreduce_", "allgather_")
    products: float  # the rank's matrix-product operations, forward and backward, over 2 N V_r D


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
    chunk_size: int | None = None,
) -> list[RankResult]:
    """Run :func:`vocab_parallel_cross_entropy` on ``len(shard_sizes)`` CPU processes, one shard each.

    Splits ``weight``'s rows into consecutive shards of ``shard_sizes`` rows, starts one process
    per shard (``gloo`` backend, rendezvous through a file, so no network port is needed), and
    on each rank computes the loss and backpropagates ``grad_output`` (default: 1, or ones for
    ``reduction='none'``). Returns the ranks' results in rank order: each rank's loss and
    gradients, the bytes that autograd kept for the backward pass beyond the rank's inputs (seen
    through ``torch.autograd.graph.saved_tensors_hooks``) and the names of the collectives the
    rank ran, forward and backward, in order, and how much the rank multiplied: the
    floating-point operations of its matrix products (:class:`celib.tracing.OpRecorder`'s
    ``matmul_flops``) in units of one product of the size of its logits, :math:`2 N V_r D`
    (3 without ``chunk_size``: the logits, then the gradients of input and shard; 4 with it,
    the logits being recomputed in the backward pass). The options are those of
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
        "chunk_size": check_optional_int(chunk_size, "chunk_size", minimum=1),
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
    """One rank of :func:`run_vocab_parallel`: its shard's loss, gradients, saved bytes and collectives."""
    start = sum(sizes[:rank])
    x = input.clone().requires_grad_()
    shard = weight[start : start + sizes[rank]].clone().requires_grad_()
    inputs = {t.untyped_storage().data_ptr() for t in (x, shard, target)}
    saved: dict[int, int] = {}  # storage address: bytes, of what autograd keeps beyond the inputs

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in inputs:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with OpRecorder() as recorder:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = vocab_parallel_cross_entropy(x, shard, target, vocab_start=start, **options)
        loss.backward(torch.ones_like(loss) if grad_output is None else grad_output)
    assert x.grad is not None and shard.grad is not None  # both are leaves that require grad
    collectives = [op for op in recorder.ops if op in _COLLECTIVES]
    products = recorder.matmul_flops / (2 * x.shape[0] * shard.shape[0] * x.shape[1])
    return RankResult(loss.detach(), x.grad, shard.grad, start, sum(saved.values()), collectives, products)._asdict()
