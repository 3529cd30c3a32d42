"""Tests of celib.functional against torch.nn.functional as the oracle.

Hypothesis draws the configuration (layout, sizes, reduction, weights, ignore_index, smoothing,
a seed for the tensors); values and input gradients must match PyTorch in float64 to 1e-9.
Then one test per rejected input, and a check that no fused kernel is called.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import celib.functional as cf
import celib.tracing as tracing
from tests.strategies import F64, generator

TOL = dict(rtol=1e-9, atol=1e-9, equal_nan=True)
SETTINGS = settings(max_examples=150)

seeds = st.integers(0, 2**31 - 1)
reductions = st.sampled_from(["none", "mean", "sum"])


def value_and_grad(fn, input, *args, seed=0, **kwargs):
    """``fn(input, ...)`` and the gradient of ``<fn(input, ...), g>`` for a random upstream ``g``."""
    leaf = input.detach().clone().requires_grad_(True)
    out = fn(leaf, *args, **kwargs)
    upstream = torch.rand(out.shape, generator=generator(seed), dtype=out.dtype) + 0.5
    (out * upstream).sum().backward()
    return out.detach(), leaf.grad


def assert_matches_torch(celib_fn, torch_fn, input, *args, grad=True, **kwargs):
    got, got_grad = value_and_grad(celib_fn, input, *args, **kwargs)
    want, want_grad = value_and_grad(torch_fn, input, *args, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    torch.testing.assert_close(got, want, **TOL)
    if grad:
        torch.testing.assert_close(got_grad, want_grad, **TOL)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


@st.composite
def logits_layouts(draw, min_batch=0):
    """Shape of the logits: ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``; and the class dim."""
    n_classes = draw(st.integers(1, 6))
    layout = draw(st.sampled_from(["unbatched", "batched", "spatial"]))
    if layout == "unbatched":
        return (n_classes,), 0
    batch = draw(st.integers(min_batch, 4))
    spatial = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)) if layout == "spatial" else []
    return (batch, n_classes, *spatial), 1


def random_logits(shape, seed, scale):
    return torch.randn(shape, generator=generator(seed), dtype=F64) * scale


scales = st.sampled_from([1e-3, 1.0, 30.0, 1e3])


@st.composite
def class_targets(draw, shape, class_dim, seed):
    """Class indices for logits of ``shape``, some replaced by ``ignore_index``."""
    n_classes = shape[class_dim]
    index_shape = shape[:class_dim] + shape[class_dim + 1 :]
    g = generator(seed + 1)
    target = torch.randint(0, n_classes, index_shape, generator=g)
    ignore_index = draw(st.sampled_from([-100, -1, "class"]))
    if ignore_index == "class":  # a real class id: that class is ignored wherever it is the target
        ignore_index = draw(st.integers(0, n_classes - 1))
    ignored_fraction = draw(st.sampled_from([0.0, 0.3, 1.0]))
    target = torch.where(torch.rand(index_shape, generator=g) < ignored_fraction, ignore_index, target)
    return target, ignore_index


def probability_targets(shape, class_dim, seed):
    """Distributions along the class dim; about a third of them one-hot (exact zeros)."""
    g = generator(seed + 2)
    probs = torch.softmax(torch.randn(shape, generator=g, dtype=F64) * 3, dim=class_dim)
    n_classes = shape[class_dim]
    one_hot = F.one_hot(torch.randint(0, n_classes, probs.movedim(class_dim, -1).shape[:-1], generator=g), n_classes)
    one_hot = one_hot.to(F64).movedim(-1, class_dim)
    pick = torch.rand(probs.sum(class_dim, keepdim=True).shape, generator=g) < 1 / 3
    return torch.where(pick, one_hot, probs)


@st.composite
def class_weights(draw, n_classes, seed):
    if draw(st.booleans()):
        return None
    weight = torch.rand(n_classes, generator=generator(seed + 3), dtype=F64) * 2
    if draw(st.booleans()):  # some classes with weight 0
        weight[draw(st.integers(0, n_classes - 1))] = 0.0
    return weight


label_smoothings = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))


# --------------------------------------------------------------------------------------------
# Softmax, log_softmax, logsumexp
# --------------------------------------------------------------------------------------------


@st.composite
def reducible_inputs(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    seed, scale = draw(seeds), draw(scales)
    x = random_logits(shape, seed, scale)
    if x.dim() > 0 and draw(st.booleans()):  # masked entries, as in attention
        x = x.masked_fill(torch.rand(shape, generator=generator(seed + 1)) < 0.3, -torch.inf)
    rank = max(x.dim(), 1)
    dim = draw(st.integers(-rank, rank - 1))
    return x, dim, seed


class TestSoftmaxFamily:
    @SETTINGS
    @given(reducible_inputs())
    def test_softmax(self, case):
        x, dim, seed = case
        assert_matches_torch(cf.softmax, torch.softmax, x, dim, seed=seed)

    @SETTINGS
    @given(reducible_inputs())
    def test_log_softmax(self, case):
        x, dim, seed = case
        assert_matches_torch(cf.log_softmax, torch.log_softmax, x, dim, seed=seed)

    @SETTINGS
    @given(reducible_inputs(), st.booleans(), st.booleans())
    def test_logsumexp(self, case, keepdim, as_tuple):
        x, dim, seed = case
        if as_tuple and x.dim() >= 2:
            dim = (dim, (dim + 1) % x.dim())
        assert_matches_torch(cf.logsumexp, torch.logsumexp, x, dim, keepdim=keepdim, seed=seed)

    def test_no_overflow_for_huge_logits(self):
        x = torch.tensor([1000.0, 999.0, -1000.0], dtype=torch.float32)
        naive = torch.exp(x) / torch.exp(x).sum()
        assert naive.isnan().any()  # negative control: the naive formula fails on these logits
        torch.testing.assert_close(cf.softmax(x, 0), torch.softmax(x, 0))
        torch.testing.assert_close(cf.logsumexp(x, 0), torch.logsumexp(x, 0))

    def test_log_softmax_keeps_tiny_probabilities(self):
        x = torch.tensor([0.0, 800.0], dtype=F64)
        assert torch.log(cf.softmax(x, 0))[0] == -torch.inf
        assert cf.log_softmax(x, 0)[0].item() == -800.0

    def test_empty_reduced_dim(self):
        x = torch.zeros(3, 0, dtype=F64)
        torch.testing.assert_close(cf.logsumexp(x, 1), torch.logsumexp(x, 1))
        assert cf.softmax(x, 1).shape == (3, 0)

    def test_all_masked_slice(self):
        x = torch.full((2, 3), -torch.inf, dtype=F64)
        assert (cf.logsumexp(x, 1) == -torch.inf).all()
        assert cf.softmax(x, 1).isnan().all()

    @pytest.mark.torch_behaviour
    def test_torch_softmax_of_an_all_masked_slice_is_nan(self):
        """PyTorch's own behaviour, which celib.softmax mirrors (0 / 0)."""
        assert torch.softmax(torch.full((2, 3), -torch.inf, dtype=F64), 1).isnan().all()


