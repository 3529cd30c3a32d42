"""Peak memory and time of an output layer + cross entropy, forward and backward.

    python benchmarks/linear_cross_entropy.py                    # CPU, float32, N=2048, D=1024, V=65536
    python benchmarks/linear_cross_entropy.py --dtype bfloat16   # the same in bf16
    python benchmarks/linear_cross_entropy.py --dtype bfloat16 --main-grad   # float32 main gradients
    python benchmarks/linear_cross_entropy.py --all --save FILE  # the three, saved as JSON
    python benchmarks/linear_cross_entropy.py --gpu              # CUDA, bf16, N=8192, D=4096, V=128256

Every method computes ``cross_entropy(x @ W.T, y)`` (mean over the N tokens) and the gradients
of ``x`` and ``W``:

* ``naive``: ``F.cross_entropy(F.linear(x, W), y)``, eager autograd;
* ``naive compiled``: ``naive`` under ``torch.compile`` (Inductor: C++ on CPU, Triton on GPU);
* ``chunked forward``: the same, one chunk of tokens at a time, summed; autograd does the rest;
* ``chunked checkpoint``: the same chunks, each under ``torch.utils.checkpoint``: autograd saves
  only the chunk's inputs and recomputes its logits in the backward pass;
* ``torch chunked``: ``F.linear_cross_entropy(x, W, y, options=LinearCrossEntropyOptions())``;
* ``celib``: ``celib.linear_cross_entropy.linear_cross_entropy(x, W, y)`` (default chunk size;
  its chunk work compiled by ``torch.compile``); ``celib eager``: the same with ``compiled=False``.

With ``--main-grad`` the weight gradient ends in a float32 buffer ``main_grad``, as in
mixed-precision training: ``naive + main_grad`` and ``naive compiled + main_grad`` add autograd's
bf16 ``W.grad`` to it; ``celib main_grad`` passes it as ``main_grad=``. The buffer is allocated in
the measured step, like the gradients, and counted in the lower bound.

Memory is the peak above the inputs, also as a ratio to the lower bound: the gradients of ``x``
and ``W`` themselves, ``(N*D + V*D) * bytes`` (with ``--main-grad``, ``N*D*bytes + V*D*4``). On CPU
(Linux) every method runs in a fresh child process, and the peak is the child's peak resident set
size (VmHWM, reset through ``/proc/self/clear_refs`` after a warm-up run, which also compiles;
torch's CPU tensors come from ``malloc``) minus its resident size just before the measured runs,
when only the inputs are allocated. The children run with ``MALLOC_MMAP_THRESHOLD_=65536``, so
that a freed tensor goes back to the operating system and the resident size follows the live
tensors. On GPU the peak is ``torch.cuda.max_memory_allocated()`` minus the memory allocated
before the run. Time is the median of a few forward + backward runs after the warm-up, as a ratio
to ``naive``, to ``naive compiled`` and to the floor: the time of the matrix products the method
needs (three of ``2 N D V`` operations, four for the methods that recompute the logits:
``chunked checkpoint``, and celib in bf16/float16 without ``main_grad``), measured in the same
run as full-size products with nothing else (``products``). On GPU times come from CUDA events.
Every run checks, after printing, that all methods computed the same weight gradient (its squared
norm, to 1e-4 in float32 and 2e-2 in bf16).

``--configs '[["naive", N, D, V, "float32"], ...]'`` (the dtype is optional) measures the listed
CPU configurations one after the other in this process and prints JSON (run it with the
environment variable above): this is what the CPU benchmark runs in each child, and what the
book's chapter on large vocabularies runs at small sizes (through :func:`measure_in_child`).
``--json`` prints the results of a whole benchmark as JSON; ``--save FILE`` writes them, with the
sizes and the threads, to ``FILE``, which the chapter reads (:func:`load_report`).
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


naive_compiled = torch.compile(naive)


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


def celib_eager(x, w, y):
    return linear_cross_entropy(x, w, y, compiled=False)


def backward(loss_fn):
    """A step that backpropagates ``loss_fn`` and returns the weight gradient, ``W.grad``."""

    def step(x, w, y):
        loss_fn(x, w, y).backward()
        return w.grad

    return step


def into_main_grad(loss_fn):
    """A step that adds autograd's ``W.grad`` (bf16 for bf16 weights) to a new float32 ``main_grad``."""

    def step(x, w, y):
        main_grad = torch.zeros_like(w, dtype=torch.float32)
        loss_fn(x, w, y).backward()
        main_grad += w.grad
        w.grad = None
        return main_grad

    return step


