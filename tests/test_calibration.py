"""Tests of celib.calibration: reliability bins, expected calibration error, temperature scaling."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from celib.calibration import ReliabilityCurve, expected_calibration_error, fit_temperature, reliability_curve
from tests.strategies import F64


def two_class(confidences, predicted_right):
    """Binary predictions for class 0 with the given confidences; labels make them right or wrong."""
    c = torch.tensor(confidences, dtype=F64)
    probs = torch.stack([c, 1 - c], dim=1)  # argmax is class 0 when c > 0.5
    labels = torch.tensor([0 if right else 1 for right in predicted_right])
    return probs, labels


def ece_by_loop(probs, labels, n_bins):
    """Reference ECE written as a plain loop over bins (c in (lo, hi])."""
    confidence, prediction = probs.max(dim=1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(len(labels)) if lo < confidence[i].item() <= hi]
        if members:
            acc = sum(prediction[i].item() == labels[i].item() for i in members) / len(members)
            conf = sum(confidence[i].item() for i in members) / len(members)
            total += len(members) / len(labels) * abs(acc - conf)
    return total


def sample_labels(probs, seed):
    return torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed)).squeeze(1)


class TestExpectedCalibrationError:
    def test_calibrated_by_hand_is_zero(self):
        probs, labels = two_class([0.75] * 4, [True, True, True, False])  # 75% confident, 75% right
        assert expected_calibration_error(probs, labels).item() == 0.0

    def test_overconfident_by_hand(self):
        probs, labels = two_class([0.9] * 4, [True, True, True, False])  # 90% confident, 75% right
        assert expected_calibration_error(probs, labels).item() == pytest.approx(0.15, abs=1e-12)

    def test_two_bins_by_hand(self):
        # bin (0.5, 1] with n_bins=2 holds all; with 10 bins: {0.6, 0.6} all right -> gap 0.4 (weight 1/2),
        # {0.95, 0.95} one right -> gap 0.45 (weight 1/2)
        probs, labels = two_class([0.6, 0.6, 0.95, 0.95], [True, True, True, False])
        assert expected_calibration_error(probs, labels, n_bins=10).item() == pytest.approx(0.425, abs=1e-12)
        assert expected_calibration_error(probs, labels, n_bins=1).item() == pytest.approx(abs(0.75 - 0.775), abs=1e-12)

    def test_sampled_from_its_own_probabilities_is_nearly_calibrated(self):
        g = torch.Generator().manual_seed(0)
        probs = (2 * torch.randn(20_000, 5, generator=g, dtype=F64)).softmax(dim=1)
        ece = expected_calibration_error(probs, sample_labels(probs, 1))
        assert ece < 0.02

    def test_overconfident_predictor_has_large_ece(self):
        g = torch.Generator().manual_seed(0)
        logits = 2 * torch.randn(20_000, 5, generator=g, dtype=F64)
        labels = sample_labels(logits.softmax(dim=1), 1)  # the truth: softmax(z)
        ece = expected_calibration_error((3 * logits).softmax(dim=1), labels)  # claims softmax(3 z)
        assert ece > 0.15

    @settings(max_examples=20)
    @given(seed=st.integers(0, 2**31 - 1), n_bins=st.integers(1, 20), num_classes=st.integers(2, 6))
    def test_matches_a_plain_loop(self, seed, n_bins, num_classes):
        g = torch.Generator().manual_seed(seed)
        probs = (3 * torch.randn(50, num_classes, generator=g, dtype=F64)).softmax(dim=1)
        labels = torch.randint(0, num_classes, (50,), generator=g)
        got = expected_calibration_error(probs, labels, n_bins=n_bins).item()
        assert got == pytest.approx(ece_by_loop(probs, labels, n_bins), abs=1e-12)
        assert 0.0 <= got <= 1.0

    def test_rejects_bad_input(self):
        probs, labels = two_class([0.9, 0.8], [True, False])
        with pytest.raises(ValueError, match=r"^probs must sum to 1 along dim 1"):
            expected_calibration_error(torch.tensor([[0.9, 0.3]]), torch.tensor([0]))
        with pytest.raises(ValueError, match=r"^probs has shape \(2,\); expected \(N, C\), one row per example$"):
            expected_calibration_error(probs[0], labels[0])
        with pytest.raises(TypeError, match=r"^probs must be a torch.Tensor; got list$"):
            expected_calibration_error([[0.5, 0.5]], torch.tensor([0]))
        with pytest.raises(
            TypeError, match=r"^target has dtype torch.float32; class-index targets must be torch.long or torch.uint8$"
        ):
            expected_calibration_error(probs, labels.float())
        with pytest.raises(IndexError, match=r"^target must hold class indices in \[0, 2\); got 2$"):
            expected_calibration_error(probs, torch.tensor([0, 2]))
        with pytest.raises(
            ValueError,
            match=r"^target has shape \(3,\); expected class indices of shape \(2,\) for probs of shape \(2, 2\)$",
        ):
            expected_calibration_error(probs, torch.tensor([0, 1, 1]))
        for n_bins, error in ((0, ValueError), (2.5, TypeError), (True, TypeError)):
            with pytest.raises(error, match=r"^n_bins must be an int >= 1; got"):
                expected_calibration_error(probs, labels, n_bins=n_bins)

    def test_uint8_targets_are_class_indices(self):
        probs, labels = two_class([0.9, 0.8, 0.6], [True, False, True])
        assert expected_calibration_error(probs, labels.to(torch.uint8)) == expected_calibration_error(probs, labels)


class TestReliabilityCurve:
    def test_bins_by_hand(self):
        probs, labels = two_class([0.55, 0.7, 0.75, 0.95, 1.0], [True, False, True, True, True])
        curve = reliability_curve(probs, labels, n_bins=4)
        assert isinstance(curve, ReliabilityCurve)
        assert curve.edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert curve.count.tolist() == [0, 0, 3, 2]  # 0.75 falls in (0.5, 0.75]
        assert curve.confidence[2:].tolist() == pytest.approx([(0.55 + 0.7 + 0.75) / 3, 0.975])
        assert curve.accuracy[2:].tolist() == pytest.approx([2 / 3, 1.0])
        assert torch.isnan(curve.confidence[:2]).all() and torch.isnan(curve.accuracy[:2]).all()

    def test_bin_edges_belong_to_the_lower_bin(self):
        probs, labels = two_class([0.5, 0.6, 0.8], [True, True, True])
        curve = reliability_curve(
            torch.cat([probs, torch.tensor([[1.0, 0.0]], dtype=F64)]),
            torch.cat([labels, torch.tensor([0])]),
            n_bins=5,
        )
        assert curve.count.tolist() == [0, 0, 2, 1, 1]  # 0.5 and 0.6 -> (0.4, 0.6]; 0.8 -> (0.6, 0.8]; 1 -> (0.8, 1]

    @settings(max_examples=15)
    @given(seed=st.integers(0, 2**31 - 1), n_bins=st.integers(1, 30))
    def test_bins_are_consistent(self, seed, n_bins):
        g = torch.Generator().manual_seed(seed)
        probs = (3 * torch.randn(100, 4, generator=g, dtype=F64)).softmax(dim=1)
        labels = torch.randint(0, 4, (100,), generator=g)
        curve = reliability_curve(probs, labels, n_bins=n_bins)
        filled = curve.count > 0
        assert curve.count.sum().item() == 100
        lo, hi = curve.edges[:-1][filled], curve.edges[1:][filled]
        assert ((curve.confidence[filled] > lo) & (curve.confidence[filled] <= hi)).all()
        correct = (probs.argmax(1) == labels).double()
        total_correct = (curve.accuracy[filled] * curve.count[filled]).sum()
        assert total_correct.item() == pytest.approx(correct.sum().item())


class TestFitTemperature:
    @pytest.mark.parametrize("true_temperature", [0.5, 2.0])
    def test_recovers_a_known_temperature(self, true_temperature):
        g = torch.Generator().manual_seed(0)
        logits = 3 * torch.randn(20_000, 5, generator=g, dtype=F64)
        labels = sample_labels((logits / true_temperature).softmax(dim=1), 1)
        fitted = fit_temperature(logits, labels)
        assert abs(fitted - true_temperature) < 0.05 * true_temperature

    def test_is_a_minimum_of_the_nll(self):
        g = torch.Generator().manual_seed(1)
        logits = 3 * torch.randn(500, 4, generator=g, dtype=F64)
        labels = sample_labels((logits / 1.7).softmax(dim=1), 2)
        t = torch.tensor(fit_temperature(logits, labels), dtype=F64, requires_grad=True)
        nll = F.cross_entropy(logits / t, labels)
        (grad,) = torch.autograd.grad(nll, t)
        assert abs(grad.item()) < 1e-6
        for nearby in (0.9 * t.item(), 1.1 * t.item(), 1.0):
            assert nll.item() <= F.cross_entropy(logits / nearby, labels).item()

    def test_matches_the_closed_form_for_one_logit_gap(self):
        # Two classes, logit gap 2, 3 of 4 right: the best softmax(2 / T) is 3/4, so T = 2 / ln 3.
        logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 0.0]], dtype=F64)
        assert fit_temperature(logits, torch.tensor([0, 0, 0, 1])) == pytest.approx(2 / math.log(3), rel=1e-6)

    def test_scaling_keeps_every_prediction(self):
        g = torch.Generator().manual_seed(2)
        logits = 4 * torch.randn(300, 6, generator=g, dtype=F64)
        labels = sample_labels((logits / 3).softmax(dim=1), 3)  # the model is overconfident: true T = 3
        fitted = fit_temperature(logits, labels)
        assert fitted > 2
        assert torch.equal((logits / fitted).argmax(1), logits.argmax(1))

    def test_leaves_its_input_alone(self):
        logits = torch.randn(10, 3, requires_grad=True)  # float32 and requiring grad
        before = logits.detach().clone()
        assert isinstance(fit_temperature(logits, torch.zeros(10, dtype=torch.long)), float)
        assert logits.grad is None and torch.equal(logits.detach(), before)

    def test_rejects_bad_input(self):
        with pytest.raises(ValueError, match=r"^logits has shape \(3,\); expected \(N, C\)"):
            fit_temperature(torch.zeros(3), torch.tensor(0))
        with pytest.raises(TypeError, match=r"^target has dtype torch.float32"):
            fit_temperature(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
        with pytest.raises(
            ValueError,
            match=r"^target has shape \(1,\); expected class indices of shape \(2,\) for logits of shape \(2, 3\)$",
        ):
            fit_temperature(torch.zeros(2, 3), torch.tensor([0]))
        with pytest.raises(ValueError, match=r"^max_iter must be an int >= 1; got 0$"):
            fit_temperature(torch.zeros(2, 3), torch.tensor([0, 1]), max_iter=0)


def equal_mass_ece_by_loop(probs, labels, n_bins):
    """Reference equal-mass ECE: sort by confidence, cut the sorted list at ranks floor(bN/n)."""
    confidence, prediction = probs.max(dim=1)
    order = confidence.argsort().tolist()
    n = len(order)
    total = 0.0
    for b in range(n_bins):
        members = order[b * n // n_bins : (b + 1) * n // n_bins]
        if members:
            acc = sum(prediction[i].item() == labels[i].item() for i in members) / len(members)
            conf = sum(confidence[i].item() for i in members) / len(members)
            total += len(members) / n * abs(acc - conf)
    return total


class TestEqualMassBins:
    def test_counts_by_hand(self):
        probs, labels = two_class([0.55, 0.7, 0.75, 0.95, 1.0, 0.6], [True] * 6)
        curve = reliability_curve(probs, labels, n_bins=3, binning="mass")
        assert curve.count.tolist() == [2, 2, 2]
        assert curve.edges.tolist() == [0.0, 0.6, 0.75, 1.0]  # the largest confidence of each bin

    @settings(max_examples=20)
    @given(seed=st.integers(0, 2**31 - 1), n_bins=st.integers(1, 20), n=st.integers(1, 80))
    def test_matches_a_plain_loop(self, seed, n_bins, n):
        g = torch.Generator().manual_seed(seed)
        probs = (3 * torch.randn(n, 4, generator=g, dtype=F64)).softmax(dim=1)  # distinct confidences
        labels = torch.randint(0, 4, (n,), generator=g)
        curve = reliability_curve(probs, labels, n_bins=n_bins, binning="mass")
        sizes = [(b + 1) * n // n_bins - b * n // n_bins for b in range(n_bins)]
        assert curve.count.tolist() == sizes  # floor(N/n) or ceil(N/n) each
        got = expected_calibration_error(probs, labels, n_bins=n_bins, binning="mass").item()
        assert got == pytest.approx(equal_mass_ece_by_loop(probs, labels, n_bins), abs=1e-12)

    def test_width_is_the_default(self):
        probs, labels = two_class([0.55, 0.7, 0.75, 0.95, 1.0, 0.6], [True, False, True, True, False, True])
        assert expected_calibration_error(probs, labels, 4) == expected_calibration_error(
            probs, labels, 4, binning="width"
        )
        assert expected_calibration_error(probs, labels, 4) != expected_calibration_error(
            probs, labels, 4, binning="mass"
        )

    def test_tied_confidences_share_a_bin(self):
        probs, labels = two_class([0.8] * 5 + [0.9], [True] * 6)
        curve = reliability_curve(probs, labels, n_bins=3, binning="mass")
        assert curve.count.tolist() == [5, 0, 1]  # the five ties fall in the lowest bin

    def test_more_bins_than_predictions_leaves_bins_empty(self):
        probs, labels = two_class([0.7, 0.9], [True, False])
        curve = reliability_curve(probs, labels, n_bins=5, binning="mass")
        assert curve.count.sum().item() == 2 and (curve.count <= 1).all()

    def test_rejects_bad_binning_and_no_rows(self):
        probs, labels = two_class([0.9, 0.8], [True, False])
        with pytest.raises(ValueError, match=r"^binning must be one of 'width', 'mass'; got 'quantile'$"):
            expected_calibration_error(probs, labels, binning="quantile")
        with pytest.raises(TypeError, match=r"^binning must be one of 'width', 'mass'; got 1 \(int\)$"):
            reliability_curve(probs, labels, binning=1)
        with pytest.raises(ValueError, match=r"^probs has 0 rows; binning='mass' needs at least one prediction"):
            expected_calibration_error(probs[:0], labels[:0], binning="mass")


class TestBinningBias:
    """The docstring's claim: a calibrated model's expected ECE is about sum_b |B_b|/N sigma_b sqrt(2/pi) > 0."""

    def test_one_bin_matches_the_normal_approximation(self):
        n, c, repeats = 400, 0.7, 2000
        probs = torch.tensor([[c, 1 - c]], dtype=F64).expand(n, 2)
        g = torch.Generator().manual_seed(0)
        eces = torch.stack(
            [expected_calibration_error(probs, (torch.rand(n, generator=g) > c).long(), 1) for _ in range(repeats)]
        )
        predicted = math.sqrt(c * (1 - c) / n) * math.sqrt(2 / math.pi)
        assert eces.mean().item() == pytest.approx(predicted, rel=0.05)

    def test_bias_shrinks_with_n_and_grows_with_bins(self):
        g = torch.Generator().manual_seed(1)

        def mean_ece(n, n_bins, binning):
            values = []
            for _ in range(60):
                probs = (2 * torch.randn(n, 5, generator=g, dtype=F64)).softmax(dim=1)
                labels = torch.multinomial(probs, 1, generator=g).squeeze(1)  # calibrated by construction
                values.append(expected_calibration_error(probs, labels, n_bins, binning=binning))
            return torch.stack(values).mean().item()

        for binning in ("width", "mass"):
            small, large = mean_ece(200, 15, binning), mean_ece(20_000, 15, binning)
            assert small > 0 and 5 < small / large < 20  # about sqrt(100) = 10
            assert mean_ece(2000, 5, binning) < mean_ece(2000, 50, binning)
