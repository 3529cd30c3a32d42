r"""The elementwise work of :mod:`celib.linear_cross_entropy`'s chunks, fused by ``torch.compile``.

Between its matrix products, a chunk of :func:`~celib.linear_cross_entropy.linear_cross_entropy`
does only elementwise work and reductions over its ``(V, c)`` logits: the soft cap, the
log-sum-exp, the loss, and the gradient of the logits. Run eagerly, each of these steps is a
pass over the chunk in memory, and for bf16/float16 inputs they need a float32 copy of the
chunk. Compiled (Inductor generates C++ on CPU and Triton on CUDA), the steps become one loop
that reads the logits, reduces them, and one loop that writes the gradient over them, in the
input's dtype, with float32 arithmetic in registers only.

The three chunk kernels are plain tensor code over a chunk's logits ``z_t`` (vocabulary-major,
``(V, c)``, or a block of ``b`` vocabulary rows for all ``N`` tokens in the second pass). They
take the options as one tensor ``params = (eps, lam, cap, V)`` in the computing dtype, so that a
new smoothing, z-loss coefficient or cap does not recompile; ``capped`` (whether there is a cap)
and ``with_bias`` (whether to return the gradient of the bias) select the code. :func:`run`
compiles each kernel once (``dynamic=True``: one compiled kernel for every chunk size, with
recompiles for a new dtype and for the sizes 0 and 1, which Inductor specialises) and turns any
failure into :class:`CompileFailed`, after which :func:`available` is False for the rest of the
process and the caller falls back to its eager chunk code. A fourth kernel, :func:`accumulate`,
adds a block of a bf16/float16 weight gradient to a float32 ``main_grad`` in one pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

__all__ = [
    "CompileFailed",
    "accumulate",
    "available",
    "chunk_gradient",
    "chunk_losses",
    "disable",
    "run",
    "vocab_block",
]

# dynamo's default (8 per function) is too few for the dtypes and flags one process may use.
RECOMPILE_LIMIT = 64


class CompileFailed(RuntimeError):
    """``torch.compile`` of a kernel, or the compiled kernel, raised; the caller runs eagerly."""


def _logit_source(z_t: torch.Tensor, params: torch.Tensor, capped: bool) -> Callable[[], torch.Tensor]:
    r"""A function that returns the logits in the computing dtype, capped (:math:`s = c \tanh(z / c)`).

    Without a cap it returns one converted tensor. With a cap it recomputes :math:`s` at every call:
    Inductor stores a ``tanh`` that has several users as a buffer of its own (a float32 ``(V, c)``
    chunk), while a ``tanh`` with one user is computed inside the loop that reads it. The kernels
    call it once per use of :math:`s`.
    """
    if not capped:
        z = z_t.to(params.dtype)
        return lambda: z
    return lambda: params[2] * torch.tanh(z_t.to(params.dtype) / params[2])


def _losses(
    s: Callable[[], torch.Tensor], target: torch.Tensor, valid: torch.Tensor, params: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Per-token losses :math:`L_i - (1 - \varepsilon) s_{i y_i} - \frac{\varepsilon}{V} \sum_j s_{ij}
    + \lambda L_i^2` (0 where not ``valid``) and log-sum-exps :math:`L_i`, of the ``(V, c)`` logits ``s()``."""
    eps, lam, vocab = params[0], params[1], params[3]
    row_max = s().amax(0)  # (c,)
    lse = row_max + (s() - row_max).exp().sum(0).log()
    target_logit = s().gather(0, target[None, :]).squeeze(0)
    loss = lse - (1 - eps) * target_logit - eps / vocab * s().sum(0) + lam * lse.square()
    return torch.where(valid, loss, 0), lse


def _gradient(
    s: Callable[[], torch.Tensor],
    capped: bool,
    lse: torch.Tensor,
    is_target: torch.Tensor,
    token_weight: torch.Tensor,
    params: torch.Tensor,
) -> torch.Tensor:
    r""":math:`a_i((1 + 2\lambda L_i)\,\mathrm{softmax}(s_i) - q_i)`, times :math:`1 - (s_i / c)^2
    = 1 - \tanh^2(z_i / c)` with a cap."""
    eps, lam, vocab = params[0], params[1], params[3]
    softmax = (s() - lse).exp()
    g = token_weight * ((1 + 2 * lam * lse) * softmax - (1 - eps) * is_target - eps / vocab)
    return g * (1 - (s() / params[2]).square()) if capped else g


