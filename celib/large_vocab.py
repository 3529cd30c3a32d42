r"""Cross entropy over a large vocabulary without the ``(N, V)`` logits tensor.

A language model's last layer maps ``N`` hidden states ``x`` (width ``D``) to logits over a
vocabulary of ``V`` tokens, :math:`z = x W^\top + b`, and the loss is the cross entropy of
:math:`\mathrm{softmax}(z)` against the next tokens. With ``V`` in the hundreds of thousands the
logits, and what eager autograd keeps of them for the backward pass, are the largest tensors of
the whole training step. Two ways around them live here:

* :func:`linear_cross_entropy` walks over the tokens in chunks and computes each chunk's
  gradients *inside the forward pass*, so that only the gradients themselves (the same size as
  ``input`` and ``weight``) outlive a chunk; for bf16 and float16 a second pass over blocks of
  the vocabulary gets the weight gradient without a float32 copy of it;
* :func:`vocab_parallel_cross_entropy` shards ``weight`` over the ranks of a
  ``torch.distributed`` group; each rank holds logits for its slice of the vocabulary only,
  and three all-reduces per token (row max, sum of exponentials, target logit) give every rank
  the exact loss. :func:`run_vocab_parallel` runs it on CPU processes for tests and demos.

For every token :math:`i` with target :math:`y_i` (tokens whose target is ``ignore_index`` do
not count), smoothing :math:`\varepsilon` and target distribution
:math:`q_i = (1 - \varepsilon)\,e_{y_i} + \varepsilon / V`, the loss in nats and the gradient
of the logits are

.. math::

    \ell_i = \operatorname{logsumexp}(z_i) - (1 - \varepsilon)\, z_{i y_i}
             - \frac{\varepsilon}{V} \sum_{j=1}^{V} z_{ij},
    \qquad
    \frac{\partial \ell_i}{\partial z_i} = \mathrm{softmax}(z_i) - q_i,

and the chain rule through :math:`z = x W^\top + b` gives :math:`\partial L / \partial x = G W`,
:math:`\partial L / \partial W = G^\top x` and :math:`\partial L / \partial b = \sum_i G_i`,
where the rows of :math:`G` are the logit gradients scaled by the reduction.
"""

from __future__ import annotations

import os
import tempfile
from numbers import Integral
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.autograd.function import once_differentiable

from celib._checks import as_float_tensor, check_class_indices, check_label_smoothing, check_reduction

#: The fewest rows :func:`default_chunk_size` gives a chunk (unless ``N`` is smaller).
MIN_CHUNK_ROWS = 16

