"""Smoke test of the benchmark at tiny sizes: every method runs in a child process and agrees."""

import json

import pytest
import torch

from benchmarks import linear_cross_entropy as bench


@pytest.mark.slow  # one child process, which compiles
def test_every_method_runs_in_a_child_and_computes_the_same_gradient(capsys):
    configs = [[method, 32, 16, 64] for method in bench.METHODS]
    results = bench.measure_in_child(configs, repeats=1, threads=1)
    assert [r["method"] for r in results] == list(bench.METHODS)
    for r in results:
        main_grad = r["method"] in bench.MAIN_GRAD
        assert r["bound"] == bench.lower_bound_bytes(32, 16, 64, torch.float32, main_grad)
        assert r["time"] > 0 and r["check"] > 0
    bench.check_agreement(results, torch.float32)
    compared = [r for r in results if r["method"] in bench.COMPARED + bench.FLOORS]
    bench.print_table(compared, torch.float32)
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "method",
        "peak",
        "MiB",
        "x",
        "bound",
        "time",
        "s",
        "x",
        "naive",
        "x",
        "compiled",
        "x",
        "floor",
    ]
    assert [line[:27].strip() for line in table[1:]] == [
        *bench.COMPARED,
        "floor: 3 matrix products",
        "floor: 4 matrix products",
    ]
    assert max(len(line) for line in table) <= 88  # fits the book's output box


def test_the_floor_of_each_method_counts_its_products():
    assert bench.products_needed("naive", torch.bfloat16) == "products"
    assert bench.products_needed("chunked checkpoint", torch.float32) == "products 4"
    assert bench.products_needed("celib", torch.float32) == "products"
    assert bench.products_needed("celib", torch.bfloat16) == "products 4"
    assert bench.products_needed("celib main_grad", torch.bfloat16) == "products"


def test_ratios_are_to_the_references_of_the_report():
    def result(method, time):
        return {"method": method, "peak": 2.0, "bound": 1.0, "time": time, "check": 1.0}

    report = {
        "main_grad": True,
        "dtype": "bfloat16",
        "results": [
            result("naive + main_grad", 4.0),
            result("naive compiled + main_grad", 2.0),
            result("celib main_grad", 1.0),
            result("products", 0.5),
            result("products 4", 0.8),
        ],
    }
    assert bench.ratios(report)["celib main_grad"] == {"peak": 2.0, "naive": 0.25, "compiled": 0.5, "floor": 2.0}


def test_agreement_check_fails_when_a_method_disagrees():
    results = [{"method": "naive", "check": 1.0}, {"method": "celib", "check": 1.1}]
    with pytest.raises(AssertionError, match="the methods disagree"):
        bench.check_agreement(results, torch.float32)


def test_configs_mode_prints_json(capsys):
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--configs", json.dumps([["celib", 16, 8, 32]]), "--repeats=1", "--threads=1"]) == 0
    finally:
        torch.set_num_threads(threads)  # main() sets this process's threads
    (result,) = json.loads(capsys.readouterr().out)
    assert result["method"] == "celib" and result["n"] == 16


def test_gpu_and_dtype_are_exclusive():
    with pytest.raises(SystemExit):
        bench.main(["--gpu", "--dtype", "bfloat16"])
