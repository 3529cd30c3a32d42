r"""Cross entropy of a linear layer's output without the ``(N, V)`` logits tensor.

A language model's last layer maps ``N`` hidden states ``x`` (width ``D``) to logits over a
vocabulary of ``V`` tokens, :math:`z = x W^\top + b`, and the loss is the cross entropy of
:math:`\mathrm{softmax}(z)` against the next tokens. With ``V`` in the hundreds of thousands the
logits, and what eager autograd keeps of them for the backward pass, are the largest tensors of
the whole training step. :func:`linear_cross_entropy` never forms them: it walks over the tokens
in chunks and computes each chunk's gradients *inside the forward pass*, so that only the
gradients themselves (the same size as ``input`` and ``weight``) outlive a chunk.
(:mod:`celib.vocab_parallel` is the other way around the logits: shard the vocabulary.)

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

**z-loss and final-logit soft-capping.** Two options of large-model training change the
loss of each token. Soft-capping with a cap :math:`c` (Gemma 2) replaces the logits by
:math:`s = c \tanh(z / c)`, which lies in :math:`(-c, c)`, before everything else; the
z-loss with coefficient :math:`\lambda` (PaLM) adds :math:`\lambda\,L_i^2`, where
:math:`L_i = \operatorname{logsumexp}(s_i)` is the log of the softmax's normaliser, and so
pulls :math:`L_i` towards 0. With both,

.. math::

    \ell_i = L_i - (1 - \varepsilon)\, s_{i y_i} - \frac{\varepsilon}{V} \sum_{j=1}^{V} s_{ij}
             + \lambda L_i^2,
    \qquad
    \frac{\partial \ell_i}{\partial z_{ij}}
        = \bigl((1 + 2 \lambda L_i)\,\mathrm{softmax}(s_i)_j - q_{ij}\bigr)
          \bigl(1 - \tanh^2(z_{ij} / c)\bigr),

since :math:`\partial L_i / \partial s_i = \mathrm{softmax}(s_i)` and
:math:`\mathrm{d}\,(c \tanh(u / c)) / \mathrm{d}u = 1 - \tanh^2(u / c)` (without a cap,
:math:`s = z` and the last factor is 1). The chain rule needs :math:`\tanh(z / c)` after the
softmax has overwritten the logits, so a capped call keeps it in a second chunk-sized buffer
(one more number of the computing dtype per logit of a chunk; :func:`default_chunk_size`
takes it into account). Nothing else changes: still no ``(N, V)`` tensor and no extra matrix
product.

**bf16 and float16.** The softmax and the sums run in float32. A running sum of ``weight``'s
gradient over the chunks would then need a float32 ``(V, D)`` buffer, twice the size of the
gradient itself. Instead the pass over the tokens computes the losses, each token's
log-sum-exp and the gradient of ``input``, and a second pass over blocks of vocabulary rows
(``_vocab_pass``) recomputes those rows' logits for all tokens and gets each block of the
weight gradient from a single matrix product over the tokens, whose sum is accumulated in
float32 by the product itself. That is one more matrix product of the size of the logits (four
instead of three) and no float32 copy of the weight gradient. (On CUDA, cuBLAS may combine
split-K partial sums in bf16/fp16 unless
``torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction``, or its fp16 twin, is
False, as in the naive computation's products.)

**Float32 main gradients.** Mixed-precision training keeps a float32 copy of each weight's
gradient (Megatron-LM's ``main_grad``) and adds every micro-batch's gradient to it. With
``main_grad=`` the weight gradient of each chunk goes straight into that buffer:
:math:`G^\top x` is computed in the input's dtype a block of vocabulary rows at a time and added in
float32, so the running sum over the chunks is a float32 sum, the vocabulary pass is not needed,
and three matrix products suffice. ``weight.grad`` stays untouched.

**The compiled path.** Between the matrix products, a chunk's work is elementwise: the cap, the
log-sum-exp, the loss and the gradient of the logits. By default (``compiled=True``) it runs in
the kernels of ``celib._fused``, compiled by ``torch.compile`` (C++ on CPU, Triton on CUDA),
which read each chunk's logits in the input's dtype, keep the float32 arithmetic in registers
and write the gradient over the logits: no float32 chunk buffer, no ``tanh`` buffer (it is
recomputed), and two passes over the chunk instead of about ten. If compiling fails (no C++
compiler, say), celib warns once and runs the eager chunk code from then on, which computes the
same numbers one operation at a time; ``compiled=False`` chooses the eager code without trying.
Inside a ``TorchDispatchMode`` (:class:`celib.tracing.OpRecorder`, ``FlopCounterMode``) the eager
code runs, so that every operation is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, overload

import torch
from torch.autograd.function import once_differentiable

from celib import _fused
from celib._checks import (
    apply_reduction,
    check_bool,
    check_class_indices,
    check_int,
    check_linear_args,
    check_optional_int,
    check_optional_positive_real,
    check_real,
    check_reduction,
    describe,
    target_weights,
)

__all__ = [
    "MIN_CHUNK_ROWS",
    "LinearCrossEntropyOutput",
    "accumulation_dtype",
    "default_chunk_size",
    "linear_cross_entropy",
]

#: The fewest rows :func:`default_chunk_size` gives a chunk (unless ``N`` is smaller).
MIN_CHUNK_ROWS = 16

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of the softmax and the sums: float32 for bf16/fp16 inputs (they need its range and
    precision), else the input's ``dtype``.

    >>> accumulation_dtype(torch.bfloat16), accumulation_dtype(torch.float64)
    (torch.float32, torch.float64)
    """
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def default_chunk_size(
    num_tokens: int,
    hidden: int,
    dtype: torch.dtype = torch.float32,
    *,
    softcap: bool = False,
    compiled: bool = True,
    main_grad: bool = False,
) -> int:
    r"""Rows per chunk when ``chunk_size=None``: the chunk's buffers take about 1/4 of the weight gradient.

    The weight gradient takes ``V * D`` numbers of the input's dtype; a chunk of ``c`` rows needs
    ``c * V`` numbers of buffer. On the compiled path (``compiled=True``, the default of
    :func:`linear_cross_entropy`; see ``celib._fused``) that is one buffer in the input's
    dtype, overwritten in turn by the logits and their gradient, so ``c = D / 4`` for every
    dtype, with or without a cap. The eager chunk code (``compiled=False``) needs a ``c * V``
    buffer in the computing dtype (float32 for bf16 and float16 inputs, else the input's dtype),
    plus, for bf16/float16 inputs, a ``c * V`` staging buffer in the input's dtype, and with a
    cap (``softcap=True``) a second buffer of the computing dtype, which keeps
    :math:`\tanh(z / c)` for the chain rule: ``D / 4`` rows for float32 and float64 and
    ``D / 12`` for bf16 and float16 without a cap (6 bytes of buffer per logit against 2 bytes
    per weight-gradient entry). The rows are rounded down to a multiple of
    :data:`MIN_CHUNK_ROWS` (matrix products are faster on aligned sizes) and kept between
    :data:`MIN_CHUNK_ROWS` and ``N``. The peak memory then stays within about 1.25 times the
    gradients themselves, unless ``D`` is so small that the chunk is held at 16 rows. Fewer rows
    save memory; more rows make the matrix products more efficient, at the price of memory.
    With ``main_grad=True`` (a call with a ``main_grad``) the weight gradient is the float32
    ``main_grad``, 4 bytes per entry: twice the rows for bf16 and float16 (``D / 2`` compiled),
    each of which saves a pass over ``main_grad``.

    >>> default_chunk_size(8192, 4096), default_chunk_size(8192, 4096, torch.bfloat16), default_chunk_size(10, 64)
    (1024, 1024, 10)
    >>> default_chunk_size(8192, 4096, torch.bfloat16, compiled=False)
    336
    >>> default_chunk_size(8192, 4096, softcap=True, compiled=False)
    512
    >>> default_chunk_size(8192, 4096, torch.bfloat16, softcap=True, compiled=False)
    192
    >>> default_chunk_size(8192, 4096, torch.bfloat16, main_grad=True)
    2048
    """
    itemsize = torch.finfo(dtype).bits // 8
    acc = accumulation_dtype(dtype)
    acc_bytes = torch.finfo(acc).bits // 8
    gradient_bytes = acc_bytes if main_grad else itemsize
    if compiled:
        buffer_bytes = itemsize
    else:
        buffer_bytes = acc_bytes * (2 if softcap else 1) + (itemsize if acc != dtype else 0)
    rows = hidden * gradient_bytes // (4 * buffer_bytes) // MIN_CHUNK_ROWS * MIN_CHUNK_ROWS
    return max(1, min(num_tokens, max(MIN_CHUNK_ROWS, rows)))


