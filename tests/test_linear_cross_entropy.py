"""Tests of celib.linear_cross_entropy: parity with the naive computation (values and gradients,
float64) on the compiled and the eager path, both ways of getting the weight gradient, float32 main
gradients, low precision, memory, the fallback from a failing compiler, and bad input."""

import dataclasses
import functools
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import celib.tracing as tracing
from celib import _fused
from celib import linear_cross_entropy as lce
from celib.linear_cross_entropy import default_chunk_size, linear_cross_entropy
from tests.strategies import F64, LEAVES, loss_and_grads, naive
from tests.strategies import linear_problem as make_problem


def chunked(x, w, y, b=None, **kwargs):
    return linear_cross_entropy(x, w, y, bias=b, **kwargs)


def chunked_with_vocab_pass(
    x,
    w,
    y,
    b=None,
    *,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    chunk_size=None,
    lse_square_scale=0.0,
    softcap=None,
    compiled=True,
):
    """linear_cross_entropy with the second pass over vocabulary blocks that bf16/fp16 take: exact in float64."""
    tensors, config = lce._prepare(
        x, w, y, b, ignore_index, reduction, label_smoothing, chunk_size, lse_square_scale, softcap, compiled
    )
    loss, _ = lce._apply(tensors, dataclasses.replace(config, vocab_pass=True))
    return loss


#: The two paths of the chunk work: celib._fused's compiled kernels (the default) and the eager code.
PATHS = ("compiled", "eager")


@pytest.fixture(params=PATHS)
def path(request):
    """Each test that takes it runs on both paths; the compiled one must not have fallen back."""
    yield request.param
    assert _fused.available(), "the compiled path fell back to the eager code"


def on_path(fn, path):
    """``fn`` (``chunked`` or ``chunked_with_vocab_pass``) on the compiled or the eager path."""
    return functools.partial(fn, compiled=path == "compiled")


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


def assert_parity(x, w, b, y, grad_output=None, needs=LEAVES, fn=chunked, oracle=None, **kwargs):
    """Loss and gradients of ``fn`` equal the oracle's (default: ``naive``); return the oracle's."""
    got, got_grads = loss_and_grads(fn, x, w, b, y, grad_output, needs, **kwargs)
    want, want_grads = loss_and_grads(oracle or naive, x, w, b, y, grad_output, needs, **kwargs)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
    for name, g, h in zip([name for name in LEAVES if name in needs], got_grads, want_grads):
        torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-9, msg=lambda m, name=name: f"grad of {name}: {m}")
    return want, want_grads


def naive_with_options(
    x, w, y, b=None, *, lse_square_scale=0.0, softcap=None, reduction="mean", ignore_index=-100, **kwargs
):
    """The oracle of the z-loss and the soft cap: the whole logits, capped, then PyTorch's cross entropy plus
    lse_square_scale * logsumexp^2 for each token that is not ignored, reduced like the cross entropy."""
    kwargs.pop("chunk_size", None)
    z = F.linear(x, w, b)
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    per_token = F.cross_entropy(z, y, reduction="none", ignore_index=ignore_index, **kwargs)
    valid = y != ignore_index
    per_token = per_token + torch.where(valid, lse_square_scale * torch.logsumexp(z, 1).square(), 0)
    if reduction == "none":
        return per_token
    return per_token.sum() if reduction == "sum" else per_token.sum() / valid.sum()


def assert_parity_with_options(x, w, b, y, grad_output=None, needs=LEAVES, fn=chunked, **kwargs):
    """assert_parity against naive_with_options (the z-loss and soft-cap oracle)."""
    return assert_parity(x, w, b, y, grad_output, needs, fn, oracle=naive_with_options, **kwargs)


#: The new options alone and together: a strong z-loss and a cap below the logits' spread.
OPTIONS = {
    "z-loss": {"lse_square_scale": 0.1},
    "softcap": {"softcap": 1.5},
    "both": {"lse_square_scale": 0.1, "softcap": 1.5},
}