# --------------------------------------------------------------------------------------------
# nll_loss and cross_entropy
# --------------------------------------------------------------------------------------------


@st.composite
def nll_cases(draw):
    shape, class_dim = draw(logits_layouts())
    seed = draw(seeds)
    input = random_logits(shape, seed, draw(scales))  # any numbers: nll_loss takes no log
    target, ignore_index = draw(class_targets(shape, class_dim, seed))
    weight = draw(class_weights(shape[class_dim], seed))
    return input, target, dict(weight=weight, ignore_index=ignore_index, reduction=draw(reductions)), seed


@st.composite
def cross_entropy_cases(draw, kind):
    shape, class_dim = draw(logits_layouts())
    seed = draw(seeds)
    input = random_logits(shape, seed, draw(scales))
    kwargs = dict(
        weight=draw(class_weights(shape[class_dim], seed)),
        reduction=draw(reductions),
        label_smoothing=draw(label_smoothings),
    )
    if kind == "indices":
        target, kwargs["ignore_index"] = draw(class_targets(shape, class_dim, seed))
    else:
        target = probability_targets(shape, class_dim, seed)
    return input, target, kwargs, seed


class TestNllLoss:
    @SETTINGS
    @given(nll_cases())
    def test_matches_torch(self, case):
        input, target, kwargs, seed = case
        assert_matches_torch(cf.nll_loss, F.nll_loss, input, target, seed=seed, **kwargs)

    def test_takes_no_log(self):
        input = torch.tensor([[3.0, -7.0, 0.5]], dtype=F64)
        assert cf.nll_loss(input, torch.tensor([1])).item() == 7.0

    def test_all_ignored(self):
        input, target = torch.randn(3, 4, dtype=F64), torch.full((3,), -100)
        assert cf.nll_loss(input, target).isnan()
        assert cf.nll_loss(input, target, reduction="sum").item() == 0.0
        assert (cf.nll_loss(input, target, reduction="none") == 0).all()


