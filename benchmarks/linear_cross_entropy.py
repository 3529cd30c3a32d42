"""Peak memory and time of the output layer + cross entropy, forward and backward.

    python benchmarks/linear_cross_entropy.py          # CPU, float32, N=2048, D=1024, V=65536
    python benchmarks/linear_cross_entropy.py --gpu    # CUDA, bf16, N=8192, D=4096, V=128256

Methods, all computing ``cross_entropy(x @ W.T, y)`` and its gradients for ``x`` and ``W``:

* ``naive``: ``F.cross_entropy(F.linear(x, W), y)``, eager autograd;
* ``torch chunked``: ``F.linear_cross_entropy(x, W, y, options=LinearCrossEntropyOptions())``;
* ``celib``: ``celib.large_vocab.linear_cross_entropy(x, W, y)`` (default chunk size);
* ``naive compiled`` (``--gpu`` only): the naive function under ``torch.compile``.

Memory is the peak above the inputs, as a ratio to the lower bound: the gradients of ``x`` and
``W`` themselves, ``(N*D + V*D) * bytes``. On CPU every method runs in a fresh child process and
the peak is the child's peak resident set size (``ru_maxrss``: torch's CPU tensors come from
``malloc``) minus its resident size right after creating the inputs. On GPU the peak is
``torch.cuda.max_memory_allocated()`` minus the memory allocated after creating the inputs.
Time is the median of a few forward + backward runs (after one warm-up run), as a ratio to the
naive method; on GPU it is measured with CUDA events.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from celib.large_vocab import linear_cross_entropy

MIB = 2**20


def naive(x, w, y):
    return F.cross_entropy(F.linear(x, w), y)


def torch_chunked(x, w, y):
    return F.linear_cross_entropy(x, w, y, options=torch.nn.LinearCrossEntropyOptions())


def celib(x, w, y):
    return linear_cross_entropy(x, w, y)


METHODS = {"naive": naive, "torch chunked": torch_chunked, "celib": celib}


def make_inputs(n, d, v, dtype, device, seed=0):
    generator = torch.Generator(device).manual_seed(seed)
    x = (torch.randn(n, d, generator=generator, device=device) / d**0.5).to(dtype).requires_grad_()
    w = torch.randn(v, d, generator=generator, device=device).to(dtype).requires_grad_()
    y = torch.randint(v, (n,), generator=generator, device=device)
    return x, w, y


def lower_bound_bytes(n, d, v, dtype) -> int:
    """The gradients of x and W: memory no method can avoid."""
    return (n * d + v * d) * torch.finfo(dtype).bits // 8


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def run_child(method: str, n: int, d: int, v: int, repeats: int, threads: int) -> dict:
    """In this (fresh) process: peak RSS above the inputs and times of forward + backward."""
    torch.set_num_threads(threads)
    x, w, y = make_inputs(n, d, v, torch.float32, "cpu")
    baseline = max_rss_bytes()
    fn, times = METHODS[method], []
    for _ in range(repeats + 1):  # the first run is a warm-up
        x.grad = w.grad = None
        start = time.perf_counter()
        loss = fn(x, w, y)
        loss.backward()
        times.append(time.perf_counter() - start)
        del loss
    return {"peak": max_rss_bytes() - baseline, "time": statistics.median(times[1:]), "loss": x.grad.sum().item()}


def cpu_benchmark(n, d, v, repeats, threads) -> None:
    print(f"CPU, float32, N={n}, D={d}, V={v}, {threads} threads, forward + backward, median of {repeats} runs")
    bound = lower_bound_bytes(n, d, v, torch.float32)
    print(f"lower bound (gradients of x and W): {bound / MIB:.0f} MiB")
    results = {}
    for method in METHODS:
        command = [sys.executable, __file__, "--child", method, f"--n={n}", f"--d={d}", f"--v={v}",
                   f"--repeats={repeats}", f"--threads={threads}"]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[method] = json.loads(out.splitlines()[-1])
    print(f"{'method':<15}{'peak above inputs':>20}{'x lower bound':>15}{'time':>10}{'x naive':>10}")
    for method, r in results.items():
        print(f"{method:<15}{r['peak'] / MIB:>16.0f} MiB{r['peak'] / bound:>15.2f}"
              f"{r['time']:>9.2f}s{r['time'] / results['naive']['time']:>10.2f}")
    sums = [r["loss"] for r in results.values()]
    assert max(sums) - min(sums) < 1e-3 * max(1.0, abs(sums[0])), f"methods disagree on sum(grad x): {sums}"


def gpu_benchmark(n, d, v, repeats) -> None:
    """bf16 on one GPU; peak memory from the caching allocator, time from CUDA events."""
    assert torch.cuda.is_available(), "--gpu needs CUDA"
    dtype, device = torch.bfloat16, "cuda"
    methods = {**METHODS, "naive compiled": torch.compile(naive)}
    bound = lower_bound_bytes(n, d, v, dtype)
    print(f"GPU ({torch.cuda.get_device_name()}), bf16, N={n}, D={d}, V={v}, forward + backward, median of {repeats} runs")
    print(f"lower bound (gradients of x and W): {bound / MIB:.0f} MiB")
    x, w, y = make_inputs(n, d, v, dtype, device)
    results = {}
    for method, fn in methods.items():
        times = []
        for i in range(repeats + 1):  # the first run warms up (and compiles)
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
            peak = torch.cuda.max_memory_allocated() - baseline
        results[method] = {"peak": peak, "time": statistics.median(times[1:])}
    print(f"{'method':<15}{'peak above inputs':>20}{'x lower bound':>15}{'time':>10}{'x naive':>10}")
    for method, r in results.items():
        print(f"{method:<15}{r['peak'] / MIB:>16.0f} MiB{r['peak'] / bound:>15.2f}"
              f"{r['time'] * 1000:>8.1f}ms{r['time'] / results['naive']['time']:>10.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="bf16 on CUDA at language-model size")
    parser.add_argument("--n", type=int, help="tokens (default 2048 on CPU, 8192 on GPU)")
    parser.add_argument("--d", type=int, help="hidden size (default 1024 on CPU, 4096 on GPU)")
    parser.add_argument("--v", type=int, help="vocabulary size (default 65536 on CPU, 128256 on GPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--child", choices=list(METHODS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n, d, v = (args.n or 8192, args.d or 4096, args.v or 128256) if args.gpu else (args.n or 2048, args.d or 1024, args.v or 65536)
    if args.child:
        print(json.dumps(run_child(args.child, n, d, v, args.repeats, args.threads)))
    elif args.gpu:
        gpu_benchmark(n, d, v, args.repeats)
    else:
        cpu_benchmark(n, d, v, args.repeats, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
