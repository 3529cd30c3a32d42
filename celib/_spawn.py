"""Run a function on several CPU processes joined in a ``torch.distributed`` group.

Private: :func:`celib.vocab_parallel.run_vocab_parallel` uses it for tests and demonstrations;
a real job starts its processes with ``torchrun`` instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run_on_ranks(fn: Callable[..., dict[str, Any]], world_size: int, *args: Any) -> list[dict[str, Any]]:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` processes; return their results in rank order.

    The processes are started with ``spawn``, join a ``gloo`` group through a file in a
    temporary directory (no network port is needed) and use one thread each (they share the
    machine's cores). ``fn`` must be a module-level function (it is pickled) and return a dict
    of tensors and numbers, which travels back through ``torch.save``.
    """
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_rank_main, args=(folder, world_size, fn, args), nprocs=world_size)
        return [torch.load(_result_path(folder, rank)) for rank in range(world_size)]


def _result_path(folder: str, rank: int) -> str:
    return os.path.join(folder, f"rank{rank}.pt")


def _rank_main(rank: int, folder: str, world_size: int, fn: Callable[..., dict[str, Any]], args: tuple) -> None:
    """One process: join the group, call ``fn``, save its result, leave the group."""
    torch.set_num_threads(1)
    store = dist.FileStore(os.path.join(folder, "rendezvous"), world_size)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)
    try:
        torch.save(fn(rank, world_size, *args), _result_path(folder, rank))
    finally:
        dist.destroy_process_group()
