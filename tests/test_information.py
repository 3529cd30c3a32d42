"""Tests of celib.information: values, laws (property-based), oracles (scipy), gradients and bad input."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from celib.information import (
    conditional_entropy,
    cross_entropy,
    entropy,
    joint_entropy,
    kl_divergence,
    mutual_information,
    perplexity,
    self_information,
)
from tests.strategies import F64, distributions, weights

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
        p, q = torch.tensor(p, dtype=F64), torch.tensor(q, dtype=F64)
        assume(p * q >= torch.finfo(F64).tiny)  # subnormal or zero: the product lost its precision
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

    @pytest.mark.parametrize("base", [1, 1.0, 0, -2, float("nan"), float("inf")])
    def test_rejects_bad_base(self, base):
        with pytest.raises(ValueError, match=r"^base must be a finite real number > 0 and != 1; got"):
            self_information(0.5, base=base)

    @pytest.mark.parametrize("base", ["2", None, True])
    def test_rejects_a_base_that_is_not_a_number(self, base):
        with pytest.raises(
            TypeError, match=r"^base must be a finite real number > 0 and != 1; got .* \((str|NoneType|bool)\)$"
        ):
            self_information(0.5, base=base)

    def test_rejects_non_numeric_input(self):
        with pytest.raises(TypeError, match=r"^p must"):
            self_information("half")
        with pytest.raises(TypeError, match=r"^p has dtype torch.bool; it must hold real numbers"):
            self_information(torch.tensor([True, False]))


# --- distributions and their measures --------------------------------------------------------

LAWS = settings(max_examples=60)
positive_weights = st.floats(min_value=1e-6, max_value=1.0)
unit_bases = st.sampled_from([2, math.e, 10, 0.5, 3.7])


@st.composite
def distribution_pairs(draw, q_elements=positive_weights):
    """(p, q) of the same length; q strictly positive unless q_elements allows zeros."""
    k = draw(st.integers(min_value=1, max_value=8))
    return draw(distributions(k, k)), draw(distributions(k, k, elements=q_elements))


@st.composite
def joints(draw):
    nx, ny = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return draw(distributions(nx * ny, nx * ny)).reshape(nx, ny)


def marginals(pxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(p(x), p(y)); a sum of probabilities can round to 1 + eps, which is not a probability."""
    return pxy.sum(1).clamp(max=1.0), pxy.sum(0).clamp(max=1.0)


def simplex_point(logits: torch.Tensor) -> torch.Tensor:
    """An interior point of the simplex, so gradcheck's perturbations stay valid distributions."""
    return torch.softmax(logits, dim=-1)