class TestCrossEntropy:
    @SETTINGS
    @given(cross_entropy_cases("indices"))
    def test_class_indices_match_torch(self, case):
        input, target, kwargs, seed = case
        assert_matches_torch(cf.cross_entropy, F.cross_entropy, input, target, seed=seed, **kwargs)

    @SETTINGS
    @given(cross_entropy_cases("probabilities"))
    def test_probabilities_match_torch(self, case):
        input, target, kwargs, seed = case
        assert_matches_torch(cf.cross_entropy, F.cross_entropy, input, target, seed=seed, **kwargs)

    @settings(max_examples=50)
    @given(seeds, st.floats(0.0, 1.0))
    def test_smoothing_with_weight_and_ignore_index(self, seed, smoothing):
        """The weighted, ignore-aware mean of the smoothing term, on a fixed layout with both."""
        input = random_logits((6, 4, 2), seed, 3.0)
        target = torch.randint(0, 4, (6, 2), generator=generator(seed))
        target[0, 0] = target[3, 1] = 2  # ignore_index is a real class id
        weight = torch.tensor([0.5, 2.0, 1.0, 0.0], dtype=F64)
        kwargs = dict(weight=weight, ignore_index=2, label_smoothing=smoothing)
        assert_matches_torch(cf.cross_entropy, F.cross_entropy, input, target, seed=seed, **kwargs)

    def test_uint8_targets(self):
        input, target = torch.randn(5, 3, dtype=F64), torch.tensor([0, 2, 1, 1, 0], dtype=torch.uint8)
        torch.testing.assert_close(cf.cross_entropy(input, target), F.cross_entropy(input, target), **TOL)

    def test_float32(self):
        input, target = torch.randn(8, 5), torch.randint(0, 5, (8,))
        torch.testing.assert_close(cf.cross_entropy(input, target), F.cross_entropy(input, target))

    def test_zero_probability_on_masked_class_is_zero_not_nan(self):
        """Deliberate difference: torch gives 0 * -inf = nan; the cross entropy is finite."""
        input = torch.tensor([[0.0, 1.0, -torch.inf]], dtype=F64)
        target = torch.tensor([[0.5, 0.5, 0.0]], dtype=F64)
        assert F.cross_entropy(input, target).isnan()  # PyTorch's behaviour: the difference is real
        expected = -(target[0, :2] * torch.log_softmax(input[0, :2], 0)).sum()
        torch.testing.assert_close(cf.cross_entropy(input, target), expected, **TOL)

    def test_empty_batch_mean_is_nan(self):
        input = torch.zeros(0, 3, dtype=F64)
        assert cf.cross_entropy(input, torch.zeros(0, dtype=torch.long)).isnan()
        assert cf.cross_entropy(input, torch.zeros(0, 3, dtype=F64)).isnan()


# --------------------------------------------------------------------------------------------
# Binary cross entropy
# --------------------------------------------------------------------------------------------


@st.composite
def elementwise_shapes(draw):
    return tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))


@st.composite
def broadcast_weights(draw, shape, seed):
    """None, or a weight of a shape that broadcasts to ``shape`` (a suffix, some dims 1)."""
    if draw(st.booleans()):
        return None
    suffix = shape[len(shape) - draw(st.integers(0, len(shape))) :]
    weight_shape = tuple(1 if draw(st.booleans()) else size for size in suffix)
    return torch.rand(weight_shape, generator=generator(seed + 7), dtype=F64) * 3


def binary_targets(shape, seed):
    """Probabilities in [0, 1], with many exact 0s and 1s."""
    g = generator(seed + 5)
    soft = torch.rand(shape, generator=g, dtype=F64)
    hard = (torch.rand(shape, generator=g) < 0.5).to(F64)
    return torch.where(torch.rand(shape, generator=g) < 0.5, hard, soft)