def celib_main_grad(x, w, y):
    main_grad = torch.zeros_like(w, dtype=torch.float32)
    linear_cross_entropy(x, w, y, main_grad=main_grad).backward()
    return main_grad


def products(x, w, y):
    """The floor: the three full-size matrix products of a step (the logits, dL/dx, dL/dW), nothing else."""
    with torch.no_grad():
        z = x @ w.T  # (N, V)
        _ = z @ w  # (N, D)
        return z.T @ x  # (V, D)


def products_4(x, w, y):
    """The floor of the methods that recompute the logits: four products."""
    with torch.no_grad():
        z = x @ w.T
        _ = z @ w
        torch.mm(x, w.T, out=z)
        return z.T @ x


#: Each method as a step ``(x, w, y) -> weight gradient``.
METHODS = {
    "naive": backward(naive),
    "naive compiled": backward(naive_compiled),
    "chunked forward": backward(chunked_forward),
    "chunked checkpoint": backward(chunked_checkpoint),
    "torch chunked": backward(torch_chunked),
    "celib eager": backward(celib_eager),
    "celib": backward(celib),
    "naive + main_grad": into_main_grad(naive),
    "naive compiled + main_grad": into_main_grad(naive_compiled),
    "celib main_grad": celib_main_grad,
    "products": products,
    "products 4": products_4,
}
MAIN_GRAD = ("naive + main_grad", "naive compiled + main_grad", "celib main_grad")
COMPARED = ("naive", "naive compiled", "chunked checkpoint", "torch chunked", "celib eager", "celib")
FLOORS = ("products", "products 4")
#: The methods that recompute the logits (four matrix products; the others need three).
FOUR_PRODUCTS = ("chunked checkpoint",)
CELIB_LOW_PRECISION = ("celib", "celib eager")  # four products for bf16/float16 weight gradients


def products_needed(method: str, dtype: torch.dtype) -> str:
    """The floor of ``method``: ``"products"`` (three) or ``"products 4"``."""
    four = method in FOUR_PRODUCTS or (method in CELIB_LOW_PRECISION and dtype in (torch.bfloat16, torch.float16))
    return "products 4" if four else "products"


def make_inputs(n, d, v, dtype, device, seed=0):
    generator = torch.Generator(device).manual_seed(seed)
    x = torch.randn(n, d, generator=generator, device=device).div_(d**0.5).to(dtype).requires_grad_()
    w = torch.randn(v, d, generator=generator, device=device).to(dtype).requires_grad_()
    y = torch.randint(v, (n,), generator=generator, device=device)
    return x, w, y


def lower_bound_bytes(n, d, v, dtype, main_grad: bool = False) -> int:
    """The gradients of x and W (W's in float32 with ``main_grad``): memory that no method can avoid."""
    itemsize = torch.finfo(dtype).bits // 8
    return n * d * itemsize + v * d * (4 if main_grad else itemsize)


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
    step, times = METHODS[method], []
    for run in range(repeats + 1):  # run 0 is the warm-up (and compiles)
        x.grad = w.grad = grad = None
        if run == 1:
            with open(f"{PROC_SELF}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # reset the peak resident size (VmHWM)
            baseline = _status_bytes("VmRSS")  # the inputs, and what torch keeps
        start = time.perf_counter()
        grad = step(x, w, y)
        times.append(time.perf_counter() - start)
    return {
        "method": method,
        "n": n,
        "d": d,
        "v": v,
        "peak": _status_bytes("VmHWM") - baseline,
        "bound": lower_bound_bytes(n, d, v, x.dtype, method in MAIN_GRAD),
        "time": statistics.median(times[1:]),
        "check": grad.double().square().sum().item(),
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
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **CHILD_ENV})
    if done.returncode:
        raise RuntimeError(f"the benchmark's child process failed on {configs}:\n{done.stderr}")
    return json.loads(done.stdout)


