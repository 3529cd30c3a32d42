"""Tests of celib.information: values, laws (property-based), gradients and bad input."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from celib.information import self_information

probabilities = st.floats(min_value=1e-300, max_value=1.0, allow_nan=False)
bases = st.one_of(st.floats(min_value=1e-3, max_value=1e3).filter(lambda b: abs(b - 1) > 1e-6), st.just(math.e))


class TestSelfInformation:
    def test_known_values_in_bits(self):
        got = self_information(torch.tensor([1.0, 0.5, 0.125, 2.0**-20, 0.0], dtype=torch.float64), base=2)
        assert got.tolist() == [0.0, 1.0, 3.0, 20.0, math.inf]

    def test_certain_outcome_is_positive_zero(self):
        assert math.copysign(1.0, self_information(1.0).item()) == 1.0

    def test_default_unit_is_nats(self):
        assert self_information(0.25).item() == pytest.approx(math.log(4))

    def test_array_likes_and_python_numbers(self):
        assert self_information([0.5, 0.25], base=2).tolist() == [1.0, 2.0]
        assert self_information(1, base=2).item() == 0.0  # an int probability is a valid float

    def test_keeps_shape_and_dtype(self):
        p = torch.rand(3, 4, 5, dtype=torch.float64)
        out = self_information(p)
        assert out.shape == p.shape and out.dtype == torch.float64

    @given(probabilities, probabilities)
    def test_additive_for_independent_events(self, p, q):
        p, q = torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)
        if p * q < torch.finfo(torch.float64).tiny:  # subnormal or zero: the product lost its precision
            return
        separate = self_information(p) + self_information(q)
        assert self_information(p * q).item() == pytest.approx(separate.item(), rel=1e-12, abs=1e-12)

    @given(probabilities, bases)
    def test_units_are_a_rescaling(self, p, base):
        nats = self_information(torch.tensor(p, dtype=torch.float64))
        in_base = self_information(torch.tensor(p, dtype=torch.float64), base=base)
        assert in_base.item() == pytest.approx(nats.item() / math.log(base), rel=1e-12, abs=1e-300)

    @given(st.floats(min_value=1e-6, max_value=1.0), st.floats(min_value=1e-6, max_value=1.0))
    def test_monotone(self, p, q):
        lo, hi = sorted((p, q))
        assert self_information(lo) >= self_information(hi)

    def test_gradient_matches_formula(self):
        p = torch.tensor([0.01, 0.3, 0.99], dtype=torch.float64, requires_grad=True)
        self_information(p, base=2).sum().backward()
        assert torch.allclose(p.grad, -1 / (p.detach() * math.log(2)))

    def test_gradcheck(self):
        p = torch.tensor([0.2, 0.7], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: self_information(t, base=2), (p,))

    @pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
    def test_rejects_values_outside_unit_interval(self, bad):
        with pytest.raises(ValueError, match=r"^p must hold probabilities in \[0, 1\]"):
            self_information(torch.tensor([0.5, bad]))

    @pytest.mark.parametrize("base", [1, 1.0, 0, -2, float("nan"), float("inf"), "2", None, True])
    def test_rejects_bad_base(self, base):
        with pytest.raises(ValueError, match=r"^base must be"):
            self_information(0.5, base=base)

    def test_rejects_non_numeric_input(self):
        with pytest.raises(TypeError, match=r"^p must"):
            self_information("half")
        with pytest.raises(TypeError, match=r"^p must hold real numbers"):
            self_information(torch.tensor([True, False]))