class TestBinaryCrossEntropy:
    @SETTINGS
    @given(elementwise_shapes(), seeds, reductions, st.data())
    def test_interior_matches_torch(self, shape, seed, reduction, data):
        """Values and gradients for p in [1e-6, 1 - 1e-6], where PyTorch's backward is the derivative."""
        p = 1e-6 + (1 - 2e-6) * torch.rand(shape, generator=generator(seed), dtype=F64)
        weight = data.draw(broadcast_weights(shape, seed))
        target = binary_targets(shape, seed)
        assert_matches_torch(
            cf.binary_cross_entropy, F.binary_cross_entropy, p, target, weight=weight, reduction=reduction, seed=seed
        )

    @SETTINGS
    @given(elementwise_shapes(), seeds, reductions)
    def test_values_at_the_edges_match_torch(self, shape, seed, reduction):
        """Probabilities exactly 0 or 1, and below exp(-100): the log is floored at -100."""
        g = generator(seed)
        edges = torch.tensor([0.0, 1.0, 1e-50, 1 - 1e-17, 1e-300], dtype=F64)
        p = torch.where(
            torch.rand(shape, generator=g) < 0.6,
            edges[torch.randint(0, 5, shape, generator=g)],
            torch.rand(shape, generator=g, dtype=F64),
        )
        target = binary_targets(shape, seed)
        got = cf.binary_cross_entropy(p, target, reduction=reduction)
        torch.testing.assert_close(got, F.binary_cross_entropy(p, target, reduction=reduction), **TOL)

    def test_clamp_value_and_gradient(self):
        p = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
        loss = cf.binary_cross_entropy(p, torch.tensor([1.0, 0.0], dtype=F64), reduction="none")
        assert loss.tolist() == [100.0, 100.0]
        loss.sum().backward()
        assert p.grad.tolist() == [0.0, 0.0]  # the derivative of the floored (flat) value

    @SETTINGS
    @given(elementwise_shapes(), seeds, st.sampled_from([1.0, 10.0, 100.0, 1e3]), reductions, st.data())
    def test_with_logits_matches_torch(self, shape, seed, scale, reduction, data):
        x = random_logits(shape, seed, scale)
        x = torch.where(torch.rand(shape, generator=generator(seed + 9)) < 0.1, 0.0, x)  # exact zeros
        target = binary_targets(shape, seed)
        weight = data.draw(broadcast_weights(shape, seed))
        pos_weight = data.draw(broadcast_weights(shape, seed + 1))
        assert_matches_torch(
            cf.binary_cross_entropy_with_logits,
            F.binary_cross_entropy_with_logits,
            x,
            target,
            weight=weight,
            pos_weight=pos_weight,
            reduction=reduction,
            seed=seed,
        )

    def test_with_logits_gradient_at_zero(self):
        x = torch.zeros(3, dtype=F64, requires_grad=True)
        target = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
        cf.binary_cross_entropy_with_logits(x, target, reduction="sum").backward()
        torch.testing.assert_close(x.grad, 0.5 - target, **TOL)  # sigmoid(0) - y

    def test_pos_weight_per_class(self):
        x = torch.randn(5, 3, dtype=F64)
        target = (torch.rand(5, 3) < 0.5).to(F64)
        pos_weight = torch.tensor([1.0, 3.0, 0.5], dtype=F64)
        by_hand = -(pos_weight * target * F.logsigmoid(x) + (1 - target) * F.logsigmoid(-x))
        got = cf.binary_cross_entropy_with_logits(x, target, pos_weight=pos_weight, reduction="none")
        torch.testing.assert_close(got, by_hand, **TOL)


# --------------------------------------------------------------------------------------------
# soft_margin_loss
# --------------------------------------------------------------------------------------------


def plus_minus_labels(shape, seed):
    return torch.randint(0, 2, shape, generator=generator(seed + 11)).to(F64) * 2 - 1


class TestSoftMarginLoss:
    @SETTINGS
    @given(elementwise_shapes(), seeds, st.sampled_from([1.0, 10.0, 100.0]), reductions)
    def test_matches_torch_where_torch_is_finite(self, shape, seed, scale, reduction):
        """float64 margins up to a few hundred: PyTorch's log(1 + exp(-y x)) is still exact there."""
        x = random_logits(shape, seed, scale)
        x = torch.where(torch.rand(shape, generator=generator(seed + 9)) < 0.1, 0.0, x)  # exact zeros
        y = plus_minus_labels(shape, seed)
        assert_matches_torch(cf.soft_margin_loss, F.soft_margin_loss, x, y, reduction=reduction, seed=seed)

    @SETTINGS
    @given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20), seeds, st.sampled_from([torch.float32, F64]))
    def test_exact_at_any_margin(self, values, seed, dtype):
        """Oracle: numpy's logaddexp(0, -m) in float64, and the gradient -y * sigmoid(-m) from scipy."""
        x = torch.tensor(values, dtype=dtype, requires_grad=True)
        y = plus_minus_labels(x.shape, seed).to(dtype)
        loss = cf.soft_margin_loss(x, y, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), x)
        margin = (y * x).detach().double().numpy()
        info = torch.finfo(dtype)  # below info.tiny the result is subnormal: absolute error only
        expected = torch.from_numpy(np.logaddexp(0.0, -margin))
        torch.testing.assert_close(loss.double(), expected, rtol=4 * info.eps, atol=info.tiny)
        expected_grad = -y.double() * torch.from_numpy(scipy.special.expit(-margin))
        torch.testing.assert_close(grad.double(), expected_grad, rtol=8 * info.eps, atol=info.tiny)

    @pytest.mark.torch_behaviour
    def test_torch_overflows_where_celib_does_not(self):
        """The defect this function exists for: PyTorch returns inf and a NaN gradient."""
        for dtype, margin in [(torch.float32, -89.0), (F64, -710.0)]:
            x = torch.tensor([margin], dtype=dtype, requires_grad=True)
            y = torch.ones(1, dtype=dtype)
            theirs = F.soft_margin_loss(x, y)
            assert theirs.isinf() and torch.autograd.grad(theirs, x)[0].isnan().all()
            ours = cf.soft_margin_loss(x, y)
            assert ours.item() == -margin and torch.autograd.grad(ours, x)[0].item() == -1.0

    def test_equals_bce_with_logits_on_mapped_labels(self):
        x = torch.tensor([-1e3, -89.0, -3.0, 0.0, 2.5, 1e3], dtype=torch.float32)
        y = torch.tensor([1.0, 1.0, -1.0, 1.0, -1.0, -1.0], dtype=torch.float32)
        bce = F.binary_cross_entropy_with_logits(x, (y + 1) / 2, reduction="none")
        torch.testing.assert_close(cf.soft_margin_loss(x, y, reduction="none"), bce)