class TestEntropy:
    def test_known_values(self):
        assert entropy(torch.tensor([0.5, 0.5], dtype=F64), base=2).item() == 1.0
        assert entropy(torch.tensor([1.0, 0.0, 0.0], dtype=F64)).item() == 0.0
        p = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=F64)
        assert entropy(p, base=2).item() == pytest.approx(1.75, rel=1e-15)

    def test_zero_log_zero_is_zero(self):
        with_zero = torch.tensor([0.5, 0.0, 0.5], dtype=F64)
        assert entropy(with_zero).item() == pytest.approx(math.log(2), rel=1e-15)
        assert not torch.isnan(entropy(with_zero))

    def test_certain_outcome_is_positive_zero(self):
        assert math.copysign(1.0, entropy([0.0, 1.0]).item()) == 1.0

    @LAWS
    @given(distributions())
    def test_bounds(self, p):
        h = entropy(p).item()
        assert -1e-15 <= h <= math.log(len(p)) + 1e-12

    @pytest.mark.parametrize("k", [1, 2, 3, 10, 1000])
    def test_uniform_attains_log_k(self, k):
        assert entropy(torch.full((k,), 1 / k, dtype=F64)).item() == pytest.approx(math.log(k), abs=1e-12)

    @LAWS
    @given(distributions(), unit_bases)
    def test_matches_scipy(self, p, base):
        expected = scipy.stats.entropy(p.numpy(), base=base)
        assert entropy(p, base=base).item() == pytest.approx(expected, rel=1e-12, abs=1e-14)

    @LAWS
    @given(distributions(), unit_bases)
    def test_units_are_a_rescaling(self, p, base):
        assert entropy(p, base=base).item() == pytest.approx(entropy(p).item() / math.log(base), rel=1e-12, abs=1e-14)

    def test_batched_over_other_dims(self):
        p = torch.softmax(torch.randn(3, 4, 5, dtype=F64, generator=torch.Generator().manual_seed(0)), dim=1)
        got = entropy(p, dim=1)  # outcomes along dim 1
        assert got.shape == (3, 5)
        for i in range(3):
            for j in range(5):
                assert got[i, j].item() == pytest.approx(entropy(p[i, :, j]).item(), rel=1e-14)
        assert torch.equal(entropy(p, dim=1), entropy(p.transpose(1, -1), dim=-1))

    def test_float32_in_float32_out(self):
        p = torch.tensor([0.1, 0.2, 0.7], dtype=torch.float32)
        assert entropy(p).dtype == torch.float32

    def test_gradient_matches_formula(self):
        p = torch.tensor([0.2, 0.3, 0.5], dtype=F64, requires_grad=True)
        entropy(p, base=2).backward()
        assert torch.allclose(p.grad, -(p.detach().log() + 1) / math.log(2))

    def test_gradcheck(self):
        logits = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.5, -0.5]], dtype=F64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda z: entropy(simplex_point(z), base=2), (logits,))
        assert torch.autograd.gradgradcheck(lambda z: entropy(simplex_point(z)), (logits,))

    def test_gradient_is_finite_with_zero_entries(self):
        p = torch.tensor([0.0, 0.5, 0.5], dtype=F64, requires_grad=True)
        entropy(p).backward()
        assert torch.isfinite(p.grad).all() and p.grad[0].item() == 0.0


