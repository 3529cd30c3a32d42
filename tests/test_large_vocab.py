"""Tests of celib.large_vocab: parity with the naive computation (values and gradients, float64),
low precision, the vocab-parallel version on several gloo processes, and bad input."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils._pytree import tree_leaves
from torch.utils._python_dispatch import TorchDispatchMode

from celib import large_vocab
from celib.large_vocab import (
    default_chunk_size,
    linear_cross_entropy,
    run_vocab_parallel,
    vocab_parallel_cross_entropy,
)

F64 = torch.float64


def make_problem(n, d, v, *, seed=0, ignored=(), dtype=F64, bias=False):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator, dtype=dtype)
    w = torch.randn(v, d, generator=generator, dtype=dtype)
    b = torch.randn(v, generator=generator, dtype=dtype) if bias else None
    y = torch.randint(v, (n,), generator=generator)
    y[list(ignored)] = -100
    return x, w, b, y


LEAVES = ("input", "weight", "bias")


def loss_and_grads(fn, x, w, b, y, grad_output=None, needs=LEAVES, **kwargs):
    """Loss of fn and the gradients of those of x, w (and b) named in needs, for the upstream gradient."""
    leaves = [t.clone().requires_grad_(name in needs) for t, name in zip((x, w, b), LEAVES) if t is not None]
    loss = fn(*leaves[:2], y, *leaves[2:], **kwargs)
    wanted = [t for t in leaves if t.requires_grad]
    grads = torch.autograd.grad(loss, wanted, torch.ones_like(loss) if grad_output is None else grad_output)
    return loss.detach(), grads


def naive(x, w, y, b=None, *, chunk_size=None, **kwargs):
    return F.cross_entropy(F.linear(x, w, b), y, **kwargs)


def chunked(x, w, y, b=None, **kwargs):
    return linear_cross_entropy(x, w, y, bias=b, **kwargs)


class LargestStorages(TorchDispatchMode):
    """Records, per dtype, the largest storage among the outputs of every aten operation run inside."""

    def __enter__(self):
        self.bytes = {}
        return super().__enter__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.bytes[t.dtype] = max(self.bytes.get(t.dtype, 0), t.untyped_storage().nbytes())
        return out

    def elements(self) -> int:
        """The largest number of elements of a storage, over all dtypes."""
        return max(nbytes // dtype.itemsize for dtype, nbytes in self.bytes.items())


def assert_parity(x, w, b, y, grad_output=None, needs=LEAVES, **kwargs):
    got, got_grads = loss_and_grads(chunked, x, w, b, y, grad_output, needs, **kwargs)
    want, want_grads = loss_and_grads(naive, x, w, b, y, grad_output, needs, **kwargs)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
    for name, g, h in zip([name for name in LEAVES if name in needs], got_grads, want_grads):
        torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-9, msg=lambda m: f"grad of {name}: {m}")


class TestLinearCrossEntropy:
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("label_smoothing", [0.0, 0.25, 1.0])
    @pytest.mark.parametrize("bias", [False, True])
    def test_matches_naive(self, reduction, label_smoothing, bias):
        x, w, b, y = make_problem(23, 6, 17, ignored=(3, 11), bias=bias)
        grad_output = torch.randn(23, dtype=F64) if reduction == "none" else torch.tensor(1.7, dtype=F64)
        assert_parity(x, w, b, y, grad_output, reduction=reduction, label_smoothing=label_smoothing, chunk_size=5)

    @settings(max_examples=50, deadline=None)
    @given(
        n=st.integers(1, 40),
        v=st.integers(1, 30),
        chunk_size=st.one_of(st.none(), st.integers(1, 50)),
        reduction=st.sampled_from(["mean", "sum", "none"]),
        label_smoothing=st.floats(0.0, 1.0),
        ignore_index=st.sampled_from([-100, 0]),
        needs=st.sampled_from([LEAVES, ("input",), ("weight",), ("bias",)]),
        vocab_pass=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def test_matches_naive_for_any_chunking(self, n, v, chunk_size, reduction, label_smoothing, ignore_index,
                                            needs, vocab_pass, seed):
        x, w, b, y = make_problem(n, 4, v, seed=seed, bias=seed % 2 == 0)
        assume(b is not None or needs != ("bias",))
        y[::3] = ignore_index
        grad_output = torch.rand(n, dtype=F64) if reduction == "none" else torch.tensor(0.7, dtype=F64)
        with pytest.MonkeyPatch.context() as patch:
            if vocab_pass:  # the second pass over vocabulary blocks that bf16/fp16 take, forced: exact in float64
                patch.setattr(large_vocab, "_uses_vocab_pass", lambda dtype: True)
            assert_parity(x, w, b, y, grad_output, needs, reduction=reduction, label_smoothing=label_smoothing,
                          ignore_index=ignore_index, chunk_size=chunk_size)

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_all_targets_ignored(self, reduction):
        x, w, b, y = make_problem(7, 3, 5, ignored=range(7), bias=True)
        assert_parity(x, w, b, y, reduction=reduction, label_smoothing=0.1, chunk_size=3)
        loss, grads = loss_and_grads(chunked, x, w, b, y, reduction=reduction)
        assert (torch.isnan(loss) if reduction == "mean" else loss.eq(0).all())
        assert all(g.eq(0).all() for g in grads)  # like PyTorch: NaN loss, zero gradients

    def test_ignore_index_inside_the_vocabulary(self):
        x, w, b, y = make_problem(12, 4, 6, seed=3)
        y[:4] = 2
        assert_parity(x, w, b, y, ignore_index=2, chunk_size=5, label_smoothing=0.3)

    def test_only_the_tensors_that_require_grad_get_gradients(self):
        x, w, _, y = make_problem(9, 4, 8)
        x.requires_grad_()
        loss = linear_cross_entropy(x, w, y, chunk_size=4)
        (grad_x,) = torch.autograd.grad(loss, [x])
        torch.testing.assert_close(grad_x, torch.autograd.grad(naive(x, w, y), [x])[0])

    def test_no_grad_returns_the_loss_without_a_graph(self):
        x, w, b, y = make_problem(9, 4, 8, bias=True)
        with torch.no_grad():
            loss = linear_cross_entropy(x.requires_grad_(), w, y, bias=b, label_smoothing=0.2)
        assert loss.grad_fn is None
        torch.testing.assert_close(loss, naive(x, w, y, b, label_smoothing=0.2).detach())

    def test_backward_twice_raises(self):
        x, w, _, y = make_problem(5, 3, 4)
        loss = linear_cross_entropy(x, w.requires_grad_(), y)
        loss.backward(retain_graph=True)
        with pytest.raises(RuntimeError, match="second backward"):
            loss.backward()

    def test_gradients_computed_in_forward_become_grad_without_a_copy(self):
        x, w, _, y = make_problem(6, 3, 4)
        x.requires_grad_()
        w.requires_grad_()
        loss = linear_cross_entropy(x, w, y, reduction="sum")
        buffers = [g.data_ptr() for g in loss.grad_fn.grads[:2]]  # ctx of the autograd.Function
        loss.backward()
        assert [x.grad.data_ptr(), w.grad.data_ptr()] == buffers

    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    @pytest.mark.parametrize("reduction", ["mean", "none"])
    @pytest.mark.parametrize(("n", "v", "chunk_size"), [(40, 300, 7), (40, 3, 1), (5, 300, 64)])
    def test_low_precision_is_close_to_float32(self, dtype, reduction, n, v, chunk_size):
        # vocabulary blocks of 52 rows (the last one shorter), of 1 row, and one block for everything
        x, w, b, y = make_problem(n, 16, v, dtype=torch.float32, ignored=(0,), bias=True)
        x = x / 4
        grad_output = torch.rand(n) if reduction == "none" else None
        want, want_grads = loss_and_grads(naive, x, w, b, y, grad_output, reduction=reduction, label_smoothing=0.1)
        low = [t.to(dtype) for t in (x, w, b)]
        got, got_grads = loss_and_grads(chunked, *low[:2], low[2], y,
                                        None if grad_output is None else grad_output.to(dtype),
                                        reduction=reduction, label_smoothing=0.1, chunk_size=chunk_size)
        assert got.dtype == dtype and all(g.dtype == dtype for g in got_grads)
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)
        for g, h in zip(got_grads, want_grads):
            assert (g.float() - h).norm() <= 2e-2 * h.norm()

    @pytest.mark.parametrize("reduction", ["sum", "none"])
    def test_bfloat16_weight_gradient_is_not_summed_in_bfloat16(self, reduction):
        # 1024 tokens in chunks of 4: a bf16 running sum of the weight gradient over 256 chunks loses
        # several bits (the negative control below); celib's block products lose only the final rounding.
        x, w, b, y = make_problem(1024, 16, 40, seed=1, bias=True)
        x = x / 4
        grad_output = torch.rand(1024, dtype=F64) if reduction == "none" else None
        _, truth = loss_and_grads(naive, x, w, b, y, grad_output, reduction=reduction, label_smoothing=0.1)
        low = [t.bfloat16() for t in (x, w, b)]
        low_grad_output = None if grad_output is None else grad_output.bfloat16()
        _, ours = loss_and_grads(chunked, *low[:2], low[2], y, low_grad_output, reduction=reduction,
                                 label_smoothing=0.1, chunk_size=4)
        _, theirs = loss_and_grads(naive, *low[:2], low[2], y, low_grad_output, reduction=reduction,
                                   label_smoothing=0.1)

        def error(g, true):
            return ((g.double() - true).norm() / true.norm()).item()

        for name, g, h, true in zip(("input", "weight", "bias"), ours, theirs, truth):
            assert error(g, true) <= max(1.5 * error(h, true), 4e-3), name
        # Negative control: the exact per-chunk contributions, summed into a bf16 weight gradient.
        z = (x @ w.T + b).requires_grad_()
        loss = F.cross_entropy(z, y, reduction=reduction, label_smoothing=0.1)
        (g_logits,) = torch.autograd.grad(loss, [z], grad_output)
        running = torch.zeros_like(w, dtype=torch.bfloat16)
        for start in range(0, 1024, 4):
            running += (g_logits[start : start + 4].T @ x[start : start + 4]).bfloat16()
        assert error(running, truth[1]) > 3 * max(error(ours[1], truth[1]), error(theirs[1], truth[1]))

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    def test_no_tensor_of_the_logits_size_and_no_float32_weight_gradient_in_bf16(self, dtype):
        n, d, v = 256, 128, 1000
        x, w, _, y = make_problem(n, d, v, dtype=dtype)
        with LargestStorages() as created:
            linear_cross_entropy(x.requires_grad_(), w.requires_grad_(), y).backward()
        rows = default_chunk_size(n, d, dtype)
        assert created.elements() <= max(v * d, rows * v) < n * v  # gradients or one chunk; never (N, V)
        if dtype == torch.bfloat16:  # float32: only the chunk's work buffer, not a (V, D) running sum
            assert created.bytes[torch.float32] == rows * v * 4 < v * d * 4 // 2

    def test_default_chunk_size(self):
        assert default_chunk_size(2048, 1024) == 256
        assert default_chunk_size(2048, 1024, torch.bfloat16) == 80  # 1024 / 12 = 85, down to a multiple of 16
        assert default_chunk_size(2048, 32) == 16  # at least 16 rows
        assert default_chunk_size(5, 4096) == 5  # at most N


class TestBadInput:
    def setup_method(self):
        self.x, self.w, self.b, self.y = make_problem(4, 3, 5, bias=True)

    @pytest.mark.parametrize(
        ("change", "error", "message"),
        [
            ({"input": torch.zeros(2, 4, 3, dtype=F64)}, ValueError,
             r"input must have shape \(N, D\) .*; got shape \(2, 4, 3\)"),
            ({"weight": torch.zeros(5, 4, dtype=F64)}, ValueError,
             r"weight must have shape \(V, D\) .* D = 3 .* got shape \(5, 4\)"),
            ({"weight": torch.zeros(0, 3, dtype=F64)}, ValueError, r"weight must have shape \(V, D\) with V >= 1"),
            ({"weight": torch.zeros(5, 3, dtype=torch.float32)}, TypeError,
             r"weight has dtype torch.float32; it must match input's dtype torch.float64"),
            ({"bias": torch.zeros(4, dtype=F64)}, ValueError,
             r"bias must have shape \(5,\) = \(V,\); got shape \(4,\)"),
            ({"target": torch.zeros(4, dtype=torch.int32)}, TypeError,
             r"target has dtype torch.int32; class-index targets must be torch.long"),
            ({"target": torch.zeros(3, dtype=torch.long)}, ValueError,
             r"target must have shape \(4,\) = \(N,\); got shape \(3,\)"),
            ({"target": torch.tensor([0, 1, 5, 2])}, IndexError,
             r"target must hold class indices in \[0, 5\) or ignore_index=-100; got 5"),
            ({"target": torch.tensor([0, -1, 1, 2])}, IndexError, r"got -1"),
            ({"reduction": "avg"}, ValueError, r"reduction must be one of 'none', 'mean', 'sum'; got 'avg'"),
            ({"label_smoothing": 1.5}, ValueError, r"label_smoothing must be a float in \[0, 1\]; got 1.5"),
            ({"label_smoothing": -0.1}, ValueError, r"label_smoothing"),
            ({"chunk_size": 0}, ValueError, r"chunk_size must be a positive int or None; got 0"),
            ({"chunk_size": 2.5}, ValueError, r"chunk_size must be a positive int or None; got 2.5"),
            ({"ignore_index": 1.0}, TypeError, r"ignore_index must be an int; got float"),
        ],
    )
    def test_linear_cross_entropy_names_the_argument(self, change, error, message):
        args = {"input": self.x, "weight": self.w, "target": self.y, "bias": self.b, **change}
        with pytest.raises(error, match=message):
            linear_cross_entropy(args.pop("input"), args.pop("weight"), args.pop("target"), **args)

    def test_empty_input(self):
        with pytest.raises(ValueError, match=r"N >= 1 tokens; got shape \(0, 3\)"):
            linear_cross_entropy(self.x[:0], self.w, self.y[:0])

    def test_vocab_parallel_checks_arguments_before_communicating(self):
        with pytest.raises(ValueError, match=r"weight_shard must have shape \(V, D\)"):
            vocab_parallel_cross_entropy(self.x, self.w[:, :2], self.y, vocab_start=0)
        with pytest.raises(ValueError, match=r"vocab_start must be >= 0 .*; got -2"):
            vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=-2)
        with pytest.raises(TypeError, match="vocab_start must be an int; got float"):
            vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=1.0)
        if not dist.is_initialized():
            with pytest.raises(RuntimeError, match="init_process_group"):
                vocab_parallel_cross_entropy(self.x, self.w, self.y, vocab_start=0)

    def test_run_vocab_parallel_checks_the_shards(self):
        with pytest.raises(ValueError, match=r"shard_sizes must add up to V = 5 \(weight's rows\); got sum 4"):
            run_vocab_parallel(self.x, self.w, self.y, [2, 2])
        with pytest.raises(ValueError, match="positive ints; got"):
            run_vocab_parallel(self.x, self.w, self.y, [5, 0])
        with pytest.raises(TypeError, match=r"unexpected option\(s\) \['smoothing'\]"):
            run_vocab_parallel(self.x, self.w, self.y, [5], smoothing=0.1)


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo group of one process (this one), torn down after the test."""
    dist.init_process_group("gloo", store=dist.FileStore(os.fspath(tmp_path / "store"), 1), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


class TestVocabParallel:
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_one_rank_matches_naive(self, one_rank_group, reduction):
        x, w, _, y = make_problem(10, 4, 7, ignored=(1,))
        grad_output = torch.randn(10, dtype=F64) if reduction == "none" else torch.tensor(0.5, dtype=F64)
        vp = lambda x, w, y, **kw: vocab_parallel_cross_entropy(x, w, y, vocab_start=0, **kw)  # noqa: E731
        got, got_grads = loss_and_grads(vp, x, w, None, y, grad_output, reduction=reduction, label_smoothing=0.2)
        want, want_grads = loss_and_grads(naive, x, w, None, y, grad_output, reduction=reduction, label_smoothing=0.2)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
        for g, h in zip(got_grads, want_grads):
            torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-9)

    def test_one_rank_in_bfloat16_is_close_to_float32(self, one_rank_group):
        x, w, _, y = make_problem(12, 8, 50, dtype=torch.float32, ignored=(4,))
        x = x / 3
        vp = lambda x, w, y, **kw: vocab_parallel_cross_entropy(x, w, y, vocab_start=0, **kw)  # noqa: E731
        got, got_grads = loss_and_grads(vp, x.bfloat16(), w.bfloat16(), None, y, label_smoothing=0.1)
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
        with pytest.raises(IndexError, match=r"\[0, 5\) or ignore_index=-100; got 7"):
            vocab_parallel_cross_entropy(x, w, torch.tensor([0, 7, 1, 1]), vocab_start=0)

    @pytest.mark.parametrize(
        ("reduction", "label_smoothing"), [("mean", 0.3), ("none", 0.0)], ids=["mean-smoothed", "none"]
    )
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
