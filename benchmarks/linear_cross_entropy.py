"""Peak memory and time of an output layer + cross entropy, forward and backward.

    python benchmarks/linear_cross_entropy.py                    # CPU, float32, N=2048, D=1024, V=65536
    python benchmarks/linear_cross_entropy.py --dtype bfloat16   # the same in bf16
    python benchmarks/linear_cross_entropy.py --gpu              # CUDA, bf16, N=8192, D=4096, V=128256

Every method computes ``cross_entropy(x @ W.T, y)`` (mean over the N tokens) and the gradients
of ``x`` and ``W``:

* ``naive``: ``F.cross_entropy(F.linear(x, W), y)``, eager autograd;
* ``chunked forward``: the same, one chunk of tokens at a time, summed; autograd does the rest;
* ``chunked checkpoint``: the same chunks, each under ``torch.utils.checkpoint``: autograd saves
  only the chunk's inputs and recomputes its logits in the backward pass;
* ``torch chunked``: ``F.linear_cross_entropy(x, W, y, options=LinearCrossEntropyOptions())``;
* ``celib``: ``celib.linear_cross_entropy.linear_cross_entropy(x, W, y)`` (default chunk size);
* ``naive compiled`` (GPU only): ``naive`` under ``torch.compile``.

Memory is the peak above the inputs, also as a ratio to the lower bound: the gradients of ``x``
and ``W`` themselves, ``(N*D + V*D) * bytes``. On CPU (Linux) every method runs in a fresh child
process, and the peak is the child's peak resident set size (VmHWM, reset through
``/proc/self/clear_refs`` after a warm-up run; torch's CPU tensors come from ``malloc``) minus
its resident size just before the measured runs, when only the inputs are allocated. The
children run with ``MALLOC_MMAP_THRESHOLD_=65536``, so that a freed tensor goes back to the
operating system and the resident size follows the live tensors. On GPU the peak is
``torch.cuda.max_memory_allocated()`` minus the memory allocated before the run. Time is the
median of a few forward + backward runs after the warm-up, as a ratio to ``naive`` (and on GPU
also to ``naive compiled``); on GPU it is measured with CUDA events. Every run checks, after
printing, that all methods computed the same weight gradient (its squared norm, to 1e-4 in
float32 and 2e-2 in bf16).

``--configs '[["naive", N, D, V, "float32"], ...]'`` (the dtype is optional) measures the listed
CPU configurations one after the other in this process and prints JSON (run it with the
environment variable above): this is what the CPU benchmark runs in each child, and what the
book's chapter on large vocabularies runs at small sizes (through :func:`measure_in_child`).
``--json`` prints the results of a whole benchmark as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from celib.linear_cross_entropy import default_chunk_size, linear_cross_entropy

MIB = 2**20
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}  # freed tensors go back to the OS
PROC_SELF = "/proc/self"  # Linux: this process's status and its peak-memory reset


def naive(x, w, y):
    return F.cross_entropy(F.linear(x, w), y)


def chunked_forward(x, w, y):
    step = default_chunk_size(*x.shape, x.dtype)
    total = sum(
        F.cross_entropy(F.linear(x[i : i + step], w), y[i : i + step], reduction="sum")
        for i in range(0, x.shape[0], step)
    )
    return total / x.shape[0]


def _chunk_loss_sum(x, w, y):
    return F.cross_entropy(F.linear(x, w), y, reduction="sum")


def chunked_checkpoint(x, w, y):
    step = default_chunk_size(*x.shape, x.dtype)
    total = sum(
        checkpoint(_chunk_loss_sum, x[i : i + step], w, y[i : i + step], use_reentrant=False)
        for i in range(0, x.shape[0], step)
    )
    return total / x.shape[0]


def torch_chunked(x, w, y):
    return F.linear_cross_entropy(x, w, y, options=torch.nn.LinearCrossEntropyOptions())


def celib(x, w, y):
    return linear_cross_entropy(x, w, y)


METHODS = {
    "naive": naive,
    "chunked forward": chunked_forward,
    "chunked checkpoint": chunked_checkpoint,
    "torch chunked": torch_chunked,
    "celib": celib,
}
COMPARED = ("naive", "torch chunked", "celib")  # the comparison of the benchmark


def make_inputs(n, d, v, dtype, device, seed=0):
    generator = torch.Generator(device).manual_seed(seed)
    x = torch.randn(n, d, generator=generator, device=device).div_(d**0.5).to(dtype).requires_grad_()
    w = torch.randn(v, d, generator=generator, device=device).to(dtype).requires_grad_()
    y = torch.randint(v, (n,), generator=generator, device=device)
    return x, w, y


def lower_bound_bytes(n, d, v, dtype) -> int:
    """The gradients of x and W: memory that no method can avoid."""
    return (n * d + v * d) * torch.finfo(dtype).bits // 8


def _status_bytes(field: str) -> int:
    with open(f"{PROC_SELF}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"{field} not found in /proc/self/status (Linux only)")


def measure(
    method: str,
    n: int,
    d: int,
    v: int,
    dtype: str = "float32",
    *,
    repeats: int = 1,
) -> dict:
    """Peak resident memory above the inputs and median time of a step, on CPU."""
    x, w, y = make_inputs(n, d, v, getattr(torch, dtype), "cpu")
    fn, times = METHODS[method], []
    for run in range(repeats + 1):  # run 0 is the warm-up
        x.grad = w.grad = None
        if run == 1:
            with open(f"{PROC_SELF}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # reset the peak resident size (VmHWM)
            baseline = _status_bytes("VmRSS")  # the inputs, and what torch keeps
        start = time.perf_counter()
        fn(x, w, y).backward()
        times.append(time.perf_counter() - start)
    return {
        "method": method,
        "n": n,
        "d": d,
        "v": v,
        "peak": _status_bytes("VmHWM") - baseline,
        "bound": lower_bound_bytes(n, d, v, x.dtype),
        "time": statistics.median(times[1:]),
        "check": w.grad.double().square().sum().item(),
    }


def measure_in_child(configs, repeats: int = 1, threads: int = 2) -> list[dict]:
    """Run :func:`measure` on each ``(method, n, d, v, dtype)`` of ``configs`` in one fresh child process."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--configs",
        json.dumps(configs),
        f"--repeats={repeats}",
        f"--threads={threads}",
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, **CHILD_ENV})
    return json.loads(done.stdout)