_LOW_PRECISION = (torch.float16, torch.bfloat16)


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def _check_index(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    return int(value)


def _check_linear(
    input, weight, bias, target, weight_name: str = "weight"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Validate ``input (N, D)``, ``weight (V, D)``, ``bias (V,)`` and ``target (N,)``."""
    input = as_float_tensor(input, "input")
    weight = as_float_tensor(weight, weight_name)
    if input.dim() != 2 or input.shape[0] == 0:
        raise ValueError(
            f"input must have shape (N, D) with N >= 1 tokens; got shape {tuple(input.shape)} "
            "(flatten the leading dimensions with input.reshape(-1, D))"
        )
    if weight.dim() != 2 or weight.shape[1] != input.shape[1] or weight.shape[0] == 0:
        raise ValueError(
            f"{weight_name} must have shape (V, D) with V >= 1 and D = {input.shape[1]} (the width of "
            f"input); got shape {tuple(weight.shape)}"
        )
    if weight.dtype != input.dtype:
        raise TypeError(f"{weight_name} has dtype {weight.dtype}; it must match input's dtype {input.dtype}")
    if bias is not None:
        bias = as_float_tensor(bias, "bias")
        if bias.shape != weight.shape[:1]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},) = (V,); got shape {tuple(bias.shape)}")
        if bias.dtype != input.dtype:
            raise TypeError(f"bias has dtype {bias.dtype}; it must match input's dtype {input.dtype}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a tensor of class indices; got {type(target).__name__}")
    if target.dtype != torch.long:
        raise TypeError(f"target has dtype {target.dtype}; class-index targets must be torch.long")
    if target.shape != input.shape[:1]:
        raise ValueError(f"target must have shape ({input.shape[0]},) = (N,); got shape {tuple(target.shape)}")
    return input, weight, bias


def default_chunk_size(num_tokens: int, hidden: int, dtype: torch.dtype = torch.float32) -> int:
    r"""Rows per chunk when ``chunk_size=None``: the chunk's buffers take about 1/4 of the weight gradient.

    A chunk of ``c`` rows needs a ``c * V`` buffer in the computing dtype (float32 for bf16 and
    float16 inputs, else the input's dtype), plus, for bf16/float16 inputs, a ``c * V`` staging
    buffer in the input's dtype; the weight gradient takes ``V * D`` numbers of the input's dtype.
    The largest ``c`` for which the buffers take at most a quarter of the weight gradient,
    whatever ``V``, is ``D / 4`` rows for float32 and float64 and ``D / 12`` for bf16 and
    float16 (6 bytes of buffer per logit against 2 bytes per weight-gradient entry); it is
    rounded down to a multiple of :data:`MIN_CHUNK_ROWS` (matrix products are faster on
    aligned sizes) and kept between :data:`MIN_CHUNK_ROWS` and ``N``. The peak memory then stays
    within about 1.25 times the gradients themselves, unless ``D`` is so small that the chunk is
    held at 16 rows. Fewer rows save memory; more rows make the matrix products more efficient,
    at the price of memory.

    >>> default_chunk_size(8192, 4096), default_chunk_size(8192, 4096, torch.bfloat16), default_chunk_size(10, 64)
    (1024, 336, 10)
    """
    itemsize = torch.finfo(dtype).bits // 8
    acc = _accumulation_dtype(dtype)
    buffer_bytes = torch.finfo(acc).bits // 8 + (itemsize if acc != dtype else 0)
    rows = hidden * itemsize // (4 * buffer_bytes) // MIN_CHUNK_ROWS * MIN_CHUNK_ROWS
    return max(1, min(num_tokens, max(MIN_CHUNK_ROWS, rows)))


# ---------------------------------------------------------------------------------------------
# The chunked passes
# ---------------------------------------------------------------------------------------------


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for bf16/fp16 inputs (softmax and sums need its range and precision), else ``dtype``."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def _uses_vocab_pass(dtype: torch.dtype) -> bool:
    """Whether the weight gradient comes from :func:`_vocab_pass` (bf16, fp16), not a running sum."""
    return dtype in _LOW_PRECISION


class _Gradients(NamedTuple):
    input: torch.Tensor | None
    weight: torch.Tensor | None
    bias: torch.Tensor | None


class _Buffers(NamedTuple):
    """Flat work buffers reused by every chunk: ``work`` in the computing dtype and, for bf16/fp16
    inputs, ``staging`` in the input's dtype (matrix products read and write the input's dtype)."""

    work: torch.Tensor
    staging: torch.Tensor | None

    def logits(self, weight: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``weight @ x.T (+ bias)``, vocabulary-major ``(rows of weight, rows of x)``, in ``work``."""
        shape = (weight.shape[0], x.shape[0])
        z_t = self.work[: shape[0] * shape[1]].view(shape)
        if self.staging is None:
            torch.mm(weight, x.T, out=z_t)
        else:
            z_t.copy_(torch.mm(weight, x.T, out=self.staging[: z_t.numel()].view(shape)))
        return z_t if bias is None else z_t.add_(bias[:, None])

    def for_product(self, z_t: torch.Tensor) -> torch.Tensor:
        """``z_t`` in the input's dtype, ready for a matrix product with ``input`` or ``weight``."""
        return z_t if self.staging is None else self.staging[: z_t.numel()].view(z_t.shape).copy_(z_t)


def _loss_and_gradients(input, weight, bias, target, valid, label_smoothing, chunk_size, row_weight=None,
                        needs=(False,) * 3) -> tuple[torch.Tensor, _Gradients]:
    r"""Per-token losses and, if ``row_weight`` is given, the gradients of ``sum_i row_weight_i * loss_i``.

    float32 and float64 inputs take one pass over chunks of tokens (:func:`_token_pass`), which
    also accumulates the gradients of ``weight`` and ``bias`` chunk by chunk. For bf16 and
    float16 inputs, a running sum of ``weight``'s gradient over the chunks would have to be kept
    in float32, a ``(V, D)`` buffer twice the size of the gradient itself. Instead the token pass
    computes the losses, each token's log-sum-exp and the gradient of ``input``, and a second
    pass over blocks of vocabulary rows (:func:`_vocab_pass`) recomputes those rows' logits for
    all tokens and gets each block of the weight gradient from a single matrix product over the
    tokens, whose sum is accumulated in float32 by the product itself (on CUDA, cuBLAS may
    combine split-K partial sums in bf16/fp16 unless
    ``torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction`` or its fp16 twin is
    False, as in the naive computation's products): one more matrix product in all, no float32
    copy of the weight gradient. Ignored tokens (``valid`` False) get loss 0
    and must have ``row_weight`` 0.
    """
    num_tokens, vocab = input.shape[0], weight.shape[0]
    acc = _accumulation_dtype(input.dtype)
    rows = min(chunk_size, num_tokens)
    vocab_pass = _uses_vocab_pass(input.dtype) and row_weight is not None and (needs[1] or needs[2])
    block = max(1, rows * vocab // num_tokens)  # vocabulary rows per block of the second pass
    size = max(rows * vocab, block * num_tokens) if vocab_pass else rows * vocab
    buffers = _Buffers(input.new_empty(size, dtype=acc), input.new_empty(size) if acc != input.dtype else None)
    if not _uses_vocab_pass(input.dtype):
        losses, _, grads = _token_pass(input, weight, bias, target, valid, label_smoothing, rows, buffers,
                                       row_weight, needs)
        return losses, grads
    losses, lse, grads = _token_pass(input, weight, bias, target, valid, label_smoothing, rows, buffers,
                                     row_weight, (needs[0], False, False))
    if vocab_pass:
        grad_weight, grad_bias = _vocab_pass(input, weight, bias, target, valid, label_smoothing, block, buffers,
                                             row_weight, lse, needs[1:])
        grads = grads._replace(weight=grad_weight, bias=grad_bias)
    return losses, grads


def _token_pass(input, weight, bias, target, valid, label_smoothing, chunk_size, buffers, row_weight, needs):
    r"""Losses, log-sum-exps and (with ``row_weight``) the ``needs``-ed gradients, ``chunk_size`` tokens at a time.

    The work buffer holds a chunk's logits, then (in place) their exponentials, then the
    gradient of the logits, :math:`w_i(\mathrm{softmax}(z_i) - q_i)`, which is multiplied into
    ``grad_input[chunk]`` and accumulated into ``grad_weight`` and ``grad_bias`` (in the
    computing dtype) before the next chunk overwrites it.
    """
    num_tokens, vocab = input.shape[0], weight.shape[0]
    acc = buffers.work.dtype
    safe_target = torch.where(valid, target, 0)  # any class: ignored rows are masked below

    losses = input.new_empty(num_tokens, dtype=acc)
    lse = input.new_empty(num_tokens, dtype=acc)
    grad_input = torch.empty_like(input) if needs[0] else None
    grad_weight = weight.new_zeros(weight.shape) if needs[1] else None
    grad_bias = weight.new_zeros(vocab) if needs[2] else None

    for start in range(0, num_tokens, chunk_size):
        rows = slice(start, min(start + chunk_size, num_tokens))
        x, y = input[rows], safe_target[rows][:, None]  # (c, D), (c, 1)
        # The chunk's logits are kept vocabulary-major, (V, c): the three matrix products
        # (W x^T, G W, G^T x) run faster on CPU in this layout. z is the (c, V) view.
        z_t = buffers.logits(weight, x, bias)
        z = z_t.T

        target_logit = z.gather(1, y).squeeze(1)  # (c,)
        logit_sum = z.sum(1) if label_smoothing else None
        row_max = z.amax(1, keepdim=True)  # (c, 1)
        sum_exp = z.sub_(row_max).exp_().sum(1)  # z now holds exp(z - max)
        lse[rows] = row_max.squeeze(1) + sum_exp.log()
        loss = lse[rows] - (1 - label_smoothing) * target_logit
        if label_smoothing:
            loss -= label_smoothing / vocab * logit_sum
        losses[rows] = torch.where(valid[rows], loss, 0)
        if row_weight is None or not any(needs):
            continue

        # z <- w * (softmax - q), with q = (1 - eps) one_hot(y) + eps / V
        w = row_weight[rows].to(acc)
        z.mul_((w / sum_exp)[:, None])
        z.scatter_add_(1, y, (-(1 - label_smoothing) * w)[:, None])
        if label_smoothing:
            z.sub_((label_smoothing / vocab * w)[:, None])
        if needs[0]:
            torch.mm(buffers.for_product(z_t).T, weight, out=grad_input[rows])
        if needs[1]:
            grad_weight.addmm_(z_t, x)
        if needs[2]:
            grad_bias += z_t.sum(1)
    return losses, lse, _Gradients(grad_input, grad_weight, grad_bias)


def _vocab_pass(input, weight, bias, target, valid, label_smoothing, block, buffers, row_weight, lse, needs):
    r"""The gradients of ``weight`` and ``bias`` (as ``needs``), ``block`` vocabulary rows at a time.

    For the rows :math:`B` of a block, the logits of all tokens, :math:`z_{:B} = x W_B^\top`, and
    the log-sum-exps of the first pass give :math:`G_{:B} = w\,(\mathrm{softmax} - q)_{:B}`;
    then :math:`\partial L / \partial W_B = G_{:B}^\top x` is one matrix product over all the
    tokens (its sum accumulates in float32) and :math:`\partial L / \partial b_B` a float32 sum.
    """
    vocab = weight.shape[0]
    w = row_weight.to(buffers.work.dtype)
    grad_weight = torch.empty_like(weight) if needs[0] else None
    grad_bias = torch.empty_like(bias) if needs[1] else None
    for start in range(0, vocab, block):
        stop = min(start + block, vocab)
        g_t = buffers.logits(weight[start:stop], input, None if bias is None else bias[start:stop])  # (b, N)
        g_t.sub_(lse).exp_().mul_(w)  # w * softmax, for this block of the vocabulary
        here = valid & (target >= start) & (target < stop)  # tokens whose target is in this block
        row = (target - start).clamp(0, stop - start - 1)[None, :]
        g_t.scatter_add_(0, row, (-(1 - label_smoothing) * w * here)[None, :])  # minus (1 - eps) one_hot(y)
        if label_smoothing:
            g_t.sub_(label_smoothing / vocab * w)
        if needs[0]:
            torch.mm(buffers.for_product(g_t), input, out=grad_weight[start:stop])
        if needs[1]:
            grad_bias[start:stop] = g_t.sum(1)
    return grad_weight, grad_bias


def _reduce(losses: torch.Tensor, valid: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-token losses to the requested reduction; 'mean' over the tokens that are not ignored."""
    if reduction == "none":
        return losses
    return losses.sum() / valid.sum() if reduction == "mean" else losses.sum()


class _LinearCrossEntropy(torch.autograd.Function):
    """Forward computes the loss and (for 'mean'/'sum') the gradients; backward scales them."""

    @staticmethod
    def forward(ctx, input, weight, bias, target, ignore_index, reduction, label_smoothing, chunk_size):
        valid = target != ignore_index
        ctx.reduction = reduction
        if reduction == "none":
            # The upstream gradient differs per token: backward recomputes, chunk by chunk.
            losses, _ = _loss_and_gradients(input, weight, bias, target, valid, label_smoothing, chunk_size)
            ctx.save_for_backward(input, weight, bias, target)
            ctx.options = (valid, label_smoothing, chunk_size)
            return _reduce(losses, valid, reduction).to(input.dtype)
        # The weight of each token in the total; the normaliser of 'mean' is known before the
        # first chunk, so each chunk's gradient is final when it is accumulated.
        row_weight = valid.to(_accumulation_dtype(input.dtype))
        if reduction == "mean":
            row_weight /= valid.sum().clamp(min=1)
        needs = ctx.needs_input_grad[:3]
        losses, ctx.grads = _loss_and_gradients(
            input, weight, bias, target, valid, label_smoothing, chunk_size, row_weight, needs
        )
        return _reduce(losses, valid, reduction).to(input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        if ctx.reduction == "none":
            input, weight, bias, target = ctx.saved_tensors
            valid, label_smoothing, chunk_size = ctx.options
            row_weight = torch.where(valid, grad_output, 0)
            needs = ctx.needs_input_grad[:3]
            _, grads = _loss_and_gradients(
                input, weight, bias, target, valid, label_smoothing, chunk_size, row_weight, needs
            )
        else:
            grads = ctx.grads
            if grads is None:
                raise RuntimeError(
                    "linear_cross_entropy: backward already consumed the gradients computed in the "
                    "forward pass; retain_graph=True and a second backward are not supported"
                )
            ctx.grads = None  # drop our reference: autograd can then keep the buffers as .grad
            grads = [None if g is None else g.mul_(grad_output) for g in grads]
        return (*grads, None, None, None, None, None)


def linear_cross_entropy(
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    chunk_size: int | None = None,
) -> torch.Tensor:
    r"""``F.cross_entropy(F.linear(input, weight, bias), target, ...)`` without the ``(N, V)`` logits.

    With :math:`z = x W^\top + b`, the loss of token :math:`i` (in nats) is

    .. math::

        \ell_i = \log \sum_{j=1}^{V} e^{z_{ij}} - (1 - \varepsilon)\, z_{i y_i}
                 - \frac{\varepsilon}{V} \sum_{j=1}^{V} z_{ij},

    0 for tokens whose target is ``ignore_index``; ``'mean'`` divides the sum by the number of
    tokens that are not ignored (NaN if there are none, as in PyTorch).

    The forward pass goes over the tokens ``chunk_size`` rows at a time. For each chunk it
    computes the ``(chunk_size, V)`` logits in one reused buffer, their log-sum-exp and loss, and
    right away the gradient of the logits, :math:`G = \mathrm{softmax}(z) - q`, which it turns into
    ``grad_input[chunk] = G @ weight``, ``grad_weight += G.T @ input[chunk]`` and
    ``grad_bias += G.sum(0)`` (for bf16/fp16, see the notes). The backward pass only multiplies
    these by the upstream gradient, in place. So the memory above the inputs is the gradients
    themselves plus one chunk's buffers (a chunk of logits; for bf16/fp16 a float32 chunk and
    its bf16/fp16 copy); no ``(N, V)`` tensor exists at any time.

    Args:
        input: hidden states, shape ``(N, D)``, floating point.
        weight: output-layer weight, shape ``(V, D)``, same dtype as ``input``.
        target: class indices, shape ``(N,)``, ``torch.long``, in ``[0, V)`` or ``ignore_index``.
        bias: optional output-layer bias, shape ``(V,)``.
        ignore_index: target value whose tokens count neither in the loss nor in the mean.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (per-token losses, shape ``(N,)``).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        chunk_size: rows per chunk; ``None`` picks :func:`default_chunk_size`, for which one
            chunk's buffers take about 1/4 of the memory of the weight gradient (more if ``D``
            is so small that the chunk is held at 16 rows).

    Returns:
        A scalar loss, or the per-token losses (shape ``(N,)``) for ``reduction='none'``, in ``input``'s dtype.

    Notes:
        bf16/fp16 inputs compute the softmax and the sums in float32. Their weight gradient is
        not summed chunk by chunk (that would need a float32 running sum, twice the size of the
        bf16 gradient): a second pass over blocks of vocabulary rows recomputes the block's
        logits for all tokens and gets the block's weight gradient from one matrix product
        over the tokens, accumulated in float32 inside the product (on CUDA, see
        ``torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction``). That costs one
        more matrix product of the size of the logits (four instead of three) and keeps the
        memory at the gradients plus the chunk buffers. For ``'mean'`` and ``'sum'`` the gradients are computed
        even if backward is never called (only those of tensors that require grad), and a second
        backward through the same graph raises. ``'none'`` computes only the losses in the forward;
        its backward recomputes the logits chunk by chunk, weighting each token by its own
        upstream gradient (one more pass over the matrix products, no extra memory). Without
        grad mode, or if nothing requires grad, only the losses are computed.

    >>> _ = torch.manual_seed(0)
    >>> x, W = torch.randn(6, 4, requires_grad=True), torch.randn(10, 4, requires_grad=True)
    >>> y = torch.tensor([1, 0, 9, -100, 3, 3])
    >>> loss = linear_cross_entropy(x, W, y, chunk_size=4)
    >>> naive = torch.nn.functional.cross_entropy(x @ W.T, y)
    >>> bool(torch.isclose(loss, naive))
    True
    >>> loss.backward()
    >>> bool(torch.allclose(W.grad, torch.autograd.grad(naive, W)[0]))
    True
    """
    input, weight, bias = _check_linear(input, weight, bias, target)
    ignore_index = _check_index(ignore_index, "ignore_index")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    if chunk_size is None:
        chunk_size = default_chunk_size(*input.shape, input.dtype)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None; got {chunk_size!r}")
    check_class_indices(target, weight.shape[0], "target", ignore_index)

    wants_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (input, weight, bias)
    )
    if wants_grad:
        return _LinearCrossEntropy.apply(
            input, weight, bias, target, ignore_index, reduction, label_smoothing, int(chunk_size)
        )
    valid = target != ignore_index
    losses, _ = _loss_and_gradients(input, weight, bias, target, valid, label_smoothing, int(chunk_size))
    return _reduce(losses, valid, reduction).to(input.dtype)


# ---------------------------------------------------------------------------------------------
# Vocab-parallel cross entropy
# ---------------------------------------------------------------------------------------------


def _vocab_size_of_group(vocab_start: int, shard_size: int, device, group) -> int:
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


class _VocabParallelCrossEntropy(torch.autograd.Function):
    """Forward: three all-reduces per token give the exact loss; backward: one for grad_input."""

    @staticmethod
    def forward(ctx, input, weight_shard, target, vocab_start, vocab_size, group, ignore_index, reduction, eps):
        acc = _accumulation_dtype(input.dtype)
        shard_size = weight_shard.shape[0]
        z = (input @ weight_shard.T).to(acc)  # (N, V_r): this rank's slice of the logits

        valid = target != ignore_index
        local_target = target - vocab_start
        in_shard = valid & (local_target >= 0) & (local_target < shard_size)
        picked = z.gather(1, local_target.clamp(0, shard_size - 1)[:, None]).squeeze(1)
        target_logit = torch.where(in_shard, picked, 0)  # only the rank that holds y_i contributes

        row_max = z.amax(1)  # (N,)
        dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=group)
        sums = [target_logit, z.sum(1)] if eps else [target_logit]  # sum of logits: for smoothing
        exp = z.sub_(row_max[:, None]).exp_()  # in place: z is not needed any more
        packed = torch.stack([exp.sum(1), *sums], 1)  # (N, 2 or 3): one all-reduce for all sums
        dist.all_reduce(packed, op=dist.ReduceOp.SUM, group=group)
        sum_exp, target_logit = packed[:, 0], packed[:, 1]

        # Smoothing divides the all-reduced sum of logits by the GLOBAL V, not this shard's size.
        loss = row_max + sum_exp.log() - (1 - eps) * target_logit
        if eps:
            loss -= eps / vocab_size * packed[:, 2]
        losses = torch.where(valid, loss, 0)

        # Gradient of this rank's logits, w_i * (softmax - q), kept for backward: (N, V_r).
        row_weight = valid.to(acc)
        if reduction == "mean":
            row_weight /= valid.sum().clamp(min=1)
        grad_logits = exp.mul_((row_weight / sum_exp)[:, None])
        grad_logits.scatter_add_(
            1, local_target.clamp(0, shard_size - 1)[:, None], (-(1 - eps) * row_weight * in_shard)[:, None]
        )
        if eps:
            grad_logits.sub_((eps / vocab_size * row_weight)[:, None])
        ctx.save_for_backward(input, weight_shard)
        ctx.grad_logits, ctx.group, ctx.reduction = grad_logits, group, reduction
        return _reduce(losses, valid, reduction).to(input.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, weight_shard = ctx.saved_tensors
        scale = grad_output[:, None] if ctx.reduction == "none" else grad_output
        g = ctx.grad_logits * scale.to(ctx.grad_logits.dtype)  # (N, V_r)
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = g.to(input.dtype) @ weight_shard  # this rank's share of dL/dx
            dist.all_reduce(grad_input, op=dist.ReduceOp.SUM, group=ctx.group)
        if ctx.needs_input_grad[1]:
            grad_weight = (g.T @ input.to(g.dtype)).to(weight_shard.dtype)  # local: no communication
        return grad_input, grad_weight, *(None,) * 7


def vocab_parallel_cross_entropy(
    input: torch.Tensor,
    weight_shard: torch.Tensor,
    target: torch.Tensor,
    *,
    vocab_start: int,
    group=None,
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
    gets the loss of the full-vocabulary computation (:func:`linear_cross_entropy` on the
    concatenated weight), the full gradient of ``input`` and the gradient of its own shard.

    Args:
        input: hidden states, shape ``(N, D)``, identical on every rank.
        weight_shard: this rank's rows of the weight, shape ``(V_r, D)`` with ``V_r >= 1``.
        target: class indices in the *global* vocabulary, shape ``(N,)``, ``torch.long``.
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
    input, weight_shard, _ = _check_linear(input, weight_shard, None, target, "weight_shard")
    vocab_start = _check_index(vocab_start, "vocab_start")
    if vocab_start < 0:
        raise ValueError(f"vocab_start must be >= 0 (the first row of this shard in the vocabulary); got {vocab_start}")
    ignore_index = _check_index(ignore_index, "ignore_index")
    check_reduction(reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError(
            "vocab_parallel_cross_entropy needs a torch.distributed process group: call "
            "torch.distributed.init_process_group first (run_vocab_parallel does it on CPU)"
        )
    vocab_size = _vocab_size_of_group(vocab_start, weight_shard.shape[0], input.device, group)
    check_class_indices(target, vocab_size, "target", ignore_index)
    return _VocabParallelCrossEntropy.apply(
        input, weight_shard, target, vocab_start, vocab_size, group, ignore_index, reduction, label_smoothing
    )


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
    shard_sizes,
    *,
    grad_output: torch.Tensor | None = None,
    **options,
) -> list[RankResult]:
    """Run :func:`vocab_parallel_cross_entropy` on ``len(shard_sizes)`` CPU processes, one shard each.

    Splits ``weight``'s rows into consecutive shards of ``shard_sizes`` rows, starts one process
    per shard (``spawn``, ``gloo`` backend, rendezvous through a file in a temporary directory,
    so no network port is needed), and on each rank computes the loss and backpropagates
    ``grad_output`` (default: 1, or ones for ``reduction='none'``). Returns the ranks' results in
    rank order. ``options`` go to :func:`vocab_parallel_cross_entropy` (``ignore_index``,
    ``reduction``, ``label_smoothing``). Meant for tests and demonstrations; a real job starts its
    processes with ``torchrun`` and calls :func:`vocab_parallel_cross_entropy` directly.

    >>> _ = torch.manual_seed(0)
    >>> x, W, y = torch.randn(5, 3), torch.randn(11, 3), torch.tensor([0, 10, 4, 5, -100])
    >>> ranks = run_vocab_parallel(x, W, y, shard_sizes=[5, 4, 2], label_smoothing=0.1)
    >>> [r.vocab_start for r in ranks], [tuple(r.grad_weight_shard.shape) for r in ranks]
    ([0, 5, 9], [(5, 3), (4, 3), (2, 3)])
    >>> [f"{r.loss.item():.4f}" for r in ranks], f"{linear_cross_entropy(x, W, y, label_smoothing=0.1).item():.4f}"
    (['2.9649', '2.9649', '2.9649'], '2.9649')
    """
    input, weight, _ = _check_linear(input, weight, None, target)
    unknown = set(options) - {"ignore_index", "reduction", "label_smoothing"}
    if unknown:
        raise TypeError(f"run_vocab_parallel got unexpected option(s) {sorted(unknown)}; "
                        "expected ignore_index, reduction or label_smoothing")
    sizes = list(shard_sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in sizes):
        raise ValueError(f"shard_sizes must be a non-empty list of positive ints; got {shard_sizes!r}")
    if sum(sizes) != weight.shape[0]:
        raise ValueError(f"shard_sizes must add up to V = {weight.shape[0]} (weight's rows); got sum {sum(sizes)}")
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(
            _vocab_parallel_rank,
            args=(folder, sizes, input.detach(), weight.detach(), target, grad_output, options),
            nprocs=len(sizes),
        )
        return [RankResult(**torch.load(os.path.join(folder, f"rank{rank}.pt"))) for rank in range(len(sizes))]


def _vocab_parallel_rank(rank, folder, sizes, input, weight, target, grad_output, options) -> None:
    """One process of :func:`run_vocab_parallel`: join the group, compute, save the result."""
    torch.set_num_threads(1)  # the ranks share the machine's cores
    store = dist.FileStore(os.path.join(folder, "rendezvous"), len(sizes))
    dist.init_process_group("gloo", store=store, rank=rank, world_size=len(sizes))
    try:
        start = sum(sizes[:rank])
        x = input.clone().requires_grad_()
        shard = weight[start : start + sizes[rank]].clone().requires_grad_()
        loss = vocab_parallel_cross_entropy(x, shard, target, vocab_start=start, **options)
        loss.backward(torch.ones_like(loss) if grad_output is None else grad_output)
        result = RankResult(loss.detach(), x.grad, shard.grad, start)
        torch.save(result._asdict(), os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()