class TestLinearCrossEntropy:
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("label_smoothing", [0.0, 0.25, 1.0])
    @pytest.mark.parametrize("bias", [False, True])
    def test_matches_naive(self, reduction, label_smoothing, bias, path):
        x, w, b, y = make_problem(23, 6, 17, ignored=(3, 11), bias=bias)
        grad_output = torch.randn(23, dtype=F64) if reduction == "none" else torch.tensor(1.7, dtype=F64)
        fn = on_path(chunked, path)
        assert_parity(
            x, w, b, y, grad_output, fn=fn, reduction=reduction, label_smoothing=label_smoothing, chunk_size=5
        )

    @settings(max_examples=50)
    @given(
        n=st.integers(1, 40),
        v=st.integers(1, 30),
        chunk_size=st.one_of(st.none(), st.integers(1, 50)),
        reduction=st.sampled_from(["mean", "sum", "none"]),
        label_smoothing=st.floats(0.0, 1.0),
        ignore_index=st.sampled_from([-100, 0]),
        needs=st.sampled_from([LEAVES, ("input",), ("weight",), ("bias",)]),
        vocab_pass=st.booleans(),
        path=st.sampled_from(PATHS),
        seed=st.integers(0, 2**16),
    )
    def test_matches_naive_for_any_chunking(
        self, n, v, chunk_size, reduction, label_smoothing, ignore_index, needs, vocab_pass, path, seed
    ):
        x, w, b, y = make_problem(n, 4, v, seed=seed, bias=seed % 2 == 0)
        assume(b is not None or needs != ("bias",))
        y[::3] = ignore_index
        grad_output = torch.rand(n, dtype=F64) if reduction == "none" else torch.tensor(0.7, dtype=F64)
        fn = on_path(chunked_with_vocab_pass if vocab_pass else chunked, path)
        assert_parity(
            x,
            w,
            b,
            y,
            grad_output,
            needs,
            fn=fn,
            reduction=reduction,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
            chunk_size=chunk_size,
        )

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_all_targets_ignored(self, reduction, path):
        x, w, b, y = make_problem(7, 3, 5, ignored=range(7), bias=True)
        fn = on_path(chunked, path)
        assert_parity(x, w, b, y, fn=fn, reduction=reduction, label_smoothing=0.1, chunk_size=3)
        loss, grads = loss_and_grads(fn, x, w, b, y, reduction=reduction)
        assert torch.isnan(loss) if reduction == "mean" else loss.eq(0).all()
        assert all(g.eq(0).all() for g in grads)  # like PyTorch: NaN loss, zero gradients

    def test_ignore_index_inside_the_vocabulary(self, path):
        x, w, b, y = make_problem(12, 4, 6, seed=3)
        y[:4] = 2
        assert_parity(x, w, b, y, fn=on_path(chunked, path), ignore_index=2, chunk_size=5, label_smoothing=0.3)

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

    def test_op_recorder_counts_matrix_flops_like_torchs_flop_counter(self):
        from torch.utils.flop_counter import FlopCounterMode

        x, w, b, y = make_problem(6, 3, 5, bias=True)
        batched = torch.randn(2, 6, 3, dtype=F64)

        def step():
            loss = naive(x, w, y, b) + torch.bmm(batched, w.T.expand(2, 3, 5)).square().mean()
            loss.backward()

        for t in (x, w, b):
            t.requires_grad_()
        with FlopCounterMode(display=False) as counter:
            step()
        with tracing.OpRecorder() as recorder:
            step()
        assert {"addmm", "mm", "bmm"} <= set(recorder.ops)
        assert recorder.matmul_flops == counter.get_total_flops() > 0

    def test_gradients_computed_in_forward_become_grad_without_a_copy(self):
        x, w, _, y = make_problem(6, 3, 4)
        x.requires_grad_()
        w.requires_grad_()
        loss = linear_cross_entropy(x, w, y, reduction="sum")
        upstream = torch.tensor(2.0, dtype=F64)
        with tracing.OpRecorder() as recorder:
            loss.backward(upstream)
        # The backward scales the forward's gradients in place, and autograd keeps them as .grad:
        # no operator makes a new tensor (a copy would show as clone, mul, copy_...).
        assert recorder.ops and all(op.endswith("_") or op == "detach" for op in recorder.ops), recorder.ops
        torch.testing.assert_close(x.grad, 2 * torch.autograd.grad(naive(x, w, y, reduction="sum"), x)[0])

    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    @pytest.mark.parametrize("reduction", ["mean", "none"])
    @pytest.mark.parametrize(("n", "v", "chunk_size"), [(40, 300, 7), (40, 3, 1), (5, 300, 64)])
    def test_low_precision_is_close_to_float32(self, dtype, reduction, n, v, chunk_size, path):
        # vocabulary blocks of 52 rows (the last one shorter), of 1 row, and one block for everything
        x, w, b, y = make_problem(n, 16, v, dtype=torch.float32, ignored=(0,), bias=True)
        x = x / 4
        grad_output = torch.rand(n) if reduction == "none" else None
        want, want_grads = loss_and_grads(naive, x, w, b, y, grad_output, reduction=reduction, label_smoothing=0.1)
        low = [t.to(dtype) for t in (x, w, b)]
        got, got_grads = loss_and_grads(
            on_path(chunked, path),
            *low[:2],
            low[2],
            y,
            None if grad_output is None else grad_output.to(dtype),
            reduction=reduction,
            label_smoothing=0.1,
            chunk_size=chunk_size,
        )
        assert got.dtype == dtype and all(g.dtype == dtype for g in got_grads)
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)
        for g, h in zip(got_grads, want_grads):
            assert (g.float() - h).norm() <= 2e-2 * h.norm()

    @pytest.mark.parametrize("reduction", ["sum", "none"])
    def test_bfloat16_weight_gradient_is_not_summed_in_bfloat16(self, reduction, path):
        # 1024 tokens in chunks of 4: a bf16 running sum of the weight gradient over 256 chunks loses
        # several bits (the negative control below); celib's block products lose only the final rounding.
        x, w, b, y = make_problem(1024, 16, 40, seed=1, bias=True)
        x = x / 4
        grad_output = torch.rand(1024, dtype=F64) if reduction == "none" else None
        _, truth = loss_and_grads(naive, x, w, b, y, grad_output, reduction=reduction, label_smoothing=0.1)
        low = [t.bfloat16() for t in (x, w, b)]
        low_grad_output = None if grad_output is None else grad_output.bfloat16()
        _, ours = loss_and_grads(
            on_path(chunked, path),
            *low[:2],
            low[2],
            y,
            low_grad_output,
            reduction=reduction,
            label_smoothing=0.1,
            chunk_size=4,
        )
        _, theirs = loss_and_grads(
            naive, *low[:2], low[2], y, low_grad_output, reduction=reduction, label_smoothing=0.1
        )

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
        rows = default_chunk_size(n, d, dtype, compiled=False)  # a dispatch mode selects the eager path
        assert created.elements() <= max(v * d, rows * v) < n * v  # gradients or one chunk; never (N, V)
        if dtype == torch.bfloat16:  # float32: only the chunk's work buffer, not a (V, D) running sum
            assert created.bytes[torch.float32] == rows * v * 4 < v * d * 4 // 2

    def test_default_chunk_size(self):
        assert default_chunk_size(2048, 1024) == 256
        assert default_chunk_size(2048, 1024, torch.bfloat16) == 256  # compiled: one bf16 buffer, D / 4
        # eager: 1024 / 12 = 85, down to a multiple of 16
        assert default_chunk_size(2048, 1024, torch.bfloat16, compiled=False) == 80
        assert default_chunk_size(2048, 32) == 16  # at least 16 rows
        assert default_chunk_size(5, 4096) == 5  # at most N