def print_table(results, time_unit=1.0, unit_name="s") -> None:
    """One line per method; times also as ratios to ``naive`` (and to ``naive compiled`` if measured)."""
    times = {r["method"]: r["time"] for r in results}
    references = [name for name in ("naive", "naive compiled") if name in times]
    print(
        f"{'method':<16}{'peak above inputs':>20}{'x lower bound':>15}{'time':>10}{'':<{len(unit_name)}}"
        + "".join(f"{'x ' + name:>{len(name) + 4}}" for name in references)
    )
    for r in results:
        print(
            f"{r['method']:<16}{r['peak'] / MIB:>16.0f} MiB{r['peak'] / r['bound']:>15.2f}"
            f"{r['time'] * time_unit:>10.2f}{unit_name}"
            + "".join(f"{r['time'] / times[name]:>{len(name) + 4}.2f}" for name in references)
        )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_agreement(results, dtype) -> None:
    """Every method must compute the same weight gradient (its squared norm), to the dtype's precision."""
    checks = [r["check"] for r in results]
    tolerance = 1e-4 if dtype == torch.float32 else 2e-2
    assert max(checks) - min(checks) <= tolerance * max(checks), f"the methods disagree: {checks}"


def cpu_benchmark(n, d, v, dtype, repeats, threads) -> list[dict]:
    """Each method in its own fresh process."""
    name = dtype_name(dtype)
    return [r for method in COMPARED for r in measure_in_child([[method, n, d, v, name]], repeats, threads)]


def gpu_benchmark(n, d, v, repeats) -> list[dict]:
    """bf16 on one GPU, all methods in this process: the caching allocator's statistics are exact."""
    assert torch.cuda.is_available(), "--gpu needs CUDA"
    dtype = torch.bfloat16
    methods = {name: METHODS[name] for name in COMPARED} | {"naive compiled": torch.compile(naive)}
    x, w, y = make_inputs(n, d, v, dtype, "cuda")
    results = []
    for method, fn in methods.items():
        times, peaks = [], []
        for _ in range(repeats + 1):  # the first run warms up (and compiles)
            x.grad = w.grad = None
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            baseline = torch.cuda.memory_allocated()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn(x, w, y).backward()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop) / 1000)
            peaks.append(torch.cuda.max_memory_allocated() - baseline)
        results.append(
            {
                "method": method,
                "n": n,
                "d": d,
                "v": v,
                "peak": max(peaks[1:]),
                "bound": lower_bound_bytes(n, d, v, dtype),
                "time": statistics.median(times[1:]),
                "check": w.grad.double().square().sum().item(),
            }
        )
    return results


def print_report(where, n, d, v, dtype, repeats, results, time_unit, unit_name) -> None:
    print(f"{where}, N={n}, D={d}, V={v}, forward + backward, median of {repeats} runs after a warm-up")
    print(f"lower bound (gradients of x and W): {lower_bound_bytes(n, d, v, dtype) / MIB:.0f} MiB")
    print_table(results, time_unit, unit_name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="bf16 on CUDA at language-model size")
    parser.add_argument("--n", type=int, help="tokens (default 2048 on CPU, 8192 on GPU)")
    parser.add_argument("--d", type=int, help="hidden size (default 1024 on CPU, 4096 on GPU)")
    parser.add_argument("--v", type=int, help="vocabulary size (default 65536 on CPU, 128256 on GPU)")
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        help="dtype of the CPU benchmark (default float32; the GPU benchmark is bf16)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--configs", type=json.loads, help="JSON list of [method, N, D, V] or [method, N, D, V, dtype] to measure here"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.configs:
        print(json.dumps([measure(*config, repeats=args.repeats) for config in args.configs]))
        return 0
    if args.gpu and args.dtype:
        parser.error("--dtype is for the CPU benchmark; --gpu always measures bf16")
    if args.gpu:
        n, d, v, dtype = args.n or 8192, args.d or 4096, args.v or 128256, torch.bfloat16
        where = f"GPU ({torch.cuda.get_device_name()}), bf16" if torch.cuda.is_available() else "GPU"
        results = gpu_benchmark(n, d, v, args.repeats)
        time_unit, unit_name = 1000, "ms"
    else:
        n, d, v, dtype = args.n or 2048, args.d or 1024, args.v or 65536, getattr(torch, args.dtype or "float32")
        where = f"CPU, {dtype_name(dtype)}, {args.threads} threads"
        results = cpu_benchmark(n, d, v, dtype, args.repeats, args.threads)
        time_unit, unit_name = 1, "s"
    if args.json:
        print(json.dumps(results))
    else:
        print_report(where, n, d, v, dtype, args.repeats, results, time_unit, unit_name)
    check_agreement(results, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