def chunk_losses(
    z_t: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, params: torch.Tensor, capped: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The losses and log-sum-exps of one chunk's ``(V, c)`` logits, which are left unchanged."""
    return _losses(_logit_source(z_t, params, capped), target, valid, params)


def chunk_gradient(
    z_t: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    token_weight: torch.Tensor,
    params: torch.Tensor,
    capped: bool,
    with_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Losses and log-sum-exps of one chunk; overwrites ``z_t`` with the gradient of the logits.

    Returns the gradient's sum over the chunk's tokens (the bias's share, ``(V,)``) if ``with_bias``.
    """
    s = _logit_source(z_t, params, capped)
    losses, lse = _losses(s, target, valid, params)
    is_target = torch.arange(z_t.shape[0], device=z_t.device)[:, None] == target[None, :]
    g = _gradient(s, capped, lse, is_target, token_weight, params)
    z_t.copy_(g)
    return losses, lse, g.sum(1) if with_bias else None


def vocab_block(
    g_t: torch.Tensor,
    start: int,
    target: torch.Tensor,
    token_weight: torch.Tensor,
    lse: torch.Tensor,
    params: torch.Tensor,
    capped: bool,
    with_bias: bool,
) -> torch.Tensor | None:
    """Overwrites the logits ``g_t`` of vocabulary rows ``start, start + 1, ...`` (all ``N`` tokens)
    with their gradient, given every token's log-sum-exp ``lse``; returns its row sums if ``with_bias``."""
    is_target = (torch.arange(g_t.shape[0], device=g_t.device) + start)[:, None] == target[None, :]
    g = _gradient(_logit_source(g_t, params, capped), capped, lse, is_target, token_weight, params)
    g_t.copy_(g)
    return g.sum(1) if with_bias else None


def accumulate(total: torch.Tensor, part: torch.Tensor) -> None:
    """``total += part`` for a ``part`` of a lower precision, converted on the fly (eagerly, PyTorch
    would first write a converted copy of ``part``)."""
    total.add_(part.to(total.dtype))


_compiled: dict[str, Callable[..., Any]] = {}
_failure: list[str] = []  # why compiling failed, once it has


def available() -> bool:
    """Whether :func:`run` may compile: no kernel has failed, and no ``TorchDispatchMode`` (such as
    :class:`celib.tracing.OpRecorder` or ``FlopCounterMode``) is watching, which would see the
    compiled kernels only as opaque calls."""
    return not _failure and _get_current_dispatch_mode() is None


def disable(error: CompileFailed) -> None:
    """Stop compiling for the rest of the process, with one ``RuntimeWarning`` that says why."""
    if not _failure:
        _failure.append(str(error))
        warnings.warn(
            f"celib.linear_cross_entropy: torch.compile of the chunk kernels failed ({error}). "
            "Falling back to the eager chunk code for the rest of this process; pass "
            "compiled=False to choose it without trying.",
            RuntimeWarning,
            stacklevel=4,
        )


def run(kernel: Callable[..., Any], *args: Any) -> Any:
    """``kernel(*args)`` compiled, without autograd; any error of the compiler is a :class:`CompileFailed`.

    Inside a region that ``torch.compile`` is already tracing, the kernel is plain code for it to inline.
    """
    args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
    if torch.compiler.is_compiling():
        return kernel(*args)
    name = kernel.__name__
    if name not in _compiled:
        _compiled[name] = torch.compile(kernel, dynamic=True, fullgraph=True)
    try:
        with torch.no_grad(), torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            return _compiled[name](*args)
    except Exception as error:  # the compiler's errors have many types (C++ build, Triton, dynamo)
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise CompileFailed(f"{name} failed: {type(error).__name__}: {first_line}") from error