# ---------------------------------------------------------------------------------------------
# What the passes share
# ---------------------------------------------------------------------------------------------


class _Tensors(NamedTuple):
    """The validated tensors of one call."""

    input: torch.Tensor  # (N, D) hidden states
    weight: torch.Tensor  # (V, D)
    bias: torch.Tensor | None  # (V,)
    target: torch.Tensor  # (N,) int64 class indices; ignored tokens hold class 0, a valid index
    valid: torch.Tensor  # (N,) bool: False where the target was ignore_index


@dataclass(frozen=True, eq=False)
class _Config:
    """The options of one call, validated; the passes read them from here.

    ``vocab_pass``: whether the gradient of ``weight`` comes from the second pass over
    vocabulary blocks (the bf16/fp16 default; see the module docstring) instead of a running sum
    over the chunks of tokens. Both are exact in float64. ``main_grad``: the float32 (for bf16,
    float16 and float32 weights) buffer the weight gradient is added to, instead of returned;
    it needs no second pass.
    """

    reduction: str
    label_smoothing: float
    chunk_size: int | None  # rows of tokens per chunk of the first pass; None: default_chunk_size
    vocab_pass: bool
    lse_square_scale: float = 0.0  # the z-loss coefficient lambda
    softcap: float | None = None  # the cap c of the logits, or None
    compiled: bool = True  # try the fused kernels of celib._fused first
    main_grad: torch.Tensor | None = None

    def rows(self, t: _Tensors, compiled: bool) -> int:
        """Rows per chunk on the compiled or the eager path."""
        if self.chunk_size is not None:
            return min(self.chunk_size, t.input.shape[0])
        num_tokens, hidden = t.input.shape
        return default_chunk_size(
            num_tokens,
            hidden,
            t.input.dtype,
            softcap=self.softcap is not None,
            compiled=compiled,
            main_grad=self.main_grad is not None,
        )

    def params(self, vocab: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The options as ``celib._fused``'s kernels take them: ``(eps, lam, cap or 0, V)``."""
        return torch.tensor(
            [self.label_smoothing, self.lse_square_scale, self.softcap or 0.0, vocab], dtype=dtype, device=device
        )


class _Needs(NamedTuple):
    """Which gradients to compute."""

    input: bool = False
    weight: bool = False
    bias: bool = False


_NO_GRADIENTS = _Needs()


class _Gradients(NamedTuple):
    input: torch.Tensor | None
    weight: torch.Tensor | None  # None when the weight gradient went to main_grad
    bias: torch.Tensor | None


class _Buffers(NamedTuple):
    r"""Flat buffers reused by every chunk: ``work`` for the logits and their gradient, in the
    computing dtype on the eager path and in the input's dtype on the compiled one; on the eager
    path, for bf16/fp16 inputs, ``staging`` in the input's dtype (matrix products read and write
    the input's dtype), and with a soft cap ``tanh`` in the computing dtype, which keeps
    :math:`\tanh(z / c)`. ``scratch`` holds blocks of the weight gradient in the input's dtype on
    their way to a ``main_grad`` of another dtype."""

    work: torch.Tensor
    staging: torch.Tensor | None = None
    tanh: torch.Tensor | None = None
    scratch: torch.Tensor | None = None

    def logits(self, weight: torch.Tensor, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``weight @ x.T (+ bias)``, vocabulary-major ``(rows of weight, rows of x)``, in ``work``."""
        shape = (weight.shape[0], x.shape[0])
        z_t = self.work[: shape[0] * shape[1]].view(shape)
        if self.staging is None:
            if bias is None:
                return torch.mm(weight, x.T, out=z_t)
            return torch.addmm(bias[:, None], weight, x.T, out=z_t)
        z_t.copy_(torch.mm(weight, x.T, out=self.staging[: z_t.numel()].view(shape)))
        return z_t if bias is None else z_t.add_(bias[:, None])

    def soft_cap(self, z_t: torch.Tensor, cap: float | None) -> torch.Tensor | None:
        """Replace the logits ``z_t`` by ``cap * tanh(z_t / cap)`` in place and return ``tanh(z_t / cap)``
        (a view of ``tanh``, same shape), which the chain rule needs; no-op and None without a cap."""
        if cap is None:
            return None
        assert self.tanh is not None  # allocated for every capped eager call
        t = torch.div(z_t, cap, out=self.tanh[: z_t.numel()].view(z_t.shape)).tanh_()
        torch.mul(t, cap, out=z_t)
        return t

    def for_product(self, z_t: torch.Tensor) -> torch.Tensor:
        """``z_t`` in the input's dtype, ready for a matrix product with ``input`` or ``weight``."""
        return z_t if self.staging is None else self.staging[: z_t.numel()].view(z_t.shape).copy_(z_t)

    def add_weight_gradient(
        self, grad_weight: torch.Tensor, g_t: torch.Tensor, x: torch.Tensor, *, first: bool, compiled: bool
    ) -> None:
        """``grad_weight += g_t @ x`` (``=`` if ``first``: no zeros to add to); through ``scratch``, block by
        block, if ``grad_weight`` has another dtype (then with ``celib._fused.accumulate`` if ``compiled``)."""
        if self.scratch is None:
            if first:
                torch.mm(g_t, x, out=grad_weight)  # (V, c) @ (c, D)
            else:
                grad_weight.addmm_(g_t, x)
            return
        block = self.scratch.numel() // x.shape[1]
        for start in range(0, g_t.shape[0], block):
            stop = min(start + block, g_t.shape[0])
            product = torch.mm(g_t[start:stop], x, out=self.scratch[: (stop - start) * x.shape[1]].view(-1, x.shape[1]))
            if compiled:
                _fused.run(_fused.accumulate, grad_weight[start:stop], product)
            else:
                grad_weight[start:stop] += product


# ---------------------------------------------------------------------------------------------
# The passes
# ---------------------------------------------------------------------------------------------


def _loss_and_gradients(
    t: _Tensors, config: _Config, token_weight: torch.Tensor | None = None, needs: _Needs = _NO_GRADIENTS
) -> tuple[torch.Tensor, torch.Tensor, _Gradients]:
    r"""Per-token losses (z-loss included), log-sum-exps :math:`L_i` and, if ``token_weight`` is
    given, the ``needs``-ed gradients of :math:`\sum_i a_i \ell_i` for the per-token weights
    :math:`a_i` = ``token_weight`` (0 for ignored tokens).

    With ``config.compiled`` the chunks' elementwise work runs in ``celib._fused``'s compiled
    kernels; if compiling fails, the whole call runs again on the eager path, after one warning
    (unless ``main_grad`` was already added to, which would count that part twice: then it raises).
    """
    if config.compiled and _fused.available():
        added: list[bool] = []  # becomes [True] once main_grad holds part of the weight gradient
        try:
            return _passes(t, config, token_weight, needs, compiled=True, added=added)
        except _fused.CompileFailed as error:
            _fused.disable(error)
            if added:
                raise RuntimeError(
                    "linear_cross_entropy: torch.compile failed after main_grad already received part of "
                    f"this call's weight gradient ({error}); main_grad is now wrong, so recompute the step "
                    "(later calls run eagerly)"
                ) from error
    return _passes(t, config, token_weight, needs, compiled=False, added=[])


def _passes(
    t: _Tensors,
    config: _Config,
    token_weight: torch.Tensor | None,
    needs: _Needs,
    *,
    compiled: bool,
    added: list[bool],
) -> tuple[torch.Tensor, torch.Tensor, _Gradients]:
    """The buffers of one call, the pass over the tokens and, for bf16/fp16 weight gradients
    without ``main_grad``, the pass over the vocabulary (:func:`_vocab_pass`), which needs the
    first pass's log-sum-exps."""
    num_tokens, vocab = t.input.shape[0], t.weight.shape[0]
    acc = accumulation_dtype(t.input.dtype)
    rows = config.rows(t, compiled)
    gradients = token_weight is not None
    vocab_pass = config.vocab_pass and gradients and needs.weight and config.main_grad is None
    block = max(1, rows * vocab // num_tokens)  # vocabulary rows per block of the second pass
    size = max(rows * vocab, block * num_tokens) if vocab_pass else rows * vocab
    to_main_grad = gradients and needs.weight and config.main_grad is not None
    scratch = None
    if to_main_grad and config.main_grad.dtype != t.input.dtype:  # type: ignore[union-attr]
        # blocks of vocabulary rows whose products take 1/16 of the chunk's buffer (small enough to stay in cache)
        scratch = t.input.new_empty(max(1, rows * vocab // (16 * t.input.shape[1])) * t.input.shape[1])
    if compiled:
        buffers = _Buffers(t.input.new_empty(size), scratch=scratch)
    else:
        staging = t.input.new_empty(size) if acc != t.input.dtype else None
        tanh = t.input.new_empty(size, dtype=acc) if config.softcap is not None else None
        buffers = _Buffers(t.input.new_empty(size, dtype=acc), staging, tanh, scratch)
    first_needs = needs._replace(weight=False) if vocab_pass else needs
    losses, lse, grads = _token_pass(t, config, rows, buffers, token_weight, first_needs, compiled, added)
    if vocab_pass:
        assert token_weight is not None  # vocab_pass implies it
        grads = grads._replace(weight=_vocab_pass(t, config, block, buffers, token_weight, lse, compiled))
    return losses, lse, grads


def _token_pass(
    t: _Tensors,
    config: _Config,
    chunk_size: int,
    buffers: _Buffers,
    token_weight: torch.Tensor | None,
    needs: _Needs,
    compiled: bool,
    added: list[bool],
) -> tuple[torch.Tensor, torch.Tensor, _Gradients]:
    r"""Losses, log-sum-exps and (with ``token_weight``) the ``needs``-ed gradients, ``chunk_size`` tokens at a time.

    The work buffer holds a chunk's logits, then the gradient of the logits,
    :math:`a_i((1 + 2\lambda L_i)\,\mathrm{softmax}(s_i) - q_i)` times
    :math:`1 - \tanh^2(z_i / c)` with a cap (by ``celib._fused.chunk_gradient``, or by
    :func:`_eager_chunk`), which is multiplied into ``grad_input[chunk]`` and accumulated into
    ``grad_weight`` (or ``main_grad``) and ``grad_bias`` (in the computing dtype) before the next
    chunk overwrites it.
    """
    input, weight, bias, target, valid = t
    num_tokens, vocab = input.shape[0], weight.shape[0]
    acc = accumulation_dtype(input.dtype)
    params = config.params(vocab, acc, input.device)
    capped = config.softcap is not None
    gradients = token_weight is not None and any(needs)

    losses = input.new_empty(num_tokens, dtype=acc)
    lse = input.new_empty(num_tokens, dtype=acc)
    grad_input = torch.empty_like(input) if needs.input else None
    grad_weight = None  # filled by the first chunk's product; main_grad is added to
    if needs.weight:
        grad_weight = config.main_grad if config.main_grad is not None else torch.empty_like(weight)
    grad_bias = weight.new_zeros(vocab, dtype=acc) if needs.bias else None

    for start in range(0, num_tokens, chunk_size):
        rows = slice(start, min(start + chunk_size, num_tokens))
        x, y = input[rows], target[rows]  # (c, D), (c,)
        # The chunk's logits are kept vocabulary-major, (V, c): the three matrix products
        # (W x^T, G W, G^T x) run faster on CPU in this layout.
        z_t = buffers.logits(weight, x, bias)
        a = token_weight[rows].to(acc) if token_weight is not None else None
        if not gradients:
            if compiled:
                losses[rows], lse[rows] = _fused.run(_fused.chunk_losses, z_t, y, valid[rows], params, capped)
            else:
                losses[rows], lse[rows], _ = _eager_chunk(z_t, y, valid[rows], None, config, buffers, False)
            continue
        if compiled:
            kernel = _fused.chunk_gradient
            losses[rows], lse[rows], bias_part = _fused.run(kernel, z_t, y, valid[rows], a, params, capped, needs.bias)
        else:
            losses[rows], lse[rows], bias_part = _eager_chunk(z_t, y, valid[rows], a, config, buffers, needs.bias)
        g_t = buffers.for_product(z_t)  # (V, c) in the input's dtype
        if grad_input is not None:
            torch.mm(g_t.T, weight, out=grad_input[rows])  # (c, V) @ (V, D)
        if grad_weight is not None:
            first = start == 0 and config.main_grad is None
            buffers.add_weight_gradient(grad_weight, g_t, x, first=first, compiled=compiled)
            added.append(True)
        if grad_bias is not None:
            grad_bias += bias_part  # computed whenever needs.bias
    grad_bias = None if grad_bias is None else grad_bias.to(weight.dtype)
    return losses, lse, _Gradients(grad_input, None if config.main_grad is not None else grad_weight, grad_bias)


def _eager_chunk(
    z_t: torch.Tensor,
    y: torch.Tensor,
    valid: torch.Tensor,
    a: torch.Tensor | None,
    config: _Config,
    buffers: _Buffers,
    with_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """What ``celib._fused.chunk_gradient`` (or, with ``a=None``, ``chunk_losses``) computes,
    in place in the computing dtype's ``work`` buffer, one eager operation at a time: the losses,
    the log-sum-exps and, with the token weights ``a``, the gradient (if ``with_bias``, also its row sums)."""
    eps, lam, vocab = config.label_smoothing, config.lse_square_scale, z_t.shape[0]
    tanh_t = buffers.soft_cap(z_t, config.softcap)  # z_t now holds s = c tanh(z / c)
    z = z_t.T  # (c, V)
    target_logit = z.gather(1, y[:, None]).squeeze(1)  # (c,)
    logit_sum = z.sum(1) if eps else None
    row_max = z.amax(1, keepdim=True)  # (c, 1)
    sum_exp = z.sub_(row_max).exp_().sum(1)  # z now holds exp(z - max)
    lse = row_max.squeeze(1) + sum_exp.log()
    loss = lse - (1 - eps) * target_logit
    if logit_sum is not None:
        loss -= eps / vocab * logit_sum
    if lam:
        loss += lam * lse.square()
    losses = torch.where(valid, loss, 0)
    if a is None:
        return losses, lse, None
    # z <- a * ((1 + 2 lam L) softmax - q), with q = (1 - eps) one_hot(y) + eps / V
    scale = a / sum_exp if not lam else a * (1 + 2 * lam * lse) / sum_exp
    z.mul_(scale[:, None])
    z.scatter_add_(1, y[:, None], (-(1 - eps) * a)[:, None])
    if eps:
        z.sub_((eps / vocab * a)[:, None])
    if tanh_t is not None:  # the chain rule through s = c tanh(z / c)
        z_t.mul_(tanh_t.square_().neg_().add_(1))
    return losses, lse, z_t.sum(1) if with_bias else None


def _vocab_pass(
    t: _Tensors,
    config: _Config,
    block: int,
    buffers: _Buffers,
    token_weight: torch.Tensor,
    lse: torch.Tensor,
    compiled: bool,
) -> torch.Tensor:
    r"""The gradient of ``weight``, ``block`` vocabulary rows at a time.

    For the rows :math:`B` of a block, the logits of all tokens, :math:`z_{:B} = x W_B^\top + b_B`,
    and the log-sum-exps of the first pass give :math:`G_{:B} = a\,(\mathrm{softmax} - q)_{:B}`
    (with the z-loss's factor :math:`1 + 2\lambda L` on the softmax, and the cap's
    :math:`1 - \tanh^2(z / c)` on the whole, as in :func:`_token_pass`); then
    :math:`\partial L / \partial W_B = G_{:B}^\top x` is one matrix product over all the tokens
    (its sum accumulates in float32).
    """
    input, weight, bias, target, valid = t
    eps, lam = config.label_smoothing, config.lse_square_scale
    vocab = weight.shape[0]
    acc = accumulation_dtype(input.dtype)
    a = token_weight.to(acc)  # (N,)
    params = config.params(vocab, acc, input.device)
    softmax_scale = a * (1 + 2 * lam * lse) if lam else a  # (N,)
    grad_weight = torch.empty_like(weight)
    for start in range(0, vocab, block):
        stop = min(start + block, vocab)
        g_t = buffers.logits(weight[start:stop], input, None if bias is None else bias[start:stop])  # (b, N)
        if compiled:
            _fused.run(_fused.vocab_block, g_t, start, target, a, lse, params, config.softcap is not None, False)
        else:
            tanh_t = buffers.soft_cap(g_t, config.softcap)  # g_t now holds s = c tanh(z / c)
            g_t.sub_(lse).exp_().mul_(softmax_scale)  # a (1 + 2 lam L) softmax, for this block of the vocabulary
            here = valid & (target >= start) & (target < stop)  # (N,): tokens whose target is in this block
            row = (target - start).clamp(0, stop - start - 1)[None, :]  # (1, N): the target's row in the block
            g_t.scatter_add_(0, row, (-(1 - eps) * a * here)[None, :])  # minus (1 - eps) one_hot(y)
            if eps:
                g_t.sub_(eps / vocab * a)
            if tanh_t is not None:  # the chain rule through s = c tanh(z / c)
                g_t.mul_(tanh_t.square_().neg_().add_(1))
        torch.mm(buffers.for_product(g_t), input, out=grad_weight[start:stop])  # (b, N) @ (N, D)
    return grad_weight


def _reduced_z_loss(lse: torch.Tensor, valid: torch.Tensor, config: _Config) -> torch.Tensor:
    r"""The z-loss term :math:`\lambda L_i^2` (0 for ignored tokens), reduced like the loss."""
    z_losses = torch.where(valid, config.lse_square_scale * lse.square(), 0)
    return apply_reduction(z_losses, config.reduction, valid.sum())


class _LinearCrossEntropy(torch.autograd.Function):
    """Forward computes the loss and (for 'mean'/'sum') the gradients; backward scales them.

    The second output is the z-loss term alone, for logging: it is marked non-differentiable
    (its gradient is already part of the loss's). With ``main_grad``, the weight's gradient is
    added to it (in the forward pass for 'mean'/'sum', in the backward pass for 'none') and
    backward returns None for the weight.
    """

    @staticmethod
    def forward(
        ctx: Any,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        target: torch.Tensor,
        valid: torch.Tensor,
        config: _Config,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        t = _Tensors(input, weight, bias, target, valid)
        ctx.config = config
        ctx.set_materialize_grads(False)  # no zeros for the z-loss output, which has no gradient
        if config.reduction == "none":
            # The upstream gradient differs per token: backward recomputes, chunk by chunk.
            losses, lse, _ = _loss_and_gradients(t, config)
            ctx.save_for_backward(input, weight, bias, target, valid)
            loss = losses.to(input.dtype)
        else:
            # The weight of each token in the total; the normaliser of 'mean' is known before the
            # first chunk, so each chunk's gradient is final when it is accumulated.
            token_weight = valid.to(accumulation_dtype(input.dtype))
            if config.reduction == "mean":
                token_weight /= valid.sum().clamp(min=1)
            needs = _Needs(*ctx.needs_input_grad[:3])
            losses, lse, ctx.grads = _loss_and_gradients(t, config, token_weight, needs)
            loss = apply_reduction(losses, config.reduction, valid.sum()).to(input.dtype)
        z_loss = _reduced_z_loss(lse, valid, config).to(input.dtype)
        ctx.mark_non_differentiable(z_loss)
        return loss, z_loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor | None, _: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        if grad_output is None:  # cannot happen through the z-loss output (non-differentiable)
            return (None,) * 6
        if ctx.config.reduction == "none":
            t = _Tensors(*ctx.saved_tensors)
            token_weight = torch.where(t.valid, grad_output, 0)
            _, _, grads = _loss_and_gradients(t, ctx.config, token_weight, _Needs(*ctx.needs_input_grad[:3]))
        else:
            if ctx.grads is None:
                raise RuntimeError(
                    "linear_cross_entropy: backward already consumed the gradients computed in the "
                    "forward pass; retain_graph=True and a second backward are not supported"
                )
            if ctx.config.main_grad is not None and ctx.needs_input_grad[1] and bool(grad_output != 1):
                raise ValueError(
                    "linear_cross_entropy with main_grad: main_grad already holds the weight gradient of "
                    f"the loss itself, so the upstream gradient must be 1; got {grad_output.item():g} "
                    "(backpropagate the returned loss unscaled, and scale main_grad instead)"
                )
            grads = _Gradients(*(None if g is None else g.mul_(grad_output) for g in ctx.grads))
            ctx.grads = None  # drop our reference: autograd can then keep the buffers as .grad
        return (*grads, None, None, None)


def _check_main_grad(main_grad: Any, weight: torch.Tensor) -> torch.Tensor | None:
    """``main_grad``: None, or a tensor of ``weight``'s shape and device in :func:`accumulation_dtype`
    of the weight's dtype (float32 for bf16, float16 and float32 weights), outside autograd."""
    if main_grad is None:
        return None
    if not isinstance(main_grad, torch.Tensor):
        raise TypeError(f"main_grad must be a tensor or None; got {describe(main_grad)}")
    expected = accumulation_dtype(weight.dtype)
    if main_grad.dtype != expected:
        raise TypeError(f"main_grad has dtype {main_grad.dtype}; expected {expected} for {weight.dtype} weights")
    if main_grad.shape != weight.shape or main_grad.device != weight.device:
        raise ValueError(
            f"main_grad has shape {tuple(main_grad.shape)} on {main_grad.device}; expected weight's shape "
            f"{tuple(weight.shape)} on {weight.device}"
        )
    if main_grad.requires_grad:
        raise ValueError("main_grad requires grad; expected a plain buffer (torch.zeros_like(weight, dtype=...))")
    return main_grad


# ---------------------------------------------------------------------------------------------
# The public function
# ---------------------------------------------------------------------------------------------


class LinearCrossEntropyOutput(NamedTuple):
    """What :func:`linear_cross_entropy` returns with ``return_z_loss=True``: ``loss``, the loss with
    the z-loss included (what to backpropagate), and ``z_loss``, the z-loss term alone, reduced
    like the loss, without a gradient (for logging)."""

    loss: torch.Tensor
    z_loss: torch.Tensor


def _prepare(
    input: Any,
    weight: Any,
    target: Any,
    bias: Any,
    ignore_index: Any,
    reduction: Any,
    label_smoothing: Any,
    chunk_size: Any,
    lse_square_scale: Any = 0.0,
    softcap: Any = None,
    compiled: Any = True,
    main_grad: Any = None,
) -> tuple[_Tensors, _Config]:
    """Validate the arguments of :func:`linear_cross_entropy`; return its tensors and its options."""
    input, weight, bias, target = check_linear_args(input, weight, bias, target)
    ignore_index = check_int(ignore_index, "ignore_index")
    check_reduction(reduction)
    smoothing = check_real(label_smoothing, "label_smoothing", minimum=0, maximum=1)
    lam = check_real(lse_square_scale, "lse_square_scale", minimum=0)
    cap = check_optional_positive_real(softcap, "softcap")
    rows = check_optional_int(chunk_size, "chunk_size", minimum=1)
    compiled = check_bool(compiled, "compiled")
    main_grad = _check_main_grad(main_grad, weight)
    check_class_indices(target, weight.shape[0], "target", ignore_index)
    valid, safe_target, _ = target_weights(target, None, ignore_index, input.dtype)
    config = _Config(reduction, smoothing, rows, input.dtype in _LOW_PRECISION, lam, cap, compiled, main_grad)
    return _Tensors(input, weight, bias, safe_target, valid), config


def _apply(t: _Tensors, config: _Config) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss and the z-loss term of validated tensors: through the autograd Function if a gradient is wanted."""
    if torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in t[:3]):
        loss, z_loss = _LinearCrossEntropy.apply(*t, config)
        return loss, z_loss
    losses, lse, _ = _loss_and_gradients(t, config)
    loss = apply_reduction(losses, config.reduction, t.valid.sum()).to(t.input.dtype)
    return loss, _reduced_z_loss(lse, t.valid, config).to(t.input.dtype)


@overload
def linear_cross_entropy(
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = ...,
    ignore_index: int = ...,
    reduction: str = ...,
    label_smoothing: float = ...,
    lse_square_scale: float = ...,
    softcap: float | None = ...,
    return_z_loss: Literal[False] = ...,
    chunk_size: int | None = ...,
    compiled: bool = ...,
    main_grad: torch.Tensor | None = ...,
) -> torch.Tensor: ...


@overload
def linear_cross_entropy(
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = ...,
    ignore_index: int = ...,
    reduction: str = ...,
    label_smoothing: float = ...,
    lse_square_scale: float = ...,
    softcap: float | None = ...,
    return_z_loss: Literal[True],
    chunk_size: int | None = ...,
    compiled: bool = ...,
    main_grad: torch.Tensor | None = ...,
) -> LinearCrossEntropyOutput: ...


def linear_cross_entropy(
    input: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    lse_square_scale: float = 0.0,
    softcap: float | None = None,
    return_z_loss: bool = False,
    chunk_size: int | None = None,
    compiled: bool = True,
    main_grad: torch.Tensor | None = None,
) -> torch.Tensor | LinearCrossEntropyOutput:
    r"""``F.cross_entropy(F.linear(input, weight, bias), target, ...)`` without the ``(N, V)`` logits.

    With :math:`z = x W^\top + b`, capped logits :math:`s = c \tanh(z / c)` (:math:`s = z`
    without ``softcap``) and :math:`L_i = \log \sum_{j=1}^{V} e^{s_{ij}}`, the loss of token
    :math:`i` (in nats) is

    .. math::

        \ell_i = L_i - (1 - \varepsilon)\, s_{i y_i}
                 - \frac{\varepsilon}{V} \sum_{j=1}^{V} s_{ij} + \lambda L_i^2,

    0 for tokens whose target is ``ignore_index``; ``'mean'`` divides the sum by the number of
    tokens that are not ignored (NaN if there are none, as in PyTorch). With the defaults
    (:math:`\lambda = 0`, no cap) it is PyTorch's cross entropy of the logits.

    The forward pass goes over the tokens ``chunk_size`` rows at a time. For each chunk it
    computes the ``(chunk_size, V)`` logits in one reused buffer, their log-sum-exp and loss, and
    right away the gradient of the logits, :math:`G = \mathrm{softmax}(z) - q` (for the z-loss
    and the cap, see the module docstring), which it turns into
    ``grad_input[chunk] = G @ weight``, ``grad_weight += G.T @ input[chunk]`` and
    ``grad_bias += G.sum(0)`` (bf16 and float16 take a second pass for the last two: see the
    module docstring). The backward pass only multiplies these by the upstream gradient, in
    place. So the memory above the inputs is the gradients themselves plus one chunk's buffers;
    no ``(N, V)`` tensor exists at any time. As in ``torch.nn.functional.linear_cross_entropy``,
    ``bias`` and the options are keyword-only.

    Args:
        input: hidden states, shape ``(N, D)``, floating point.
        weight: output-layer weight, shape ``(V, D)``, same dtype as ``input``.
        target: class indices (``torch.long`` or ``torch.uint8``), shape ``(N,)``, in ``[0, V)``
            or ``ignore_index``.
        bias: optional output-layer bias, shape ``(V,)``.
        ignore_index: target value whose tokens count neither in the loss nor in the mean.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (per-token losses, shape ``(N,)``).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        lse_square_scale: the z-loss coefficient :math:`\lambda \ge 0` (PaLM's auxiliary loss,
            Chowdhery et al. 2022, uses :math:`10^{-4}`); 0 turns it off. The name is
            Liger-Kernel's (``lse_square_scale`` of ``liger_fused_linear_cross_entropy`` in
            ``src/liger_kernel/transformers/functional.py``): it says what is scaled, the square
            of the log-sum-exp; "z-loss" names the term, which ``return_z_loss`` returns.
        softcap: the cap :math:`c > 0` of final-logit soft-capping (Gemma 2: ``Gemma2ForCausalLM.forward``
            in Hugging Face's ``src/transformers/models/gemma2/modeling_gemma2.py`` applies
            ``final_logit_softcapping`` as ``c * tanh(z / c)`` to the output layer's logits
            before the loss; its config's default is 30.0), or None for no cap. The name is
            Liger-Kernel's and Cut Cross-Entropy's (``linear_cross_entropy`` in
            ``cut_cross_entropy/linear_cross_entropy.py``), which take the cap as a loss argument.
        return_z_loss: also return the z-loss term alone, as Liger-Kernel's ``return_z_loss``.
        chunk_size: rows per chunk; ``None`` picks :func:`default_chunk_size`, for which one
            chunk's buffers take about 1/4 of the memory of the weight gradient (more if ``D``
            is so small that the chunk is held at 16 rows).
        compiled: run the chunks' elementwise work in ``celib._fused``'s compiled kernels
            (the default; falls back to the eager code, with one warning, where ``torch.compile``
            fails), or ``False`` for the eager code. Both compute the same loss and gradients
            (exactly so in float64, to rounding otherwise).
        main_grad: a buffer of ``weight``'s shape and device, float32 for bf16, float16 and
            float32 weights (float64 for float64), to which the weight's gradient is added
            instead of being returned as ``weight.grad`` (see the module docstring). For
            ``'mean'`` and ``'sum'`` it is added during the forward pass, with the other
            gradients, so the loss must then be backpropagated unscaled (``loss.backward()``;
            another upstream gradient raises, because ``main_grad`` already holds the gradient
            for 1); ``'none'`` adds it in the backward pass, weighted by the upstream gradient.
            Nothing is added unless the weight requires grad in grad mode.

    Returns:
        A scalar loss, or the per-token losses (shape ``(N,)``) for ``reduction='none'``, in
        ``input``'s dtype, z-loss included. With ``return_z_loss=True``, a
        :class:`LinearCrossEntropyOutput` ``(loss, z_loss)``: ``z_loss`` is the term
        :math:`\lambda L_i^2` alone, reduced like the loss, and has no gradient (it is for
        logging; its gradient is already in ``loss``'s, so a backward through it raises rather
        than silently giving zero, as Liger-Kernel's ``LigerCrossEntropyFunction.backward``
        in ``src/liger_kernel/ops/cross_entropy.py`` does by discarding that output's gradient).

    Notes:
        For ``'mean'`` and ``'sum'`` the gradients are computed even if backward is never
        called (only those of tensors that require grad), and a second backward through the
        same graph raises. ``'none'`` computes only the losses in the forward; its backward
        recomputes the logits chunk by chunk, weighting each token by its own upstream gradient
        (one more pass over the matrix products, no extra memory). Without grad mode, or if
        nothing requires grad, only the losses are computed.

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

    With a cap and a z-loss, against the same computation on the whole logits:

    >>> loss, z_loss = linear_cross_entropy(x, W, y, softcap=2.0, lse_square_scale=1e-2, return_z_loss=True)
    >>> s = 2.0 * torch.tanh(x @ W.T / 2.0)
    >>> lse = torch.logsumexp(s[y != -100], 1)
    >>> naive_z = 1e-2 * lse.square().mean()
    >>> naive = torch.nn.functional.cross_entropy(s, y) + naive_z
    >>> bool(torch.isclose(z_loss, naive_z)), bool(torch.isclose(loss, naive))
    (True, True)
    >>> z_loss.requires_grad
    False
    """
    return_z_loss = check_bool(return_z_loss, "return_z_loss")
    loss, z_loss = _apply(
        *_prepare(
            input,
            weight,
            target,
            bias,
            ignore_index,
            reduction,
            label_smoothing,
            chunk_size,
            lse_square_scale,
            softcap,
            compiled,
            main_grad,
        )
    )
    return LinearCrossEntropyOutput(loss, z_loss) if return_z_loss else loss
