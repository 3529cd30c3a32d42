"""Smoke test of the benchmark at tiny sizes: every method runs in a child process and agrees."""

import json

import pytest
import torch

from benchmarks import linear_cross_entropy as bench


@pytest.mark.slow  # one child process
def test_every_method_runs_in_a_child_and_computes_the_same_gradient(capsys):
    results = bench.measure_in_child([[method, 32, 16, 64] for method in bench.METHODS], repeats=1, threads=1)
    assert [r["method"] for r in results] == list(bench.METHODS)
    for r in results:
        assert r["bound"] == bench.lower_bound_bytes(32, 16, 64, torch.float32)
        assert r["time"] > 0 and r["check"] > 0
    bench.check_agreement(results, torch.float32)
    bench.print_table(results)
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("method") and [line.split()[0] for line in table[1:]] == [
        "naive",
        "chunked",
        "chunked",
        "torch",
        "celib",
    ]


def test_agreement_check_fails_when_a_method_disagrees():
    results = [{"check": 1.0}, {"check": 1.1}]
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
