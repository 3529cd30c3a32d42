"""Each row of the API page's table "celib.functional and PyTorch: the differences", as a test.

Every test checks both sides: what PyTorch does (the oracle's own behaviour, marked
``torch_behaviour``) and what celib does instead. If PyTorch changes, the table must change too.
"""

import pytest
import torch
import torch.nn.functional as F

import celib.functional as cf

pytestmark = pytest.mark.torch_behaviour
F64 = torch.float64


def logits():
    return torch.randn(3, 4, dtype=F64, generator=torch.Generator().manual_seed(0))


def probabilities():
    return torch.softmax(logits().flip(0), dim=1)


def test_negative_label_smoothing():
    z, y = logits(), torch.tensor([0, 1, 2])
    assert torch.equal(F.cross_entropy(z, y, label_smoothing=-0.1), F.cross_entropy(z, y))
    with pytest.raises(ValueError, match="label_smoothing must be a real number in"):
        cf.cross_entropy(z, y, label_smoothing=-0.1)


def test_negative_ignore_index_with_probability_targets():
    z, p = logits(), probabilities()
    assert torch.equal(F.cross_entropy(z, p, ignore_index=-1), F.cross_entropy(z, p))
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(z, p, ignore_index=0)
    with pytest.raises(ValueError, match="has no effect with probability targets"):
        cf.cross_entropy(z, p, ignore_index=-1)


def test_binary_targets_outside_zero_one():
    x, t = torch.zeros(3, dtype=F64), torch.tensor([-1.0, 1.0, 0.0], dtype=F64)
    assert torch.isfinite(F.binary_cross_entropy_with_logits(x, t))
    with pytest.raises(ValueError, match=r"target must hold probabilities in \[0, 1\]"):
        cf.binary_cross_entropy_with_logits(x, t)


def test_kl_div_of_different_shapes():
    log_q, p = torch.log_softmax(logits(), dim=1), probabilities()[:1]
    assert torch.isfinite(F.kl_div(log_q, p, reduction="batchmean"))  # broadcast silently
    with pytest.raises(ValueError, match=r"target has shape \(1, 4\); expected input's shape \(3, 4\)"):
        cf.kl_div(log_q, p, reduction="batchmean")


def test_zero_probability_facing_minus_infinity():
    z = torch.tensor([[0.0, float("-inf"), 1.0]], dtype=F64)
    p = torch.tensor([[0.5, 0.0, 0.5]], dtype=F64)
    assert torch.isnan(F.cross_entropy(z, p))
    assert torch.isfinite(cf.cross_entropy(z, p))
    log_q, target = torch.tensor([[float("-inf"), 0.0]], dtype=F64), torch.tensor([[0.0, 1.0]], dtype=F64)
    assert torch.isnan(F.kl_div(log_q, target, reduction="sum"))
    assert cf.kl_div(log_q, target, reduction="sum").item() == 0.0


def test_binary_cross_entropy_gradient_at_the_clamp():
    p, t = torch.tensor([1.0], dtype=F64, requires_grad=True), torch.tensor([0.0], dtype=F64)
    (torch_grad,) = torch.autograd.grad(F.binary_cross_entropy(p, t), p)
    (celib_grad,) = torch.autograd.grad(cf.binary_cross_entropy(p, t), p)
    assert torch_grad.item() > 1e11  # w (p - y) / max(p (1 - p), 1e-12)
    assert celib_grad.item() == 0.0  # the derivative of the clamped value (a constant 100)
    assert F.binary_cross_entropy(p, t).item() == cf.binary_cross_entropy(p, t).item() == 100.0


def test_int32_class_indices():
    z, y = logits(), torch.tensor([0, 1, 2], dtype=torch.int32)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        F.cross_entropy(z, y)
    with pytest.raises(TypeError, match="target has dtype torch.int32"):
        cf.cross_entropy(z, y)
    assert torch.equal(F.cross_entropy(z, y.to(torch.uint8)), F.cross_entropy(z, y.long()))
    assert torch.allclose(cf.cross_entropy(z, y.to(torch.uint8)), F.cross_entropy(z, y.long()))