class TestCrossEntropyAndKL:
    def test_known_values(self):
        p = torch.tensor([0.5, 0.5], dtype=F64)
        q = torch.tensor([0.25, 0.75], dtype=F64)
        assert cross_entropy(p, q, base=2).item() == pytest.approx(1 + 0.5 * math.log2(4 / 3), rel=1e-15)
        assert kl_divergence(p, q, base=2).item() == pytest.approx(0.5 * math.log2(4 / 3), rel=1e-14)

    def test_one_hot_p_gives_surprise_of_its_outcome(self):
        q = torch.tensor([0.1, 0.6, 0.3], dtype=F64)
        assert cross_entropy(torch.tensor([0.0, 1.0, 0.0], dtype=F64), q).item() == pytest.approx(-math.log(0.6))

    @LAWS
    @given(distribution_pairs())
    def test_decomposition(self, pq):
        p, q = pq
        assert cross_entropy(p, q).item() == pytest.approx(
            (entropy(p) + kl_divergence(p, q)).item(), rel=1e-10, abs=1e-12
        )

    @LAWS
    @given(distribution_pairs(q_elements=weights))
    def test_gibbs_inequality(self, pq):
        p, q = pq
        assert kl_divergence(p, q).item() >= -1e-14
        assert cross_entropy(p, q).item() >= entropy(p).item() - 1e-12

    @LAWS
    @given(distributions())
    def test_kl_of_p_with_itself_is_exactly_zero(self, p):
        assert kl_divergence(p, p).item() == 0.0
        assert cross_entropy(p, p).item() == pytest.approx(entropy(p).item(), rel=1e-15, abs=1e-300)

    @LAWS
    @given(distribution_pairs(), unit_bases)
    def test_kl_matches_scipy(self, pq, base):
        p, q = pq
        expected = scipy.stats.entropy(p.numpy(), q.numpy(), base=base)
        assert kl_divergence(p, q, base=base).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)

    @LAWS
    @given(distribution_pairs(), unit_bases)
    def test_units_are_a_rescaling(self, pq, base):
        p, q = pq
        for f in (cross_entropy, kl_divergence):
            assert f(p, q, base=base).item() == pytest.approx(f(p, q).item() / math.log(base), rel=1e-12, abs=1e-14)

    def test_inf_where_q_misses_the_support_of_p(self):
        p = torch.tensor([0.5, 0.5, 0.0], dtype=F64)
        q = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
        assert cross_entropy(p, q).item() == math.inf
        assert kl_divergence(p, q).item() == math.inf
        assert np.isinf(scipy.stats.entropy(p.numpy(), q.numpy()))

    def test_zero_p_contributes_nothing_even_where_q_is_zero(self):
        p = torch.tensor([0.5, 0.5, 0.0], dtype=F64)
        q = torch.tensor([0.5, 0.5, 0.0], dtype=F64)
        assert kl_divergence(p, q).item() == 0.0
        assert cross_entropy(p, q).item() == pytest.approx(math.log(2), rel=1e-15)

    def test_not_symmetric(self):
        p = torch.tensor([0.9, 0.1], dtype=F64)
        q = torch.tensor([0.5, 0.5], dtype=F64)
        assert kl_divergence(p, q).item() != pytest.approx(kl_divergence(q, p).item(), rel=1e-3)

    def test_batched_over_other_dims(self):
        g = torch.Generator().manual_seed(1)
        p = torch.softmax(torch.randn(4, 6, dtype=F64, generator=g), dim=0)
        q = torch.softmax(torch.randn(4, 6, dtype=F64, generator=g), dim=0)
        for f in (cross_entropy, kl_divergence):
            got = f(p, q, dim=0)
            assert got.shape == (6,)
            expected = torch.stack([f(p[:, j], q[:, j]) for j in range(6)])
            assert torch.allclose(got, expected, rtol=1e-14, atol=0)

    def test_gradients_match_formulas(self):
        p = torch.tensor([0.2, 0.3, 0.5], dtype=F64, requires_grad=True)
        q = torch.tensor([0.4, 0.4, 0.2], dtype=F64, requires_grad=True)
        cross_entropy(p, q).backward()
        assert torch.allclose(p.grad, -q.detach().log())
        assert torch.allclose(q.grad, -p.detach() / q.detach())

    def test_gradcheck(self):
        g = torch.Generator().manual_seed(2)
        zp = torch.randn(2, 4, dtype=F64, generator=g, requires_grad=True)
        zq = torch.randn(2, 4, dtype=F64, generator=g, requires_grad=True)
        for f in (cross_entropy, kl_divergence):
            assert torch.autograd.gradcheck(lambda a, b, f=f: f(simplex_point(a), simplex_point(b), base=2), (zp, zq))

    def test_gradients_finite_where_value_finite(self):
        # p = 0 where q = 0 (the value is finite), and p = 0 where q > 0.
        p = torch.tensor([0.0, 0.0, 0.5, 0.5], dtype=F64, requires_grad=True)
        q = torch.tensor([0.0, 0.2, 0.3, 0.5], dtype=F64, requires_grad=True)
        for f in (cross_entropy, kl_divergence):
            p.grad, q.grad = None, None
            value = f(p, q)
            value.backward()
            assert torch.isfinite(value)
            assert torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()
            assert q.grad[:2].tolist() == [0.0, 0.0]  # q does not matter where p = 0
        # At p = 0 < q the cross entropy's derivative in p is the finite -log q.
        assert p.grad[1].item() == pytest.approx(-math.log(0.2))