def print_table(results, dtype, time_unit=1.0, unit_name="s") -> None:
    """One line per method: the peak above the inputs and its ratio to the lower bound, the time, and the
    time as ratios to the table's naive and compiled naive methods and to the method's floor (the
    products it needs), each where measured; then the floors themselves."""
    by_name = {r["method"]: r for r in results}
    references = [
        (label, next((name for name in names if name in by_name), None))
        for label, names in (
            ("x naive", ("naive", "naive + main_grad")),
            ("x compiled", ("naive compiled", "naive compiled + main_grad")),
        )
    ]
    references = [(label, name) for label, name in references if name is not None]
    with_floor = all(floor in by_name for floor in FLOORS)
    labels = [label for label, _ in references] + (["x floor"] if with_floor else [])
    print(
        f"{'method':<27}{'peak MiB':>9}{'x bound':>9}{'time ' + unit_name:>9}"
        + "".join(f"{label:>11}" for label in labels)
    )
    for r in results:
        if r["method"] in FLOORS:
            continue
        ratios = [r["time"] / by_name[name]["time"] for _, name in references]
        if with_floor:
            ratios.append(r["time"] / by_name[products_needed(r["method"], dtype)]["time"])
        print(
            f"{r['method']:<27}{r['peak'] / MIB:>9.0f}{r['peak'] / r['bound']:>9.2f}{r['time'] * time_unit:>9.2f}"
            + "".join(f"{ratio:>11.2f}" for ratio in ratios)
        )
    if with_floor:
        for floor, count in zip(FLOORS, (3, 4)):
            print(f"{f'floor: {count} matrix products':<45}{by_name[floor]['time'] * time_unit:>9.2f}")


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_agreement(results, dtype) -> None:
    """Every method must compute the same weight gradient (its squared norm), to the dtype's precision."""
    checks = [r["check"] for r in results if r["method"] not in FLOORS]
    tolerance = 1e-4 if dtype == torch.float32 else 2e-2
    assert max(checks) - min(checks) <= tolerance * max(checks), f"the methods disagree: {checks}"


def cpu_benchmark(n, d, v, dtype, repeats, threads, main_grad=False) -> list[dict]:
    """Each method, and each floor, in its own fresh process."""
    name = dtype_name(dtype)
    methods = (MAIN_GRAD if main_grad else COMPARED) + FLOORS
    return [r for method in methods for r in measure_in_child([[method, n, d, v, name]], repeats, threads)]


def gpu_benchmark(n, d, v, repeats, main_grad=False) -> list[dict]:
    """bf16 on one GPU, all methods in this process: the caching allocator's statistics are exact."""
    assert torch.cuda.is_available(), "--gpu needs CUDA"
    dtype = torch.bfloat16
    x, w, y = make_inputs(n, d, v, dtype, "cuda")
    results = []
    for method in (MAIN_GRAD if main_grad else COMPARED) + FLOORS:
        step, times, peaks = METHODS[method], [], []
        for _ in range(repeats + 1):  # the first run warms up (and compiles)
            x.grad = w.grad = grad = None
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            baseline = torch.cuda.memory_allocated()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            grad = step(x, w, y)
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
                "bound": lower_bound_bytes(n, d, v, dtype, method in MAIN_GRAD),
                "time": statistics.median(times[1:]),
                "check": grad.double().square().sum().item(),
            }
        )
    return results


