"""Which ATen operators a piece of PyTorch code runs.

The internals and pitfalls chapters, and the tests that check ``celib.functional`` calls no
fused kernel, all ask the same question of the dispatcher; :class:`OpRecorder` answers it.
"""

from __future__ import annotations

from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["OpRecorder"]


class OpRecorder(TorchDispatchMode):
    """Record the name of every ATen operator that runs inside the ``with`` block, in order.

    A ``TorchDispatchMode`` sees each operator after autograd has decomposed the call, so
    forward and backward operators both appear (``detach`` is autograd's bookkeeping).

    >>> import torch
    >>> logits = torch.zeros(2, 3)
    >>> with OpRecorder() as recorder:
    ...     _ = torch.log_softmax(logits, dim=1)
    >>> recorder.ops
    ['_log_softmax']
    """

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.ops.append(func.overloadpacket.__name__)  # "_log_softmax", without overload or "aten."
        return func(*args, **(kwargs or {}))