# --------------------------------------------------------------------------------------------
# kl_div
# --------------------------------------------------------------------------------------------


class TestKlDiv:
    @pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
    @SETTINGS
    @given(elementwise_shapes(), seeds, st.sampled_from(["none", "mean", "sum", "batchmean"]), st.booleans())
    def test_matches_torch(self, shape, seed, reduction, log_target):
        g = generator(seed)
        dim = -1 if shape else None
        log_q = (
            torch.log_softmax(torch.randn(shape, generator=g, dtype=F64) * 3, dim=dim)
            if shape
            else torch.rand((), generator=g, dtype=F64).log()
        )
        p = torch.rand(shape, generator=g, dtype=F64)
        if not log_target:
            p = torch.where(torch.rand(shape, generator=g) < 0.2, 0.0, p)  # exact zeros: 0 log 0 = 0
        target = p.log() if log_target else p
        kwargs = dict(reduction=reduction, log_target=log_target)
        assert_matches_torch(cf.kl_div, F.kl_div, log_q, target, seed=seed, **kwargs)

    def test_batchmean_is_the_kl_divergence(self):
        p = torch.tensor([[0.5, 0.5], [0.9, 0.1]], dtype=F64)
        q = torch.tensor([[0.25, 0.75], [0.5, 0.5]], dtype=F64)
        kl = (p * (p / q).log()).sum(1).mean()
        torch.testing.assert_close(cf.kl_div(q.log(), p, reduction="batchmean"), kl, **TOL)
        torch.testing.assert_close(cf.kl_div(q.log(), p, reduction="mean"), kl / 2, **TOL)

    def test_zero_target_on_masked_input_is_zero_not_nan(self):
        log_q = torch.tensor([0.0, -torch.inf], dtype=F64)
        for target, log_target in [
            (torch.tensor([1.0, 0.0], dtype=F64), False),
            (torch.tensor([0.0, -torch.inf], dtype=F64), True),
        ]:
            assert cf.kl_div(log_q, target, reduction="sum", log_target=log_target).item() == 0.0


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

X = torch.randn(3, 4, dtype=F64, generator=generator(0))
Y = torch.tensor([0, 1, 3])
P = torch.full((3, 4), 0.25, dtype=F64)
PROB = torch.tensor([0.2, 0.9], dtype=F64)
BIN = torch.tensor([0.0, 1.0], dtype=F64)

