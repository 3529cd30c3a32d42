"""celib.autograd.cross_entropy: the hand-written backward against finite differences and PyTorch."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from celib import functional
from celib.autograd import CrossEntropyFunction, cross_entropy
from tests.strategies import F64, TOL, classification_problem


def make_case(shape, seed=0, ignore_index=-100, ignored=0.3):
    """Logits of ``shape`` that require grad, targets (some set to ignore_index), class weights."""
    logits, target, weight = classification_problem(shape, seed, ignore_index=ignore_index, ignored=ignored)
    return logits.requires_grad_(), target, weight


SHAPES = [(3,), (5, 4), (3, 4, 2), (2, 3, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gradcheck(shape, reduction, weighted):
    logits, target, weight = make_case(shape)
    weight = weight if weighted else None
    assert torch.autograd.gradcheck(lambda x: cross_entropy(x, target, weight, reduction=reduction), (logits,))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gradcheck_with_a_class_as_ignore_index(reduction):
    logits, target, weight = make_case((6, 3), ignore_index=1)
    assert (target == 1).any()
    fn = lambda x: cross_entropy(x, target, weight, ignore_index=1, reduction=reduction)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (logits,))


@st.composite
def configurations(draw):
    batch = draw(st.integers(0, 4))
    n_classes = draw(st.integers(1, 5))
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    shape = (batch, n_classes, *extra)
    seed = draw(st.integers(0, 2**16))
    ignore_index = draw(st.sampled_from([-100, 0, n_classes - 1, 7]))
    ignored = draw(st.sampled_from([0.0, 0.3, 1.0]))
    logits, target, weight = make_case(shape, seed, ignore_index, ignored)
    zero_first = torch.tensor([0.0] + [1.0] * (n_classes - 1), dtype=F64)  # class 0 weighs nothing
    weight = draw(st.sampled_from([None, weight, weight * zero_first]))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0]))
    with torch.no_grad():
        logits.mul_(scale)
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    return logits, target, weight, ignore_index, reduction


@settings(max_examples=100)
@given(configurations())
def test_matches_torch_values_and_gradients(case):
    logits, target, weight, ignore_index, reduction = case
    ours = cross_entropy(logits, target, weight, ignore_index, reduction)
    theirs = F.cross_entropy(logits, target, weight, ignore_index=ignore_index, reduction=reduction)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, equal_nan=True, **TOL)

    upstream = torch.randn(theirs.shape, dtype=F64, generator=torch.Generator().manual_seed(1))
    (grad_ours,) = torch.autograd.grad(ours, logits, upstream)
    (grad_theirs,) = torch.autograd.grad(theirs, logits, upstream)
    torch.testing.assert_close(grad_ours, grad_theirs, equal_nan=True, **TOL)


def test_backward_is_the_hand_written_one():
    logits, target, _ = make_case((4, 3))
    loss = cross_entropy(logits, target)
    assert isinstance(loss.grad_fn, CrossEntropyFunction._backward_cls)
    (grad,) = torch.autograd.grad(loss, logits)
    kept = target != -100
    onehot = F.one_hot(target.clamp(min=0), 3)
    expected = (torch.softmax(logits.detach(), 1) - onehot) * kept.unsqueeze(1) / kept.sum()
    torch.testing.assert_close(grad, expected, **TOL)


def test_all_targets_ignored():
    logits = torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    target = torch.full((3,), -100)
    mean = cross_entropy(logits, target)
    assert mean.isnan() and F.cross_entropy(logits, target).isnan()  # 0 / 0, like PyTorch
    (grad,) = torch.autograd.grad(mean, logits)
    assert (grad == 0).all()  # no element contributes, so no gradient (PyTorch agrees)
    assert cross_entropy(logits, target, reduction="sum").item() == 0
    assert (cross_entropy(logits, target, reduction="none") == 0).all()


def test_zero_total_weight_gives_nan_gradient_like_torch():
    logits = torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    target, weight = torch.tensor([0, 0, 0]), torch.tensor([0.0, 1.0, 1.0, 1.0], dtype=F64)
    (ours,) = torch.autograd.grad(cross_entropy(logits, target, weight), logits)
    (theirs,) = torch.autograd.grad(F.cross_entropy(logits, target, weight), logits)
    assert ours.isnan().all() and theirs.isnan().all()


def test_huge_logits_stay_finite():
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=F64, requires_grad=True)
    target = torch.tensor([2, 0])
    ours = cross_entropy(logits, target, reduction="none")
    theirs = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(ours, theirs, **TOL)
    (grad,) = torch.autograd.grad(ours.sum(), logits)
    torch.testing.assert_close(grad, torch.autograd.grad(theirs.sum(), logits)[0], **TOL)


def test_float32_and_uint8_targets():
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), requires_grad=True)
    target = torch.tensor([0, 2, 1, 1], dtype=torch.uint8)
    ours = cross_entropy(logits, target)
    assert ours.dtype == torch.float32
    theirs = F.cross_entropy(logits, target.long())
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, logits)[0], torch.autograd.grad(theirs, logits)[0])


def test_not_twice_differentiable():
    logits, target, _ = make_case((4, 3))
    upstream = torch.ones((), dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(cross_entropy(logits, target), logits, upstream, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


X = torch.zeros(2, 3, dtype=F64)
Y = torch.tensor([0, 2])
BAD_ARGUMENTS = {
    "float class target": (X, Y.double(), {}),
    "class index out of range": (X, torch.tensor([0, 3]), {}),
    "negative class index": (X, torch.tensor([0, -1]), {}),
    "integer logits": (X.long(), Y, {}),
    "0-d logits": (torch.tensor(1.0, dtype=F64), torch.tensor(0), {}),
    "weight shape": (X, Y, {"weight": torch.ones(2, dtype=F64)}),
    "weight dtype": (X, Y, {"weight": torch.ones(3, dtype=torch.float32)}),
    "negative weight": (X, Y, {"weight": torch.tensor([1.0, -1.0, 1.0], dtype=F64)}),
    "reduction": (X, Y, {"reduction": "avg"}),
    "ignore_index type": (X, Y, {"ignore_index": 1.5}),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_rejects_bad_input_like_celib_functional(case):
    input, target, options = case
    with pytest.raises((TypeError, ValueError, IndexError)) as expected:
        functional.cross_entropy(input, target, **options)
    with pytest.raises(expected.type) as ours:
        cross_entropy(input, target, **options)
    assert str(ours.value) == str(expected.value)


def test_rejects_a_target_of_the_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"^target has shape \(3,\); expected class indices of shape \(2,\) for input of shape \(2, 3\)$",
    ):
        cross_entropy(X, torch.tensor([0, 1, 2]))


def test_rejects_probability_targets_like_nll_loss():
    """Both take class indices only, so both refuse a target of the input's shape, with one message."""
    probabilities = torch.full((2, 3), 1 / 3, dtype=F64)
    with pytest.raises(ValueError, match=r"^target has the input's shape \(2, 3\)") as expected:
        functional.nll_loss(X, probabilities)
    with pytest.raises(ValueError) as ours:
        cross_entropy(X, probabilities)
    assert str(ours.value) == str(expected.value)


def test_rejects_weight_that_requires_grad():
    weight = torch.ones(3, dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match="weight requires grad"):
        cross_entropy(X, Y, weight)
