"""Tests of celib.vocab_parallel: one rank in this process, three ranks in spawned processes, bad input."""

import pytest
import torch
import torch.distributed as dist

from celib.tracing import OpRecorder
from celib.vocab_parallel import run_vocab_parallel, vocab_parallel_cross_entropy
from tests.strategies import F64, loss_and_grads, naive
from tests.strategies import linear_problem as make_problem


def one_rank(x, w, y, **options):
    return vocab_parallel_cross_entropy(x, w, y, vocab_start=0, **options)


class TestVocabParallel:
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_one_rank_matches_naive(self, one_rank_group, reduction):
        x, w, _, y = make_problem(10, 4, 7, ignored=(1,))
        grad_output = torch.randn(10, dtype=F64) if reduction == "none" else torch.tensor(0.5, dtype=F64)
        got, got_grads = loss_and_grads(one_rank, x, w, None, y, grad_output, reduction=reduction, label_smoothing=0.2)
        want, want_grads = loss_and_grads(naive, x, w, None, y, grad_output, reduction=reduction, label_smoothing=0.2)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
        for g, h in zip(got_grads, want_grads):
            torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-9)

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("chunk_size", [1, 3, 10, 64])  # 3 does not divide N = 10; 64 > N
    def test_chunked_matches_naive_and_unchunked(self, one_rank_group, reduction, chunk_size):
        x, w, _, y = make_problem(10, 4, 7, ignored=(1, 6))
        grad_output = torch.randn(10, dtype=F64) if reduction == "none" else torch.tensor(0.5, dtype=F64)
        options = {"reduction": reduction, "label_smoothing": 0.2}
        got, got_grads = loss_and_grads(one_rank, x, w, None, y, grad_output, chunk_size=chunk_size, **options)
        whole, whole_grads = loss_and_grads(one_rank, x, w, None, y, grad_output, **options)
        want, want_grads = loss_and_grads(naive, x, w, None, y, grad_output, **options)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got, whole, rtol=1e-12, atol=1e-12)
        for g, h, u in zip(got_grads, want_grads, whole_grads):
            torch.testing.assert_close(g, h, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(g, u, rtol=1e-12, atol=1e-12)

    def test_chunked_in_bfloat16_keeps_the_dtypes(self, one_rank_group):
        x, w, _, y = make_problem(12, 8, 50, dtype=torch.float32, ignored=(4,))
        x = x / 3
        got, got_grads = loss_and_grads(one_rank, x.bfloat16(), w.bfloat16(), None, y, chunk_size=5)
        want, want_grads = loss_and_grads(naive, x, w, None, y)
        assert got.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in got_grads)
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)
        for g, h in zip(got_grads, want_grads):
            assert (g.float() - h).norm() <= 2e-2 * h.norm()

    @pytest.mark.parametrize("reduction", ["mean", "none"])
    @pytest.mark.parametrize(("chunk_size", "products"), [(None, 3), (10, 4), (3, 4), (1, 4)])
    def test_matrix_products(self, one_rank_group, reduction, chunk_size, products):
        # 3 products of 2 N V D: the logits, then G W and G^T x; with chunk_size the backward
        # pass recomputes the logits, a 4th, however many chunks (3 does not divide N = 10)
        x, w, _, y = make_problem(10, 4, 7, ignored=(1,))
        x.requires_grad_(), w.requires_grad_()
        with OpRecorder() as recorder:
            loss = one_rank(x, w, y, chunk_size=chunk_size, reduction=reduction, label_smoothing=0.1)
            loss.backward(torch.ones_like(loss))
        assert recorder.matmul_flops == products * 2 * 10 * 7 * 4

    def test_bad_chunk_size(self, one_rank_group):
        x, w, _, y = make_problem(4, 3, 5)
        with pytest.raises(ValueError, match=r"^chunk_size must be an int >= 1 or None; got 0$"):
            vocab_parallel_cross_entropy(x, w, y, vocab_start=0, chunk_size=0)
        with pytest.raises(TypeError, match=r"^chunk_size must be an int >= 1 or None; got 2.0 \(float\)$"):
            vocab_parallel_cross_entropy(x, w, y, vocab_start=0, chunk_size=2.0)

    def test_one_rank_in_bfloat16_is_close_to_float32(self, one_rank_group):
        x, w, _, y = make_problem(12, 8, 50, dtype=torch.float32, ignored=(4,))
        x = x / 3
        got, got_grads = loss_and_grads(one_rank, x.bfloat16(), w.bfloat16(), None, y, label_smoothing=0.1)
        want, want_grads = loss_and_grads(naive, x, w, None, y, label_smoothing=0.1)
        assert got.dtype == torch.bfloat16 and all(g.dtype == torch.bfloat16 for g in got_grads)
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)
        for g, h in zip(got_grads, want_grads):
            assert (g.float() - h).norm() <= 2e-2 * h.norm()

    def test_shards_that_do_not_tile_the_vocabulary(self, one_rank_group):
        x, w, _, y = make_problem(4, 3, 5)
        with pytest.raises(ValueError, match=r"vocab_start out of range: .*\[2, 7\).* expected 0"):
            vocab_parallel_cross_entropy(x, w, y, vocab_start=2)

    def test_target_outside_the_global_vocabulary(self, one_rank_group):
        x, w, _, y = make_problem(4, 3, 5)
        with pytest.raises(
            IndexError, match=r"^target must hold class indices in \[0, 5\) or ignore_index=-100; got 7$"
        ):
            vocab_parallel_cross_entropy(x, w, torch.tensor([0, 7, 1, 1]), vocab_start=0)

    @pytest.mark.parametrize(
        ("reduction", "label_smoothing"), [("mean", 0.3), ("none", 0.0)], ids=["mean-smoothed", "none"]
    )
    @pytest.mark.slow  # spawns three processes
    def test_three_uneven_ranks_match_one_process(self, reduction, label_smoothing):
        x, w, _, y = make_problem(9, 4, 11, ignored=(2, 7))
        y[0], y[1], y[3] = 4, 5, 10  # targets at the shard boundaries 5 | 4 | 2
        grad_output = torch.randn(9, dtype=F64) if reduction == "none" else None
        options = {"reduction": reduction, "label_smoothing": label_smoothing}
        ranks = run_vocab_parallel(x, w, y, [5, 4, 2], grad_output=grad_output, **options)
        want, (grad_x, grad_w) = loss_and_grads(naive, x, w, None, y, grad_output, **options)
        assert [r.vocab_start for r in ranks] == [0, 5, 9]
        for r in ranks:
            torch.testing.assert_close(r.loss, want, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(r.grad_input, grad_x, rtol=1e-9, atol=1e-9)
            shard = slice(r.vocab_start, r.vocab_start + r.grad_weight_shard.shape[0])
            torch.testing.assert_close(r.grad_weight_shard, grad_w[shard], rtol=1e-9, atol=1e-9)

    @pytest.mark.slow  # spawns two processes
    def test_chunked_ranks_keep_less_and_run_the_collectives_per_chunk(self):
        n, d, sizes, rows = 10, 4, [6, 5], 4  # ceil(10 / 4) = 3 chunks
        x, w, _, y = make_problem(n, d, sum(sizes), ignored=(3,))
        whole = run_vocab_parallel(x, w, y, sizes, label_smoothing=0.1)
        chunked = run_vocab_parallel(x, w, y, sizes, label_smoothing=0.1, chunk_size=rows)
        want, (grad_x, grad_w) = loss_and_grads(naive, x, w, None, y, label_smoothing=0.1)
        for size, a, b in zip(sizes, whole, chunked):
            torch.testing.assert_close(b.loss, want, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(b.grad_input, grad_x, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(b.grad_weight_shard, a.grad_weight_shard, rtol=1e-12, atol=1e-12)
            assert a.saved_bytes == n * size * 8  # the (N, V_r) float64 gradient of the logits
            assert b.saved_bytes == n * 8  # the N log-sum-exps
            assert a.collectives == ["allgather_", "allreduce_", "allreduce_", "allreduce_"]
            assert b.collectives == ["allgather_"] + ["allreduce_", "allreduce_"] * 3 + ["allreduce_"]
            assert (a.products, b.products) == (3, 4)  # in units of 2 N V_r D; recomputed logits


class TestBadInput:
    def setup_method(self):
        self.x, self.w, _, self.y = make_problem(4, 3, 5)

    def test_checks_arguments_before_communicating(self):
        assert not dist.is_initialized()  # so the last check below is reached
        with pytest.raises(ValueError, match=r"^weight_shard has shape \(5, 2\); expected \(V, D\)"):
            vocab_parallel_cross_entropy(self.x, self.w[:, :2], self.y, vocab_start=0)
        with pytest.raises(ValueError, match=r"^vocab_start must be an int >= 0; got -2$"):
            vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=-2)
        with pytest.raises(TypeError, match=r"^vocab_start must be an int >= 0; got 1.0 \(float\)$"):
            vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=1.0)
        with pytest.raises(RuntimeError, match="init_process_group"):
            vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=0)

    def test_run_vocab_parallel_checks_the_shards_and_options(self):
        with pytest.raises(ValueError, match=r"^shard_sizes must add up to V = 5 \(weight's rows\); got sum 4$"):
            run_vocab_parallel(self.x, self.w, self.y, [2, 2])
        with pytest.raises(ValueError, match=r"^shard_sizes\[1\] must be an int >= 1; got 0$"):
            run_vocab_parallel(self.x, self.w, self.y, [5, 0])
        with pytest.raises(TypeError, match=r"^shard_sizes must be a non-empty list of ints; got 5$"):
            run_vocab_parallel(self.x, self.w, self.y, 5)
        with pytest.raises(TypeError, match=r"unexpected keyword argument 'smoothing'"):
            run_vocab_parallel(self.x, self.w, self.y, [5], smoothing=0.1)
        with pytest.raises(ValueError, match=r"^reduction must be one of 'none', 'mean', 'sum'; got 'avg'$"):
            run_vocab_parallel(self.x, self.w, self.y, [5], reduction="avg")
        with pytest.raises(
            IndexError, match=r"^target must hold class indices in \[0, 5\) or ignore_index=-100; got 7$"
        ):
            run_vocab_parallel(self.x, self.w, torch.tensor([0, 7, 1, 1]), [5])