def print_report(report, time_unit=1.0, unit_name="s") -> None:
    """A report (what :func:`run_report` returns, or one of a saved file's): its heading and its table."""
    n, d, v, dtype = report["n"], report["d"], report["v"], getattr(torch, report["dtype"])
    print(f"{report['where']}, N={n}, D={d}, V={v}")
    print(f"forward + backward, median of {report['repeats']} runs after a warm-up")
    bound = lower_bound_bytes(n, d, v, dtype, report["main_grad"])
    what = "x and W (W's in float32)" if report["main_grad"] else "x and W"
    print(f"lower bound (gradients of {what}): {bound / MIB:.0f} MiB")
    print_table(report["results"], dtype, time_unit, unit_name)


def run_report(n, d, v, dtype, repeats, threads, main_grad=False) -> dict:
    """The CPU benchmark of one dtype (with float32 main gradients or not), with what describes it."""
    where = f"CPU, {dtype_name(dtype)}{', float32 main_grad' if main_grad else ''}, {threads} threads"
    results = cpu_benchmark(n, d, v, dtype, repeats, threads, main_grad)
    check_agreement(results, dtype)
    return {
        "where": where,
        "n": n,
        "d": d,
        "v": v,
        "dtype": dtype_name(dtype),
        "main_grad": main_grad,
        "repeats": repeats,
        "results": results,
    }


def load_report(path) -> list[dict]:
    """The reports saved by ``--save``."""
    with open(path) as file:
        return json.load(file)


def ratios(report) -> dict[str, dict[str, float]]:
    """Per method of a report: ``peak`` (x lower bound), ``naive``, ``compiled`` and ``floor`` (time ratios)."""
    by_name = {r["method"]: r for r in report["results"]}
    naive_name, compiled_name = (
        ("naive + main_grad", "naive compiled + main_grad")
        if report["main_grad"]
        else (
            "naive",
            "naive compiled",
        )
    )
    dtype = getattr(torch, report["dtype"])
    return {
        name: {
            "peak": r["peak"] / r["bound"],
            "naive": r["time"] / by_name[naive_name]["time"],
            "compiled": r["time"] / by_name[compiled_name]["time"],
            "floor": r["time"] / by_name[products_needed(name, dtype)]["time"],
        }
        for name, r in by_name.items()
        if name not in FLOORS
    }


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
    parser.add_argument("--main-grad", action="store_true", help="the weight gradient into a float32 main_grad")
    parser.add_argument("--all", action="store_true", help="CPU: float32, bfloat16, bfloat16 with --main-grad")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--save", help="also write the reports to this JSON file")
    parser.add_argument(
        "--configs", type=json.loads, help="JSON list of [method, N, D, V] or [method, N, D, V, dtype] to measure here"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.configs:
        print(json.dumps([measure(*config, repeats=args.repeats) for config in args.configs]))
        return 0
    if args.gpu and (args.dtype or args.all):
        parser.error("--dtype and --all are for the CPU benchmark; --gpu always measures bf16")
    if args.gpu:
        n, d, v = args.n or 8192, args.d or 4096, args.v or 128256
        name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
        results = gpu_benchmark(n, d, v, args.repeats, args.main_grad)
        check_agreement(results, torch.bfloat16)
        reports = [
            {
                "where": f"GPU ({name}), bfloat16{', float32 main_grad' if args.main_grad else ''}",
                "n": n,
                "d": d,
                "v": v,
                "dtype": "bfloat16",
                "main_grad": args.main_grad,
                "repeats": args.repeats,
                "results": results,
            }
        ]
        time_unit, unit_name = 1000, "ms"
    else:
        n, d, v = args.n or 2048, args.d or 1024, args.v or 65536
        if args.all:
            runs = [(torch.float32, False), (torch.bfloat16, False), (torch.bfloat16, True)]
        else:
            runs = [(getattr(torch, args.dtype or "float32"), args.main_grad)]
        reports = [run_report(n, d, v, dtype, args.repeats, args.threads, main_grad) for dtype, main_grad in runs]
        time_unit, unit_name = 1, "s"
    if args.save:
        with open(args.save, "w") as file:
            json.dump(reports, file, indent=1)
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0]["results"]))
    else:
        for i, report in enumerate(reports):
            print("" if i else "", end="\n" if i else "")
            print_report(report, time_unit, unit_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