class TestJointConditionalMutual:
    @LAWS
    @given(joints())
    def test_chain_rule(self, pxy):
        hx = entropy(marginals(pxy)[0])
        assert joint_entropy(pxy).item() == pytest.approx((hx + conditional_entropy(pxy)).item(), rel=1e-10, abs=1e-12)

    @LAWS
    @given(joints())
    def test_conditioning_reduces_entropy(self, pxy):
        h_y_given_x = conditional_entropy(pxy).item()
        assert 0.0 <= h_y_given_x <= entropy(marginals(pxy)[1]).item() + 1e-12

    @LAWS
    @given(joints())
    def test_mutual_information_identities(self, pxy):
        hx, hy = (entropy(m) for m in marginals(pxy))
        mi = mutual_information(pxy).item()
        assert mi >= -1e-14
        assert mi == pytest.approx((hx + hy - joint_entropy(pxy)).item(), rel=1e-9, abs=1e-12)
        assert mi == pytest.approx((hy - conditional_entropy(pxy)).item(), rel=1e-9, abs=1e-12)
        assert mi == pytest.approx(mutual_information(pxy.T).item(), rel=1e-9, abs=1e-12)  # symmetric

    @LAWS
    @given(distributions(max_size=6), distributions(max_size=6))
    def test_independent_variables_share_nothing(self, px, py):
        pxy = torch.outer(px, py)
        assume(abs(pxy.sum().item() - 1) < 1e-14)
        assert mutual_information(pxy).item() == pytest.approx(0.0, abs=1e-13)
        assert joint_entropy(pxy).item() == pytest.approx((entropy(px) + entropy(py)).item(), rel=1e-10, abs=1e-12)

    def test_copy_shares_everything(self):
        pxy = torch.diag(torch.tensor([0.5, 0.25, 0.25], dtype=F64))
        assert mutual_information(pxy, base=2).item() == pytest.approx(1.5, rel=1e-14)
        assert conditional_entropy(pxy).item() == 0.0

    def test_joint_entropy_matches_scipy(self):
        pxy = torch.tensor([[0.1, 0.2, 0.0], [0.3, 0.05, 0.35]], dtype=F64)
        assert joint_entropy(pxy, base=2).item() == pytest.approx(scipy.stats.entropy(pxy.flatten().numpy(), base=2))

    @LAWS
    @given(joints(), unit_bases)
    def test_units_are_a_rescaling(self, pxy, base):
        for f in (joint_entropy, conditional_entropy, mutual_information):
            assert f(pxy, base=base).item() == pytest.approx(f(pxy).item() / math.log(base), rel=1e-12, abs=1e-14)

    def test_batched_over_leading_dims(self):
        pxy = torch.softmax(torch.randn(3, 2, 12, dtype=F64, generator=torch.Generator().manual_seed(3)), -1)
        pxy = pxy.reshape(3, 2, 3, 4)
        for f in (joint_entropy, conditional_entropy, mutual_information):
            got = f(pxy)
            assert got.shape == (3, 2)
            expected = torch.stack([torch.stack([f(pxy[i, j]) for j in range(2)]) for i in range(3)])
            assert torch.allclose(got, expected, rtol=1e-14, atol=1e-15)

    def test_gradcheck(self):
        z = torch.randn(2, 6, dtype=F64, generator=torch.Generator().manual_seed(4), requires_grad=True)
        for f in (joint_entropy, conditional_entropy, mutual_information):
            assert torch.autograd.gradcheck(lambda t, f=f: f(simplex_point(t).reshape(2, 2, 3), base=2), (z,))

    def test_gradients_finite_with_empty_cells(self):
        pxy = torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=F64, requires_grad=True)
        for f in (joint_entropy, conditional_entropy, mutual_information):
            pxy.grad = None
            f(pxy).backward()
            assert torch.isfinite(pxy.grad).all()