class TestZLossAndSoftcap:
    @pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
    @pytest.mark.parametrize("chunk_size", [1, 5, None])
    @pytest.mark.parametrize("vocab_pass", [False, True])
    def test_matches_naive(self, options, reduction, label_smoothing, chunk_size, vocab_pass, path):
        x, w, b, y = make_problem(23, 6, 17, ignored=(3, 11), bias=True)
        # 'none': the upstream gradient weights every token differently (the per-token weights)
        grad_output = torch.rand(23, dtype=F64) + 0.5 if reduction == "none" else torch.tensor(1.7, dtype=F64)
        kwargs = {"reduction": reduction, "label_smoothing": label_smoothing, "chunk_size": chunk_size}
        fn = on_path(chunked_with_vocab_pass if vocab_pass else chunked, path)
        want, want_grads = assert_parity_with_options(x, w, b, y, grad_output, fn=fn, **kwargs, **options)
        plain, plain_grads = loss_and_grads(naive, x, w, b, y, grad_output, **kwargs)
        assert not torch.allclose(want, plain)  # the options change the loss and every gradient
        assert not any(torch.allclose(g, h) for g, h in zip(want_grads, plain_grads))

    @pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
    def test_ignore_index_inside_the_vocabulary(self, options, path):
        x, w, b, y = make_problem(12, 4, 6, seed=3, bias=True)
        y[:4] = 2
        fn = on_path(chunked, path)
        assert_parity_with_options(x, w, b, y, fn=fn, ignore_index=2, chunk_size=5, label_smoothing=0.3, **options)

    @settings(max_examples=50)
    @given(
        n=st.integers(1, 40),
        v=st.integers(1, 30),
        chunk_size=st.one_of(st.none(), st.integers(1, 50)),
        reduction=st.sampled_from(["mean", "sum", "none"]),
        label_smoothing=st.floats(0.0, 1.0),
        lse_square_scale=st.floats(0.0, 1.0),
        softcap=st.one_of(st.none(), st.floats(0.1, 100.0)),
        ignore_index=st.sampled_from([-100, 0]),
        needs=st.sampled_from([LEAVES, ("input",), ("weight",), ("bias",)]),
        vocab_pass=st.booleans(),
        path=st.sampled_from(PATHS),
        seed=st.integers(0, 2**16),
    )
    def test_matches_naive_for_any_chunking(
        self,
        n,
        v,
        chunk_size,
        reduction,
        label_smoothing,
        lse_square_scale,
        softcap,
        ignore_index,
        needs,
        vocab_pass,
        path,
        seed,
    ):
        x, w, b, y = make_problem(n, 4, v, seed=seed, bias=seed % 2 == 0)
        assume(b is not None or needs != ("bias",))
        y[::3] = ignore_index
        grad_output = torch.rand(n, dtype=F64) if reduction == "none" else torch.tensor(0.7, dtype=F64)
        assert_parity_with_options(
            x,
            w,
            b,
            y,
            grad_output,
            needs,
            fn=on_path(chunked_with_vocab_pass if vocab_pass else chunked, path),
            reduction=reduction,
            label_smoothing=label_smoothing,
            lse_square_scale=lse_square_scale,
            softcap=softcap,
            ignore_index=ignore_index,
            chunk_size=chunk_size,
        )

    def test_the_cap_bounds_the_logits_the_loss_sees(self):
        # Logits of size 100 against a cap of 5: every capped logit lies in (-5, 5), so the loss of a token
        # is at most ln V + 10 (a target at -5, the others at 5) and the gradients stay finite.
        x, w, b, y = make_problem(16, 4, 50, bias=True)
        x = 25 * x
        assert F.linear(x, w, b).abs().max() > 100
        losses, grads = loss_and_grads(chunked, x, w, b, y, reduction="none", softcap=5.0, chunk_size=3)
        assert losses.max() < torch.log(torch.tensor(50.0)) + 10
        assert all(g.isfinite().all() for g in grads)
        assert_parity_with_options(x, w, b, y, reduction="none", softcap=5.0, chunk_size=3)

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("grad_mode", [True, False])
    def test_z_loss_is_returned_alone_and_without_a_gradient(self, reduction, grad_mode):
        x, w, b, y = make_problem(9, 4, 8, ignored=(2,), bias=True)
        x.requires_grad_(grad_mode)
        options = {"reduction": reduction, "chunk_size": 4, "softcap": 3.0, "label_smoothing": 0.1}
        out = linear_cross_entropy(x, w, y, bias=b, lse_square_scale=0.01, return_z_loss=True, **options)
        assert isinstance(out, lce.LinearCrossEntropyOutput)
        loss, z_loss = out
        z_free = naive_with_options(x.detach(), w, y, b, **options)
        with_z = naive_with_options(x.detach(), w, y, b, lse_square_scale=0.01, **options)
        torch.testing.assert_close(z_loss, with_z - z_free, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(loss.detach(), with_z, rtol=1e-9, atol=1e-12)
        if reduction == "none":
            assert z_loss[2] == 0 and (z_loss[:2] > 0).all()  # an ignored token has no z-loss
        # without return_z_loss, the same loss alone
        alone = linear_cross_entropy(x, w, y, bias=b, lse_square_scale=0.01, **options)
        assert isinstance(alone, torch.Tensor)
        torch.testing.assert_close(alone, loss, rtol=0, atol=0)
        assert not z_loss.requires_grad and loss.requires_grad == grad_mode
        with pytest.raises(RuntimeError, match="does not require grad"):
            z_loss.sum().backward()  # for logging: its gradient is already in the loss's
        if grad_mode:  # the loss still backpropagates, z-loss's gradient included
            (grad_x,) = torch.autograd.grad(loss, x, torch.ones_like(loss))
            want = naive_with_options(x, w, y, b, lse_square_scale=0.01, **options)
            (want_x,) = torch.autograd.grad(want, x, torch.ones_like(want))
            torch.testing.assert_close(grad_x, want_x, rtol=1e-9, atol=1e-9)

    def test_z_loss_without_a_coefficient_is_zero(self):
        x, w, _, y = make_problem(5, 3, 4)
        loss, z_loss = linear_cross_entropy(x, w, y, return_z_loss=True)
        assert z_loss == 0
        torch.testing.assert_close(loss, linear_cross_entropy(x, w, y), rtol=0, atol=0)
        torch.testing.assert_close(loss, naive(x, w, y), rtol=1e-9, atol=1e-9)

    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    @pytest.mark.parametrize("reduction", ["mean", "none"])
    @pytest.mark.parametrize(("n", "v", "chunk_size"), [(40, 300, 7), (40, 3, 1), (5, 300, 64)])
    def test_low_precision_keeps_the_naive_accuracy(self, dtype, reduction, n, v, chunk_size, path):
        # Against the float64 truth, bf16/fp16 celib is as accurate as the naive computation in the same
        # dtype (logits, tanh and cross entropy in bf16/fp16), and close to it in absolute terms.
        x, w, b, y = make_problem(n, 16, v, ignored=(0,), bias=True)
        x = x / 2  # logits of about 2 standard deviations: the cap of 3 bends them
        options = {"reduction": reduction, "label_smoothing": 0.1, "lse_square_scale": 1e-2, "softcap": 3.0}
        grad_output = torch.rand(n, dtype=F64) if reduction == "none" else None
        truth, true_grads = loss_and_grads(naive_with_options, x, w, b, y, grad_output, **options)
        low = [t.to(dtype) for t in (x, w, b)]
        low_grad_output = None if grad_output is None else grad_output.to(dtype)
        ours, our_grads = loss_and_grads(
            on_path(chunked, path), *low[:2], low[2], y, low_grad_output, chunk_size=chunk_size, **options
        )
        theirs, their_grads = loss_and_grads(naive_with_options, *low[:2], low[2], y, low_grad_output, **options)
        assert ours.dtype == dtype and all(g.dtype == dtype for g in our_grads)

        def error(g, true):
            return ((g.double() - true).norm() / true.norm()).item()

        assert error(ours, truth) <= max(1.5 * error(theirs, truth), 4e-3), "loss"
        for name, g, h, true in zip(LEAVES, our_grads, their_grads, true_grads):
            assert error(g, true) <= max(1.5 * error(h, true), 4e-3), name
            assert error(g, true) <= 2e-2, name

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    def test_no_tensor_of_the_logits_size_and_one_more_chunk_buffer(self, dtype):
        n, d, v = 1024, 512, 1000  # D large enough that the chunk is not held at 16 rows
        x, w, _, y = make_problem(n, d, v, dtype=dtype)
        with ChunkBuffers() as created:
            linear_cross_entropy(
                x.requires_grad_(), w.requires_grad_(), y, softcap=30.0, lse_square_scale=1e-4
            ).backward()
        rows = default_chunk_size(n, d, dtype, softcap=True, compiled=False)  # the eager path (dispatch mode)
        assert rows < default_chunk_size(n, d, dtype, compiled=False)  # the cap's buffer is counted
        assert created.largest <= max(n * d, v * d, rows * v) < n * v  # gradients or one chunk; never (N, V)
        # in the computing dtype (float32 for both): the work buffer and the tanh buffer, each one chunk
        assert created.count(torch.float32, rows * v) == 2

    def test_default_chunk_size_counts_the_tanh_buffer(self):
        assert default_chunk_size(2048, 1024, softcap=True, compiled=False) == 128  # 8 bytes per logit, not 4
        assert default_chunk_size(2048, 1024, torch.bfloat16, softcap=True, compiled=False) == 48  # 1024 / 20 -> 48
        assert default_chunk_size(2048, 1024, torch.bfloat16, softcap=True) == 256  # compiled: tanh recomputed


class KernelCalls:
    """Records the names of the celib._fused kernels that linear_cross_entropy runs."""

    def __init__(self, monkeypatch):
        self.names = set()
        run = _fused.run

        def recording_run(kernel, *args):
            self.names.add(kernel.__name__)
            return run(kernel, *args)

        monkeypatch.setattr(_fused, "run", recording_run)


@pytest.fixture
def fresh_compiler_state(monkeypatch):
    """No kernel compiled yet and no failure recorded, restored afterwards."""
    monkeypatch.setattr(_fused, "_compiled", {})
    monkeypatch.setattr(_fused, "_failure", [])


def no_working_compiler():
    """Inductor configured with a C++ compiler that does not exist, and no cache to hide it."""
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    return inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False}), functorch_config.patch(
        enable_autograd_cache=False
    )