BAD_INPUTS = {
    "integer logits": (
        lambda: cf.cross_entropy(X.long(), Y),
        TypeError,
        r"^input has dtype torch.int64; logits must be floating point",
    ),
    "logits not a tensor": (
        lambda: cf.cross_entropy([[0.0, 1.0]], torch.tensor([0])),
        TypeError,
        r"^input must be a torch.Tensor",
    ),
    "0-d logits": (
        lambda: cf.cross_entropy(torch.tensor(1.0), torch.tensor(0)),
        ValueError,
        r"^input has shape \(\); expected \(C,\) or \(N, C, d1, ..., dK\), with a class dimension$",
    ),
    "float class targets": (
        lambda: cf.cross_entropy(X, Y.double()),
        TypeError,
        r"^target has dtype torch.float64; class-index targets must be torch.long",
    ),
    "int32 class targets": (
        lambda: cf.cross_entropy(X, Y.int()),
        TypeError,
        r"^target has dtype torch.int32; class-index targets must be torch.long",
    ),
    "target too large": (
        lambda: cf.cross_entropy(X, torch.tensor([0, 4, 1])),
        IndexError,
        r"^target must hold class indices in \[0, 4\) or ignore_index=-100; got 4",
    ),
    "negative target": (
        lambda: cf.cross_entropy(X, torch.tensor([0, -5, 1])),
        IndexError,
        r"^target must hold class indices .*; got -5",
    ),
    "-100 not ignored": (
        lambda: cf.cross_entropy(X, torch.tensor([0, -100, 1]), ignore_index=-1),
        IndexError,
        r"^target must hold class indices in \[0, 4\) or ignore_index=-1; got -100",
    ),
    "batch size": (
        lambda: cf.cross_entropy(X, Y[:2]),
        ValueError,
        r"^target has shape \(2,\); expected class indices of shape \(3,\) or probabilities of shape \(3, 4\) "
        r"for input of shape \(3, 4\)$",
    ),
    "spatial dims": (
        lambda: cf.cross_entropy(torch.randn(2, 3, 4, dtype=F64), torch.zeros(2, 5, dtype=torch.long)),
        ValueError,
        r"^target has shape \(2, 5\); .*class indices of shape \(2, 4\)",
    ),
    "(N, 1) target": (lambda: cf.cross_entropy(X, Y[:, None]), ValueError, r"^target has shape \(3, 1\)"),
    "unbatched (1,) target": (
        lambda: cf.cross_entropy(X[0], torch.tensor([1])),
        ValueError,
        r"^target has shape \(1,\); .*class indices of shape \(\)",
    ),
    "one-hot long targets": (
        lambda: cf.cross_entropy(X, F.one_hot(Y, 4)),
        TypeError,
        r"^target has the input's shape \(3, 4\) and dtype torch.int64; probability targets must be floating point "
        r".*target.argmax\(1\)",
    ),
    "probabilities not summing to 1": (
        lambda: cf.cross_entropy(X, P * 2),
        ValueError,
        r"^target must sum to 1 along dim 1",
    ),
    "negative probabilities": (
        lambda: cf.cross_entropy(X, P - 0.5),
        ValueError,
        r"^target must hold probabilities in \[0, 1\]",
    ),
    "ignore_index with probabilities": (
        lambda: cf.cross_entropy(X, P, ignore_index=1),
        ValueError,
        r"^ignore_index=1 has no effect with probability targets",
    ),
    "negative ignore_index with probabilities": (
        lambda: cf.cross_entropy(X, P, ignore_index=-1),
        ValueError,
        r"^ignore_index=-1 has no effect",
    ),
    "float ignore_index": (
        lambda: cf.cross_entropy(X, Y, ignore_index=1.0),
        TypeError,
        r"^ignore_index must be an int; got 1.0",
    ),
    "weight length": (
        lambda: cf.cross_entropy(X, Y, weight=torch.ones(3, dtype=F64)),
        ValueError,
        r"^weight has shape \(3,\); expected \(C,\) = \(4,\), one weight per class$",
    ),
    "weight rank": (
        lambda: cf.cross_entropy(X, Y, weight=torch.ones(1, 4, dtype=F64)),
        ValueError,
        r"^weight has shape \(1, 4\)",
    ),
    "weight dtype": (
        lambda: cf.cross_entropy(X, Y, weight=torch.ones(4)),
        TypeError,
        r"^weight has dtype torch.float32; it must match input's dtype torch.float64",
    ),
    "negative weight": (
        lambda: cf.cross_entropy(X, Y, weight=-torch.ones(4, dtype=F64)),
        ValueError,
        r"^weight must hold finite values >= 0; got -1.0",
    ),
    "unknown reduction": (
        lambda: cf.cross_entropy(X, Y, reduction="avg"),
        ValueError,
        r"^reduction must be one of 'none', 'mean', 'sum'; got 'avg'",
    ),
    "smoothing above 1": (
        lambda: cf.cross_entropy(X, Y, label_smoothing=1.5),
        ValueError,
        r"^label_smoothing must be a real number in \[0, 1\]; got 1.5$",
    ),
    "negative smoothing": (
        lambda: cf.cross_entropy(X, Y, label_smoothing=-0.1),
        ValueError,
        r"^label_smoothing must be a real number in \[0, 1\]; got -0.1$",
    ),
    "nll probabilities": (
        lambda: cf.nll_loss(X, P),
        ValueError,
        r"^target has the input's shape \(3, 4\), the shape of probability targets; expected class indices of "
        r"shape \(3,\) \(this function takes class indices only\)$",
    ),
    "nll integer input": (
        lambda: cf.nll_loss(X.long(), Y),
        TypeError,
        r"^input has dtype torch.int64; log-probabilities must be floating point",
    ),
    "softmax integer input": (lambda: cf.softmax(torch.tensor([1, 2]), 0), TypeError, r"^input has dtype torch.int64"),
    "softmax dim": (lambda: cf.softmax(X, 2), IndexError, r"^dim 2 is out of range for input with 2 dimension"),
    "softmax dim type": (lambda: cf.softmax(X, None), TypeError, r"^dim must be an int; got None"),
    "logsumexp repeated dim": (
        lambda: cf.logsumexp(X, (0, -2)),
        ValueError,
        r"^dim \(0, -2\) names the same dimension twice",
    ),
    "bce probabilities above 1": (
        lambda: cf.binary_cross_entropy(PROB + 0.5, BIN),
        ValueError,
        r"^input must hold probabilities in \[0, 1\]",
    ),
    "bce target -1": (
        lambda: cf.binary_cross_entropy(PROB, BIN * 2 - 1),
        ValueError,
        r"^target must hold probabilities in \[0, 1\]; .*-1.0",
    ),
    "bce integer target": (
        lambda: cf.binary_cross_entropy(PROB, BIN.long()),
        TypeError,
        r"^target has dtype torch.int64; probabilities must be floating point",
    ),
    "bce shape": (
        lambda: cf.binary_cross_entropy(PROB, BIN[:1]),
        ValueError,
        r"^target has shape \(1,\); expected input's shape \(2,\)",
    ),
    "bce weight shape": (
        lambda: cf.binary_cross_entropy(PROB, BIN, weight=torch.ones(3, dtype=F64)),
        ValueError,
        r"^weight has shape \(3,\); expected a shape that broadcasts to input's shape \(2,\)$",
    ),
    "logits target -1": (
        lambda: cf.binary_cross_entropy_with_logits(PROB, BIN * 2 - 1),
        ValueError,
        r"^target must hold probabilities in \[0, 1\]",
    ),
    "logits integer input": (
        lambda: cf.binary_cross_entropy_with_logits(BIN.long(), BIN),
        TypeError,
        r"^input has dtype torch.int64; logits must be floating point",
    ),
    "pos_weight shape": (
        lambda: cf.binary_cross_entropy_with_logits(X, P, pos_weight=torch.ones(3, dtype=F64)),
        ValueError,
        r"^pos_weight has shape \(3,\); expected a shape that broadcasts to input's shape \(3, 4\) "
        r"\(one weight per class",
    ),
    "negative pos_weight": (
        lambda: cf.binary_cross_entropy_with_logits(X, P, pos_weight=-torch.ones(4, dtype=F64)),
        ValueError,
        r"^pos_weight must hold finite values >= 0",
    ),
    "soft margin 0/1 labels": (
        lambda: cf.soft_margin_loss(PROB, BIN),
        ValueError,
        r"^target must hold labels -1 and 1; got 0.0 \(for 0/1 labels use binary_cross_entropy_with_logits",
    ),
    "soft margin shape": (
        lambda: cf.soft_margin_loss(PROB, BIN[:1] * 2 - 1),
        ValueError,
        r"^target has shape \(1,\); expected input's shape \(2,\)",
    ),
    "soft margin integer input": (
        lambda: cf.soft_margin_loss(BIN.long(), BIN * 2 - 1),
        TypeError,
        r"^input has dtype torch.int64; logits must be floating point",
    ),
    "soft margin reduction": (
        lambda: cf.soft_margin_loss(PROB, BIN * 2 - 1, reduction="batchmean"),
        ValueError,
        r"^reduction must be one of 'none', 'mean', 'sum'; got 'batchmean'",
    ),
    "kl probabilities as input": (
        lambda: cf.kl_div(P, P),
        ValueError,
        r"^input must hold log-probabilities \(<= 0\); got 0.25 and 11 other bad value\(s\) "
        r"\(did you pass probabilities",
    ),
    "kl shapes": (
        lambda: cf.kl_div(P.log(), P[0]),
        ValueError,
        r"^target has shape \(4,\); expected input's shape \(3, 4\)",
    ),
    "kl reduction": (
        lambda: cf.kl_div(P.log(), P, reduction="avg"),
        ValueError,
        r"^reduction must be one of 'none', 'batchmean', 'sum', 'mean'; got 'avg'",
    ),
    "kl log_target positive": (
        lambda: cf.kl_div(P.log(), P, log_target=True),
        ValueError,
        r"^target must hold log-probabilities \(<= 0\) when log_target=True; got 0.25",
    ),
    "kl log_target type": (lambda: cf.kl_div(P.log(), P, log_target="yes"), TypeError, r"^log_target must be a bool"),
}