class TestPerplexity:
    @pytest.mark.parametrize("k", [1, 2, 10, 50257])
    def test_uniform_over_k_has_perplexity_k(self, k):
        uniform = torch.full((k,), 1 / k, dtype=F64)
        assert perplexity(entropy(uniform)).item() == pytest.approx(k, rel=1e-10)
        assert perplexity(entropy(uniform, base=2), base=2).item() == pytest.approx(k, rel=1e-10)

    def test_exp_of_mean_cross_entropy_in_nats_and_two_to_the_bits(self):
        g = torch.Generator().manual_seed(5)
        logits = torch.randn(32, 7, dtype=F64, generator=g)
        target = torch.randint(0, 7, (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(logits, target)  # mean, in nats
        assert perplexity(loss).item() == pytest.approx(math.exp(loss.item()), rel=1e-14)
        assert perplexity(loss / math.log(2), base=2).item() == pytest.approx(math.exp(loss.item()), rel=1e-13)

    def test_zero_and_inf(self):
        assert perplexity(torch.tensor([0.0, math.inf])).tolist() == [1.0, math.inf]

    def test_gradient(self):
        h = torch.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: perplexity(t, base=2), (h,))

    @pytest.mark.parametrize("bad", [-0.5, float("nan")])
    def test_rejects_negative_or_nan(self, bad):
        with pytest.raises(
            ValueError, match=r"^cross_entropy_value must hold cross entropies >= 0 \(in units of base\); got"
        ):
            perplexity(torch.tensor([1.0, bad]))


class TestBadInput:
    two_args = [cross_entropy, kl_divergence]
    joint_fns = [joint_entropy, conditional_entropy, mutual_information]

    def test_negative_probability_is_named(self):
        with pytest.raises(ValueError, match=r"^p must hold probabilities in \[0, 1\]"):
            entropy([1.2, -0.2])
        for f in self.two_args:
            with pytest.raises(ValueError, match=r"^p must hold probabilities"):
                f([1.2, -0.2], [0.5, 0.5])
            with pytest.raises(ValueError, match=r"^q must hold probabilities"):
                f([0.5, 0.5], [1.2, -0.2])
        for f in self.joint_fns:
            with pytest.raises(ValueError, match=r"^pxy must hold probabilities"):
                f([[0.6, -0.1], [0.25, 0.25]])

    def test_not_summing_to_one_is_named(self):
        with pytest.raises(ValueError, match=r"^p must sum to 1 along dim -1"):
            entropy([0.5, 0.6])
        for f in self.two_args:
            with pytest.raises(ValueError, match=r"^p must sum to 1"):
                f([0.5, 0.4], [0.5, 0.5])
            with pytest.raises(ValueError, match=r"^q must sum to 1 along dim 0"):
                f([0.5, 0.5], [0.5, 0.4], dim=0)
        for f in self.joint_fns:
            with pytest.raises(ValueError, match=r"^pxy must sum to 1 along dim \(-2, -1\)"):
                f([[0.5, 0.5], [0.5, 0.5]])

    def test_sum_tolerance_scales_with_dtype(self):
        nearly = [0.5, 0.5 + 1e-6]
        assert torch.isfinite(entropy(torch.tensor(nearly, dtype=torch.float32)))
        with pytest.raises(ValueError, match=r"^p must sum to 1"):
            entropy(torch.tensor(nearly, dtype=F64))

    def test_mismatched_shapes_name_both(self):
        for f in self.two_args:
            with pytest.raises(
                ValueError, match=r"^p and q must have the same shape; got p of shape \(2,\) and q of shape \(3,\)"
            ):
                f([0.5, 0.5], [0.2, 0.3, 0.5])

    def test_joint_must_be_at_least_2d(self):
        for f in self.joint_fns:
            with pytest.raises(
                ValueError, match=r"^pxy has shape \(4,\); expected at least 2 dimensions \(the outcomes\)$"
            ):
                f([0.25, 0.25, 0.25, 0.25])

    def test_zero_dim_and_bad_dim(self):
        with pytest.raises(ValueError, match=r"^p has shape \(\); expected at least one dimension \(the outcomes\)$"):
            entropy(1.0)
        with pytest.raises(IndexError, match=r"^dim 2 is out of range for p with 1 dimension\(s\)$"):
            entropy([0.5, 0.5], dim=2)
        with pytest.raises(TypeError, match=r"^dim must be an int; got 1.0 \(float\)$"):
            entropy([0.5, 0.5], dim=1.0)

    @pytest.mark.parametrize(
        ("base", "error"),
        [
            (1, ValueError),
            (0, ValueError),
            (-2, ValueError),
            (float("nan"), ValueError),
            ("2", TypeError),
            (None, TypeError),
        ],
    )
    def test_bad_base(self, base, error):
        calls = [
            lambda: entropy([0.5, 0.5], base=base),
            lambda: cross_entropy([0.5, 0.5], [0.5, 0.5], base=base),
            lambda: kl_divergence([0.5, 0.5], [0.5, 0.5], base=base),
            lambda: perplexity(1.0, base=base),
        ] + [lambda f=f: f([[0.5, 0.0], [0.0, 0.5]], base=base) for f in self.joint_fns]
        for call in calls:
            with pytest.raises(error, match=r"^base must be a finite real number > 0 and != 1; got"):
                call()

    def test_non_numeric(self):
        with pytest.raises(TypeError, match=r"^q must"):
            cross_entropy([0.5, 0.5], "uniform")
        with pytest.raises(TypeError, match=r"^pxy has dtype torch.bool; it must hold real numbers"):
            joint_entropy(torch.tensor([[True, False]]))