class TestCompiledPath:
    @pytest.mark.parametrize(
        ("dtype", "grad", "kernels"),
        [
            (F64, True, {"chunk_gradient"}),
            (torch.bfloat16, True, {"chunk_gradient", "vocab_block"}),
            (F64, False, {"chunk_losses"}),
        ],
    )
    def test_the_default_runs_the_compiled_kernels(self, monkeypatch, dtype, grad, kernels):
        x, w, _, y = make_problem(20, 8, 30, dtype=dtype)
        calls = KernelCalls(monkeypatch)
        linear_cross_entropy(x.requires_grad_(grad), w.requires_grad_(grad), y, chunk_size=8)
        assert calls.names == kernels and _fused.available()

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    @pytest.mark.parametrize("options", [{}, {"softcap": 30.0}, {"softcap": 30.0, "lse_square_scale": 1e-4}])
    def test_the_chunk_is_the_only_chunk_sized_buffer(self, dtype, options):
        # Inductor stores a tanh that several loops read as a float32 buffer of its own; the kernels
        # recompute the capped logits at each use instead. The profiler sees compiled kernels' buffers.
        n, d, v = 1024, 512, 1000
        x, w, _, y = make_problem(n, d, v, dtype=dtype)
        x.requires_grad_(), w.requires_grad_()

        def step():
            linear_cross_entropy(x, w, y, **options).backward()

        step()  # compiles
        sizes = tracing.cpu_allocations(step)
        rows = default_chunk_size(n, d, dtype, softcap="softcap" in options)
        assert sizes.count(rows * v * dtype.itemsize) == 1  # the one buffer every chunk reuses
        assert sizes.count(rows * v * 4) == (1 if dtype == torch.float32 else 0)  # no float32 chunk

    def test_compiled_false_compiles_nothing(self, monkeypatch):
        x, w, _, y = make_problem(20, 8, 30)
        calls = KernelCalls(monkeypatch)
        linear_cross_entropy(x.requires_grad_(), w, y, chunk_size=8, compiled=False).backward()
        assert calls.names == set()

    def test_a_dispatch_mode_sees_the_eager_path(self, monkeypatch):
        # OpRecorder and FlopCounterMode count operators: under them the chunk work runs eagerly.
        x, w, _, y = make_problem(20, 8, 30)
        calls = KernelCalls(monkeypatch)
        with tracing.OpRecorder() as recorder:
            linear_cross_entropy(x.requires_grad_(), w, y, chunk_size=8)
        assert calls.names == set() and "exp_" in recorder.ops

    @pytest.mark.usefixtures("fresh_compiler_state")
    def test_a_missing_compiler_falls_back_to_eager_with_one_warning(self):
        x, w, b, y = make_problem(20, 8, 30, ignored=(2,), bias=True)
        want, want_grads = loss_and_grads(naive, x, w, b, y, label_smoothing=0.2)
        inductor, functorch = no_working_compiler()
        with inductor, functorch, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got, got_grads = loss_and_grads(chunked, x, w, b, y, label_smoothing=0.2, chunk_size=8)
            again, _ = loss_and_grads(chunked, x, w, b, y, label_smoothing=0.2, chunk_size=8)
        ours = [str(c.message) for c in caught if "celib" in str(c.message)]
        assert len(ours) == 1 and "No working C++ compiler" in ours[0] and "Falling back to the eager" in ours[0]
        assert not _fused.available()
        for g, h in zip((got, again, *got_grads), (want, want, *want_grads)):
            torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-9)

    @pytest.mark.usefixtures("fresh_compiler_state")
    def test_a_failure_after_main_grad_was_added_to_raises(self, monkeypatch):
        # A recompile (here: the second chunk) that fails once main_grad holds the first chunk's share
        # must not rerun the call eagerly, which would add that share twice.
        x, w, _, y = make_problem(20, 8, 30)
        calls = []

        def failing_second_call(kernel, *args):
            calls.append(kernel.__name__)
            if len(calls) == 2:
                raise _fused.CompileFailed("chunk_gradient failed: simulated")
            return kernel(*args)

        monkeypatch.setattr(_fused, "run", failing_second_call)
        main_grad = torch.zeros_like(w)
        with pytest.raises(RuntimeError, match="main_grad is now wrong"), pytest.warns(RuntimeWarning):
            linear_cross_entropy(x, w.requires_grad_(), y, chunk_size=8, main_grad=main_grad)