@pytest.mark.parametrize("call, error, message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_rejected(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.torch_behaviour
def test_torch_accepts_what_celib_rejects():
    """PyTorch's own behaviour, the nonsense that motivates some of celib's checks: it returns a number.

    If this fails, PyTorch has started to reject one of these; the book's pitfalls chapter says it does not.
    """
    assert F.cross_entropy(X, Y, label_smoothing=-0.5).isfinite()
    assert F.cross_entropy(X, P, ignore_index=-1).isfinite()
    assert F.binary_cross_entropy_with_logits(PROB, BIN * 2 - 1).isfinite()
    assert F.kl_div(P.log(), P[0], reduction="sum").isfinite()  # silently broadcast
    assert F.soft_margin_loss(PROB, BIN).isfinite()  # 0/1 labels: the constant log 2 for the zeros


# --------------------------------------------------------------------------------------------
# No fused kernels
# --------------------------------------------------------------------------------------------

FUSED_ATEN_OPS = {
    "_softmax",
    "_log_softmax",
    "_softmax_backward_data",
    "_log_softmax_backward_data",
    "logsumexp",
    "nll_loss_forward",
    "nll_loss2d_forward",
    "nll_loss_backward",
    "nll_loss2d_backward",
    "cross_entropy_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits",
    "log_sigmoid_forward",
    "log_sigmoid_backward",
    "softplus",
    "kl_div",
    "sigmoid",
    "soft_margin_loss",
    "soft_margin_loss_backward",
}


def aten_ops(module):
    """The aten ops that run when every loss of ``module`` is evaluated and differentiated."""
    x3 = torch.randn(2, 3, 4, dtype=F64, requires_grad=True)
    y3 = torch.randint(0, 3, (2, 4))
    w = torch.rand(3, dtype=F64)
    x = torch.randn(5, 3, dtype=F64, requires_grad=True)
    b = torch.rand(5, 3, dtype=F64)
    p = torch.rand(5, 3, dtype=F64, requires_grad=True)
    soft_target = b / b.sum(1, keepdim=True)
    with tracing.OpRecorder() as recorder:
        losses = [
            module.cross_entropy(x3, y3, weight=w, label_smoothing=0.1, ignore_index=1),
            module.cross_entropy(x, soft_target, label_smoothing=0.1),
            module.nll_loss(x, torch.tensor([0, 1, 2, 0, 1])),
            module.softmax(x, 1).sum(),
            module.log_softmax(x, 0).sum(),
            module.binary_cross_entropy(p, b),
            module.binary_cross_entropy_with_logits(x, b, pos_weight=w),
            module.kl_div(x.detach().clamp(max=0).requires_grad_(), b, reduction="batchmean"),
            module.soft_margin_loss(x, (b > 0.5).to(F64) * 2 - 1),
        ]
        if module is cf:
            losses.append(module.logsumexp(x, 1).sum())
        sum(losses).backward()
    return set(recorder.ops)


def test_no_fused_kernel_is_called():
    assert aten_ops(F) & FUSED_ATEN_OPS  # the recorder sees the fused kernels when they run
    assert not aten_ops(cf) & FUSED_ATEN_OPS


def test_no_fused_python_function_is_called(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("celib called a fused function")

    for name in [
        "cross_entropy",
        "nll_loss",
        "log_softmax",
        "softmax",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "kl_div",
        "logsigmoid",
        "softplus",
        "soft_margin_loss",
    ]:
        monkeypatch.setattr(F, name, forbidden)
    for name in ["logsumexp", "log_softmax", "softmax", "sigmoid"]:
        monkeypatch.setattr(torch, name, forbidden)
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    x = torch.randn(4, 3, dtype=F64)
    cf.cross_entropy(x, torch.tensor([0, 1, 2, 1]), label_smoothing=0.2)
    cf.cross_entropy(x, torch.full((4, 3), 1 / 3, dtype=F64))
    cf.logsumexp(x, 1)
    cf.binary_cross_entropy_with_logits(x, torch.rand(4, 3, dtype=F64))
    cf.kl_div(-x.abs(), torch.rand(4, 3, dtype=F64))
    cf.soft_margin_loss(x, torch.ones(4, 3, dtype=F64))
