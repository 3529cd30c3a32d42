"""Which ATen operators a piece of PyTorch code runs.

The internals and pitfalls chapters, and the tests that check ``celib.functional`` calls no
fused kernel, all ask the same question of the dispatcher; :class:`OpRecorder` answers it.
"""

from __future__ import annotations

from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["OpRecorder"]

# Matrix products, by the position of their two factors among the operator's arguments.
_PRODUCT_FACTORS = {"mm": (0, 1), "bmm": (0, 1), "addmm": (1, 2), "addmm_": (1, 2), "baddbmm": (1, 2)}


class OpRecorder(TorchDispatchMode):
    """Record the name of every ATen operator that runs inside the ``with`` block, in order.

    A ``TorchDispatchMode`` sees each operator after autograd has decomposed the call, so
    forward and backward operators both appear (``detach`` is autograd's bookkeeping).
    ``matmul_flops`` adds up the floating-point operations of the matrix products among them
    (``mm``, ``addmm``, ``addmm_``, ``bmm``, ``baddbmm``): :math:`2 m k n` for an
    :math:`(m, k)` by :math:`(k, n)` product, times the batch size for ``bmm``.

    >>> import torch
    >>> logits, weight = torch.zeros(2, 3), torch.zeros(4, 3)
    >>> with OpRecorder() as recorder:
    ...     _ = torch.log_softmax(logits, dim=1)
    ...     _ = logits @ weight.T
    >>> recorder.ops, recorder.matmul_flops
    (['_log_softmax', 'permute', 'mm'], 48)
    """

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []
        self.matmul_flops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = func.overloadpacket.__name__  # "_log_softmax", without overload or "aten."
        self.ops.append(name)
        if name in _PRODUCT_FACTORS:
            first, second = (args[i] for i in _PRODUCT_FACTORS[name])
            batch = first.shape[0] if first.dim() == 3 else 1
            self.matmul_flops += 2 * batch * first.shape[-2] * first.shape[-1] * second.shape[-1]
        return func(*args, **(kwargs or {}))