class TestMainGrad:
    @pytest.mark.parametrize("options", [{}, *OPTIONS.values()], ids=["plain", *OPTIONS.keys()])
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_adds_the_weight_gradient_and_leaves_grad_empty(self, options, reduction, path):
        x, w, b, y = make_problem(23, 6, 17, ignored=(3,), bias=True)
        kwargs = {"reduction": reduction, "label_smoothing": 0.2, "chunk_size": 5, **options}
        grad_output = torch.rand(23, dtype=F64) if reduction == "none" else None
        want, (want_x, want_w, want_b) = loss_and_grads(naive_with_options, x, w, b, y, grad_output, **kwargs)
        before = torch.randn_like(w)  # what earlier micro-batches accumulated
        main_grad = before.clone()
        leaves = [t.clone().requires_grad_() for t in (x, w, b)]
        loss = linear_cross_entropy(
            *leaves[:2], y, bias=leaves[2], main_grad=main_grad, compiled=path == "compiled", **kwargs
        )
        loss.backward(None if grad_output is None else grad_output)
        assert leaves[1].grad is None
        torch.testing.assert_close(main_grad, before + want_w, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(loss.detach(), want, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(leaves[0].grad, want_x, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(leaves[2].grad, want_b, rtol=1e-9, atol=1e-9)

    @pytest.mark.parametrize("reduction", ["mean", "none"])
    def test_bfloat16_with_float32_main_grad_keeps_the_naive_accuracy(self, reduction, path):
        x, w, b, y = make_problem(300, 16, 40, seed=2, bias=True)
        x = x / 4
        grad_output = torch.rand(300, dtype=F64) if reduction == "none" else None
        _, (_, true_w, _) = loss_and_grads(naive, x, w, b, y, grad_output, reduction=reduction)
        low = [t.bfloat16() for t in (x, w, b)]
        low_grad_output = None if grad_output is None else grad_output.bfloat16()
        _, (_, theirs, _) = loss_and_grads(naive, *low[:2], low[2], y, low_grad_output, reduction=reduction)
        main_grad = torch.zeros_like(w, dtype=torch.float32)
        leaves = [t.clone().requires_grad_() for t in low]
        loss = linear_cross_entropy(
            *leaves[:2],
            y,
            bias=leaves[2],
            reduction=reduction,
            chunk_size=4,
            main_grad=main_grad,
            compiled=path == "compiled",
        )
        loss.backward(low_grad_output)

        def error(g):
            return ((g.double() - true_w).norm() / true_w.norm()).item()

        # 75 chunks added into float32: no worse than naive's one bf16 rounding of the whole gradient
        assert error(main_grad) <= max(1.5 * error(theirs), 4e-3)

    def test_three_matrix_products_instead_of_four_in_bfloat16(self):
        from torch.utils.flop_counter import FlopCounterMode

        n, d, v = 64, 16, 200
        x, w, _, y = make_problem(n, d, v, dtype=torch.bfloat16)
        x.requires_grad_()
        w.requires_grad_()
        flops = {}
        for name, main_grad in (("weight.grad", None), ("main_grad", torch.zeros(v, d))):
            with FlopCounterMode(display=False) as counter:
                linear_cross_entropy(x, w, y, chunk_size=16, main_grad=main_grad).backward()
            flops[name] = counter.get_total_flops()
        assert flops == {"weight.grad": 4 * 2 * n * d * v, "main_grad": 3 * 2 * n * d * v}

    def test_a_scaled_loss_raises(self):
        x, w, _, y = make_problem(8, 4, 6)
        loss = linear_cross_entropy(x, w.requires_grad_(), y, main_grad=torch.zeros_like(w))
        with pytest.raises(ValueError, match="the upstream gradient must be 1; got 0.5"):
            (loss / 2).backward()

    def test_nothing_is_added_without_a_weight_gradient(self):
        x, w, _, y = make_problem(8, 4, 6)
        main_grad = torch.zeros_like(w)
        linear_cross_entropy(x.requires_grad_(), w, y, main_grad=main_grad).backward()  # w needs no grad
        with torch.no_grad():
            linear_cross_entropy(x, w.requires_grad_(), y, main_grad=main_grad)
        assert main_grad.eq(0).all()


class ChunkBuffers(TorchDispatchMode):
    """Records the distinct storages (by address, dtype and size) that aten operations return inside."""

    def __enter__(self):
        self.storages = set()
        return super().__enter__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                self.storages.add((storage.data_ptr(), t.dtype, storage.nbytes() // t.dtype.itemsize))
        return out

    @property
    def largest(self) -> int:
        return max(size for _, _, size in self.storages)

    def count(self, dtype, size) -> int:
        return sum(1 for _, d, s in self.storages if d == dtype and s == size)


class TestBadInput:
    def setup_method(self):
        self.x, self.w, self.b, self.y = make_problem(4, 3, 5, bias=True)

    @pytest.mark.parametrize(
        ("change", "error", "message"),
        [
            (
                {"input": torch.zeros(2, 4, 3, dtype=F64)},
                ValueError,
                r"^input has shape \(2, 4, 3\); expected \(N, D\) with N >= 1 tokens",
            ),
            (
                {"input": torch.zeros(4, 3, dtype=torch.long)},
                TypeError,
                r"^input has dtype torch.int64; hidden states must be floating point$",
            ),
            ({"input": [[0.0] * 3] * 4}, TypeError, r"^input must be a torch.Tensor; got list$"),
            (
                {"weight": torch.zeros(5, 4, dtype=F64)},
                ValueError,
                r"^weight has shape \(5, 4\); expected \(V, D\) with V >= 1 and D = 3, the width of input$",
            ),
            (
                {"weight": torch.zeros(0, 3, dtype=F64)},
                ValueError,
                r"^weight has shape \(0, 3\); expected \(V, D\) with V >= 1",
            ),
            (
                {"weight": torch.zeros(5, 3, dtype=torch.float32)},
                TypeError,
                r"^weight has dtype torch.float32; it must match input's dtype torch.float64$",
            ),
            ({"bias": torch.zeros(4, dtype=F64)}, ValueError, r"^bias has shape \(4,\); expected \(V,\) = \(5,\)$"),
            (
                {"target": torch.zeros(4, dtype=torch.int32)},
                TypeError,
                r"^target has dtype torch.int32; class-index targets must be torch.long or torch.uint8$",
            ),
            (
                {"target": torch.zeros(3, dtype=torch.long)},
                ValueError,
                r"^target has shape \(3,\); expected class indices of shape \(4,\) for input of shape \(4, 3\)$",
            ),
            (
                {"target": torch.tensor([0, 1, 5, 2])},
                IndexError,
                r"^target must hold class indices in \[0, 5\) or ignore_index=-100; got 5$",
            ),
            ({"target": torch.tensor([0, -1, 1, 2])}, IndexError, r"got -1$"),
            ({"reduction": "avg"}, ValueError, r"^reduction must be one of 'none', 'mean', 'sum'; got 'avg'$"),
            ({"label_smoothing": 1.5}, ValueError, r"^label_smoothing must be a real number in \[0, 1\]; got 1.5$"),
            ({"label_smoothing": -0.1}, ValueError, r"^label_smoothing"),
            ({"chunk_size": 0}, ValueError, r"^chunk_size must be an int >= 1 or None; got 0$"),
            ({"chunk_size": 2.5}, TypeError, r"^chunk_size must be an int >= 1 or None; got 2.5 \(float\)$"),
            ({"ignore_index": 1.0}, TypeError, r"^ignore_index must be an int; got 1.0 \(float\)$"),
            (
                {"lse_square_scale": -0.1},
                ValueError,
                r"^lse_square_scale must be a finite real number >= 0; got -0.1$",
            ),
            ({"lse_square_scale": float("inf")}, ValueError, r"^lse_square_scale must be .*; got inf$"),
            ({"lse_square_scale": float("nan")}, ValueError, r"^lse_square_scale must be .*; got nan$"),
            (
                {"lse_square_scale": "1e-4"},
                TypeError,
                r"^lse_square_scale must be a finite real number >= 0; got '1e-4' \(str\)$",
            ),
            ({"softcap": 0.0}, ValueError, r"^softcap must be a finite real number > 0 or None; got 0.0$"),
            ({"softcap": -30.0}, ValueError, r"^softcap must be a finite real number > 0 or None; got -30.0$"),
            ({"softcap": float("inf")}, ValueError, r"^softcap must be .*; got inf$"),
            ({"softcap": float("nan")}, ValueError, r"^softcap must be .*; got nan$"),
            ({"softcap": True}, TypeError, r"^softcap must be a finite real number > 0 or None; got True \(bool\)$"),
            ({"return_z_loss": 1}, TypeError, r"^return_z_loss must be a bool; got 1 \(int\)$"),
        ],
    )
    def test_linear_cross_entropy_names_the_argument(self, change, error, message):
        args = {"input": self.x, "weight": self.w, "target": self.y, "bias": self.b, **change}
        with pytest.raises(error, match=message):
            linear_cross_entropy(args.pop("input"), args.pop("weight"), args.pop("target"), **args)

    def test_empty_input(self):
        with pytest.raises(ValueError, match=r"N >= 1 tokens"):
            linear_cross_entropy(self.x[:0], self.w, self.y[:0])

    def test_uint8_targets_are_class_indices(self):
        got = linear_cross_entropy(self.x, self.w, self.y.to(torch.uint8), bias=self.b)
        torch.testing.assert_close(got, linear_cross_entropy(self.x, self.w, self.y, bias=self.b), rtol=0, atol=0)
