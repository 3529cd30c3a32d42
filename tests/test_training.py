"""Tests of celib.training: the focal loss, gradient accumulation over micro-batches, and the loop."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from celib.training import (
    History,
    accumulate_cross_entropy,
    evaluate,
    fit,
    focal_loss,
    logit_adjusted_cross_entropy,
    train_epoch,
)
from tests.strategies import F64, classification_problem


def random_problem(seed, n=7, num_classes=5, extra=(), ignore_fraction=0.0):
    """Logits (n, C, *extra), targets (n, *extra) with some set to -100, per-class weights (C,)."""
    return classification_problem((n, num_classes, *extra), seed, ignored=ignore_fraction)


class TestFocalLoss:
    def test_hand_computed_value(self):
        logits = torch.tensor([[math.log(0.9), math.log(0.1)]], dtype=F64)  # p_t = 0.9 for class 0
        got = focal_loss(logits, torch.tensor([0]), gamma=2.0)
        assert got.item() == pytest.approx(-(0.1**2) * math.log(0.9), rel=1e-12)

    @settings(max_examples=25)
    @given(seed=st.integers(0, 2**31 - 1), use_weight=st.booleans(), reduction=st.sampled_from(["none", "mean", "sum"]))
    def test_gamma_zero_is_cross_entropy(self, seed, use_weight, reduction):
        logits, target, weight = random_problem(seed, extra=(3,), ignore_fraction=0.3)
        target[0, 0] = 1  # at least one kept element, so the mean is defined
        weight = weight if use_weight else None
        got = focal_loss(logits, target, gamma=0.0, weight=weight, reduction=reduction)
        expected = F.cross_entropy(logits, target, weight=weight, reduction=reduction)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)

    def test_gamma_zero_gradient_is_cross_entropy_gradient(self):
        logits, target, weight = random_problem(0, ignore_fraction=0.3)
        target[0] = 2
        a = logits.clone().requires_grad_()
        b = logits.clone().requires_grad_()
        focal_loss(a, target, gamma=0.0, weight=weight).backward()
        F.cross_entropy(b, target, weight=weight).backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-14)

    @pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
    def test_gradient_matches_closed_form(self, gamma):
        # d FL / d z_k = FL'(p_t) * p_t * ([k = t] - p_k), with FL'(p) = gamma (1-p)^(gamma-1) ln p - (1-p)^gamma / p
        logits, target, _ = random_problem(1)
        z = logits.clone().requires_grad_()
        focal_loss(z, target, gamma=gamma, reduction="sum").backward()
        p = logits.softmax(dim=1)
        p_t = p.gather(1, target.unsqueeze(1))  # (n, 1)
        d_fl = gamma * (1 - p_t) ** (gamma - 1) * p_t.log() - (1 - p_t) ** gamma / p_t
        expected = d_fl * p_t * (F.one_hot(target, p.shape[1]).to(F64) - p)
        torch.testing.assert_close(z.grad, expected, rtol=1e-10, atol=1e-12)

    def test_gradcheck(self):
        logits, target, weight = random_problem(2, n=3, extra=(2,), ignore_fraction=0.3)
        target[0, 0] = 0
        z = logits.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda t: focal_loss(t, target, gamma=1.5, weight=weight), (z,))

    def test_mean_divides_by_the_sum_of_target_weights(self):
        logits, target, weight = random_problem(3, ignore_fraction=0.3)
        target[0] = 4
        per_element = focal_loss(logits, target, gamma=2.0, weight=weight, reduction="none")
        kept = target != -100
        expected = per_element.sum() / weight[target[kept]].sum()
        torch.testing.assert_close(focal_loss(logits, target, gamma=2.0, weight=weight), expected)

    def test_ignored_elements_have_no_loss_and_no_gradient(self):
        logits, target, _ = random_problem(4)
        target[[1, 3]] = -100
        z = logits.clone().requires_grad_()
        losses = focal_loss(z, target, gamma=2.0, reduction="none")
        assert losses[[1, 3]].tolist() == [0.0, 0.0] and (losses[[0, 2]] > 0).all()
        losses.sum().backward()
        assert (z.grad[[1, 3]] == 0).all() and (z.grad[0] != 0).any()

    def test_focusing_shrinks_easy_examples_most(self):
        logits = torch.tensor([[3.0, 0.0], [0.0, 3.0]], dtype=F64)  # easy, hard (target 0 for both)
        ratio = focal_loss(logits, torch.tensor([0, 0]), gamma=2.0, reduction="none") / F.cross_entropy(
            logits, torch.tensor([0, 0]), reduction="none"
        )
        assert ratio[0] < 0.01 < 0.8 < ratio[1] < 1

    def test_unbatched_input(self):
        logits, target, _ = random_problem(5)
        got = focal_loss(logits[2], target[2], gamma=2.0)
        assert got.shape == () and torch.allclose(got, focal_loss(logits[2:3], target[2:3], gamma=2.0))

    def test_no_nan_gradient_for_a_certain_prediction(self):
        z = torch.tensor([[0.0, -800.0]], dtype=F64, requires_grad=True)  # p_t = 1 exactly
        for gamma in (0.0, 0.5, 2.0):
            z.grad = None
            focal_loss(z, torch.tensor([0]), gamma=gamma).backward()
            assert torch.isfinite(z.grad).all()

    @pytest.mark.parametrize(
        ("gamma", "error"),
        [
            (-1.0, ValueError),
            (float("nan"), ValueError),
            (float("inf"), ValueError),
            ("2", TypeError),
            (True, TypeError),
        ],
    )
    def test_rejects_bad_gamma(self, gamma, error):
        with pytest.raises(error, match=r"^gamma must be a finite real number >= 0; got"):
            focal_loss(torch.zeros(2, 3), torch.tensor([0, 1]), gamma=gamma)

    def test_rejects_bad_targets_and_weights(self):
        logits = torch.zeros(2, 3)
        with pytest.raises(
            TypeError, match=r"^target has dtype torch.float32; class-index targets must be torch.long or torch.uint8$"
        ):
            focal_loss(logits, torch.tensor([0.0, 1.0]))
        with pytest.raises(IndexError, match=r"^target must hold class indices in \[0, 3\)"):
            focal_loss(logits, torch.tensor([0, 3]))
        with pytest.raises(ValueError, match=r"^target has shape \(3,\)"):
            focal_loss(logits, torch.tensor([0, 1, 2]))
        with pytest.raises(
            ValueError, match=r"^target has the input's shape \(2, 3\), the shape of probability targets"
        ):
            focal_loss(logits, torch.full((2, 3), 1 / 3))
        with pytest.raises(
            ValueError, match=r"^weight has shape \(2,\); expected \(C,\) = \(3,\), one weight per class$"
        ):
            focal_loss(logits, torch.tensor([0, 1]), weight=torch.ones(2))
        with pytest.raises(ValueError, match=r"^reduction must be one of"):
            focal_loss(logits, torch.tensor([0, 1]), reduction="avg")


class TinyModel(nn.Module):
    """Linear classifier on the last dimension: (..., 4) -> (..., 3)."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(4, 3, dtype=F64)

    def forward(self, x):
        return self.linear(x)


def padded_micro_batches(lengths, group_sizes, seed=0):
    """Sequences of the given lengths padded with -100, grouped into micro-batches."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(len(lengths), max(lengths), 4, generator=g, dtype=F64)
    targets = torch.randint(0, 3, (len(lengths), max(lengths)), generator=g)
    for b, n in enumerate(lengths):
        targets[b, n:] = -100
    starts = [sum(group_sizes[:m]) for m in range(len(group_sizes))]
    micro = [(inputs[s : s + k], targets[s : s + k]) for s, k in zip(starts, group_sizes)]
    return inputs, targets, micro


def grads_of(model):
    return [p.grad.clone() for p in model.parameters()]


class TestAccumulateCrossEntropy:
    @settings(max_examples=20)
    @given(
        lengths=st.lists(st.integers(1, 6), min_size=2, max_size=6),
        seed=st.integers(0, 1000),
        use_weight=st.booleans(),
    )
    def test_global_normalisation_equals_the_full_batch(self, lengths, seed, use_weight):
        group_sizes = [1] * len(lengths)  # one sequence per micro-batch: valid counts differ
        inputs, targets, micro = padded_micro_batches(lengths, group_sizes, seed)
        weight = torch.tensor([0.5, 2.0, 1.0], dtype=F64) if use_weight else None
        model = TinyModel(seed)
        full = F.cross_entropy(model(inputs).reshape(-1, 3), targets.reshape(-1), weight=weight)
        full_grads = torch.autograd.grad(full, list(model.parameters()))
        loss = accumulate_cross_entropy(model, micro, weight=weight, class_dim=-1)
        torch.testing.assert_close(loss, full.detach(), rtol=1e-12, atol=1e-12)
        for got, expected in zip(grads_of(model), full_grads):
            torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)

    def test_per_micro_batch_means_are_biased_when_counts_differ(self):
        inputs, targets, micro = padded_micro_batches([5, 1, 3], [1, 1, 1])
        model = TinyModel()
        full = F.cross_entropy(model(inputs).reshape(-1, 3), targets.reshape(-1))
        full_grads = torch.autograd.grad(full, list(model.parameters()))
        loss = accumulate_cross_entropy(model, micro, class_dim=-1, normalization="per_micro_batch")
        means = [F.cross_entropy(model(x).reshape(-1, 3), t.reshape(-1)) for x, t in micro]
        torch.testing.assert_close(loss, (sum(means) / 3).detach())  # the average of the means...
        gap = max((g - f).abs().max().item() for g, f in zip(grads_of(model), full_grads))
        assert gap > 1e-3  # ...which is not the full-batch gradient

    def test_per_micro_batch_means_are_exact_when_counts_are_equal(self):
        inputs, targets, micro = padded_micro_batches([4, 2, 3, 3], [2, 2])  # 6 valid targets each
        model = TinyModel()
        global_loss = accumulate_cross_entropy(model, micro, class_dim=-1)
        global_grads = grads_of(model)
        model.zero_grad()
        per_loss = accumulate_cross_entropy(model, micro, class_dim=-1, normalization="per_micro_batch")
        torch.testing.assert_close(per_loss, global_loss)
        for got, expected in zip(grads_of(model), global_grads):
            torch.testing.assert_close(got, expected)

    def test_gradients_add_to_existing_grad(self):
        _, _, micro = padded_micro_batches([3, 2], [1, 1])
        model = TinyModel()
        accumulate_cross_entropy(model, micro, class_dim=-1)
        once = grads_of(model)
        accumulate_cross_entropy(model, micro, class_dim=-1)
        for twice, single in zip(grads_of(model), once):
            torch.testing.assert_close(twice, 2 * single)

    def test_class_dim_1_is_the_default(self):
        """A model whose logits have the classes in dim 1, (N, C, T), as F.cross_entropy expects."""
        _, _, micro = padded_micro_batches([3, 2, 4], [1, 2])
        model = TinyModel()
        last = accumulate_cross_entropy(model, micro, class_dim=-1)
        last_grads = grads_of(model)
        model.zero_grad()
        classes_first = ClassesInDim1(model)
        torch.testing.assert_close(accumulate_cross_entropy(classes_first, micro), last)
        for got, expected in zip(grads_of(model), last_grads):
            torch.testing.assert_close(got, expected)

    def test_rejects_bad_input(self):
        model = TinyModel()
        x = torch.zeros(2, 4, dtype=F64)
        with pytest.raises(ValueError, match=r"^normalization must be one of 'global', 'per_micro_batch'; got 'mean'$"):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 1]))], normalization="mean")
        with pytest.raises(ValueError, match=r"^micro_batches must hold at least one"):
            accumulate_cross_entropy(model, [])
        with pytest.raises(
            TypeError,
            match=r"^micro_batches\[1\] target has dtype torch.float32; class-index targets must be torch.long or "
            r"torch.uint8$",
        ):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 1])), (x, torch.tensor([0.0, 1.0]))])
        with pytest.raises(ValueError, match=r"^micro_batches hold no valid target"):
            accumulate_cross_entropy(model, [(x, torch.tensor([-100, -100]))])
        with pytest.raises(ValueError, match=r"^micro_batches\[1\] holds no valid target"):
            accumulate_cross_entropy(
                model, [(x, torch.tensor([0, 1])), (x, torch.tensor([-100, -100]))], normalization="per_micro_batch"
            )
        with pytest.raises(
            IndexError,
            match=r"^micro_batches\[0\] target must hold class indices in \[0, 3\) or ignore_index=-100; got 5$",
        ):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 5]))])
        with pytest.raises(
            ValueError, match=r"^weight has shape \(2,\); expected \(C,\) = \(3,\), one weight per class$"
        ):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 2]))], weight=torch.ones(2, dtype=F64))
        with pytest.raises(ValueError, match=r"^weight must hold finite values >= 0; got -1.0$"):
            accumulate_cross_entropy(
                model, [(x, torch.tensor([0, 2]))], weight=torch.tensor([1.0, -1.0, 1.0], dtype=F64)
            )
        with pytest.raises(
            TypeError, match=r"^weight has dtype torch.float32; it must match the logits' dtype torch.float64$"
        ):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 2]))], weight=torch.ones(3))
        with pytest.raises(TypeError, match=r"^ignore_index must be an int; got 1.5 \(float\)$"):
            accumulate_cross_entropy(model, [(x, torch.tensor([0, 2]))], ignore_index=1.5)
        with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module; got NoneType$"):
            accumulate_cross_entropy(None, [(x, torch.tensor([0, 2]))])
        with pytest.raises(
            ValueError,
            match=r"^the model's output on micro_batches\[0\] has shape \(2, 3\); expected the target's shape \(2, 1\)",
        ):
            accumulate_cross_entropy(model, [(x, torch.tensor([[0], [2]]))])


class ClassesInDim1(nn.Module):
    """Wraps a model with (..., C) logits into one with (N, C, ...) logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x).movedim(-1, 1)


def toy_data(seed=0, n=40):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=F64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()  # 3 classes, learnable
    return x, y


class TestLoop:
    def run(self, shuffle_seed=1, epochs=3):
        model = TinyModel(0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        generator = torch.Generator().manual_seed(shuffle_seed)
        return fit(
            model,
            optimizer,
            F.cross_entropy,
            toy_data(0),
            toy_data(1),
            epochs=epochs,
            batch_size=8,
            generator=generator,
        )

    def test_same_seeds_give_identical_histories(self):
        first, second = self.run(), self.run()
        assert first == second
        assert first != self.run(shuffle_seed=2)  # the generator really decides the order

    def test_history_starts_with_the_untrained_model(self):
        history = self.run(epochs=4)
        assert isinstance(history, History)
        assert all(len(values) == 5 for values in vars(history).values())
        assert (history.train_loss[0], history.train_accuracy[0]) == evaluate(TinyModel(0), toy_data(0))
        assert history.train_loss[-1] < history.train_loss[0]

    def test_without_validation_the_val_lists_stay_empty(self):
        model = TinyModel()
        history = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, toy_data(), epochs=2)
        assert history.val_loss == [] and len(history.train_loss) == 3

    def test_evaluate_matches_a_direct_computation(self):
        model = TinyModel()
        x, y = toy_data()
        loss, accuracy = evaluate(model, (x, y))
        with torch.no_grad():
            logits = model(x)
        assert loss == F.cross_entropy(logits, y).item()
        assert accuracy == (logits.argmax(1) == y).sum().item() / len(y)

    def test_evaluate_uses_eval_mode_and_restores_training_mode(self):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16, dtype=F64), nn.Dropout(0.5), nn.Linear(16, 3, dtype=F64))
        x, y = toy_data()
        assert evaluate(model, (x, y)) == evaluate(model, (x, y))  # no dropout noise
        assert model.training

    def test_full_batch_epoch_is_one_gradient_step(self):
        x, y = toy_data()
        model, reference = TinyModel(), TinyModel()
        loss = train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.3), F.cross_entropy, (x, y))
        expected = F.cross_entropy(reference(x), y)
        grads = torch.autograd.grad(expected, list(reference.parameters()))
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        for p, q, g in zip(model.parameters(), reference.parameters(), grads):
            torch.testing.assert_close(p.detach(), q.detach() - 0.3 * g)

    def test_epoch_loss_is_the_size_weighted_mean_of_batch_losses(self):
        x, y = toy_data(n=20)
        model = TinyModel()
        order = torch.randperm(20, generator=torch.Generator().manual_seed(5))
        loss = train_epoch(
            model,
            torch.optim.SGD(model.parameters(), lr=0.0),
            F.cross_entropy,
            (x, y),
            batch_size=8,
            generator=torch.Generator().manual_seed(5),
        )
        sizes = [8, 8, 4]
        batch_losses = [F.cross_entropy(model(x[idx]), y[idx]).item() for idx in order.split(8)]
        assert loss == pytest.approx(sum(n * b for n, b in zip(sizes, batch_losses)) / 20, rel=1e-12)

    def test_sampler_decides_the_examples(self):
        x, y = toy_data()
        model, reference = TinyModel(), TinyModel()
        train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.3), F.cross_entropy, (x, y), sampler=[3, 3, 7])
        expected = F.cross_entropy(reference(x[[3, 3, 7]]), y[[3, 3, 7]])
        grads = torch.autograd.grad(expected, list(reference.parameters()))
        for p, q, g in zip(model.parameters(), reference.parameters(), grads):
            torch.testing.assert_close(p.detach(), q.detach() - 0.3 * g)

    def test_rejects_bad_arguments(self):
        model = TinyModel()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = toy_data()
        with pytest.raises(ValueError, match=r"^give either sampler or generator"):
            fit(model, optimizer, F.cross_entropy, (x, y), epochs=1, sampler=[0], generator=torch.Generator())
        with pytest.raises(ValueError, match=r"^batch_size must be an int >= 1 or None; got 0$"):
            train_epoch(model, optimizer, F.cross_entropy, (x, y), batch_size=0)
        with pytest.raises(TypeError, match=r"^batch_size must be an int >= 1 or None; got 2.5 \(float\)$"):
            train_epoch(model, optimizer, F.cross_entropy, (x, y), batch_size=2.5)
        with pytest.raises(ValueError, match=r"^epochs must be an int >= 0; got -1$"):
            fit(model, optimizer, F.cross_entropy, (x, y), epochs=-1)
        with pytest.raises(
            ValueError,
            match=r"^train has an input of shape \(40, 4\) and a target of shape \(39,\); expected the same number N",
        ):
            fit(model, optimizer, F.cross_entropy, (x, y[:-1]), epochs=1)
        with pytest.raises(
            TypeError,
            match=r"^val target has dtype torch.float64; class-index targets must be torch.long or torch.uint8$",
        ):
            fit(model, optimizer, F.cross_entropy, (x, y), (x, y.double()), epochs=1)
        with pytest.raises(TypeError, match=r"^train must be a pair \(input, target\) of tensors; got Tensor$"):
            fit(model, optimizer, F.cross_entropy, x, epochs=1)
        with pytest.raises(TypeError, match=r"^optimizer must be a torch.optim.Optimizer; got str$"):
            train_epoch(model, "sgd", F.cross_entropy, (x, y))
        with pytest.raises(
            IndexError, match=r"^data target must hold class indices in \[0, 3\); got 7 and 39 other bad value\(s\)$"
        ):
            evaluate(model, (x, torch.full((len(x),), 7)))
        with pytest.raises(ValueError, match=r"^data has an input of shape \(40, 4\) and a target of shape \(39,\)"):
            evaluate(model, (x, y[:-1]))
        with pytest.raises(
            TypeError,
            match=r"^data target has dtype torch.float64; class-index targets must be torch.long or torch.uint8$",
        ):
            evaluate(model, (x, y.double()))
        with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module; got NoneType$"):
            evaluate(None, (x, y))

    def test_uint8_targets_are_class_indices(self):
        model, (x, y) = TinyModel(), toy_data()
        assert evaluate(model, (x, y.to(torch.uint8))) == evaluate(model, (x, y))


class TestLogitAdjustedCrossEntropy:
    def prior(self, num_classes, seed=0):
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(num_classes, generator=g, dtype=F64) + 0.05).softmax(0)

    @pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
    @pytest.mark.parametrize("use_weight", [False, True])
    def test_matches_the_formula(self, reduction, use_weight):
        logits, target, weight = random_problem(3, n=9, num_classes=4, ignore_fraction=0.3)
        weight = weight if use_weight else None
        prior, tau = self.prior(4), 1.7
        got = logit_adjusted_cross_entropy(logits, target, weight, reduction=reduction, prior=prior, tau=tau)
        # naive: -w_y (z_y + tau ln pi_y) + w_y ln sum_k pi_k^tau e^{z_k}, 0 where ignored
        keep = target != -100
        safe = torch.where(keep, target, 0)
        w_y = (weight[safe] if weight is not None else torch.ones_like(logits[:, 0])) * keep
        z_y = logits.gather(1, safe[:, None]).squeeze(1)
        lse = torch.log((prior**tau * logits.exp()).sum(1))
        losses = w_y * (lse - z_y - tau * prior.log()[safe])
        expected = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / w_y.sum()}[reduction]
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)

    def test_tau_zero_is_cross_entropy_and_uniform_prior_changes_nothing(self):
        logits, target, _ = random_problem(1, n=6, num_classes=5)
        torch.testing.assert_close(
            logit_adjusted_cross_entropy(logits, target, prior=self.prior(5), tau=0.0), F.cross_entropy(logits, target)
        )
        uniform = torch.full((5,), 0.2, dtype=F64)
        torch.testing.assert_close(
            logit_adjusted_cross_entropy(logits, target, prior=uniform), F.cross_entropy(logits, target)
        )

    def test_zero_logits_give_the_prior_entropy(self):
        target = torch.tensor([0, 0, 0, 1, 2, 2])
        prior = torch.bincount(target).to(F64) / len(target)
        loss = logit_adjusted_cross_entropy(torch.zeros(6, 3, dtype=F64), target, prior=prior)
        assert loss.item() == pytest.approx(-(prior * prior.log()).sum().item(), rel=1e-12)

    def test_minimiser_is_the_log_of_the_balanced_distribution(self):
        # one input, labels with frequencies pi: the adjusted loss is minimised by z = ln(pi / pi) + const
        target = torch.tensor([0] * 6 + [1] * 3 + [2])
        prior = torch.tensor([0.6, 0.3, 0.1], dtype=F64)
        z = torch.zeros(1, 3, dtype=F64, requires_grad=True)
        optimizer = torch.optim.LBFGS([z], line_search_fn="strong_wolfe", tolerance_grad=1e-12)

        def closure():
            optimizer.zero_grad()
            loss = logit_adjusted_cross_entropy(z.expand(10, 3), target, prior=prior)
            loss.backward()
            return loss

        optimizer.step(closure)
        # plain cross entropy would learn softmax(z) = pi; the adjusted loss leaves the prior out
        torch.testing.assert_close(z.detach().softmax(1), torch.full((1, 3), 1 / 3, dtype=F64), atol=1e-6, rtol=0)

    def test_spatial_and_unbatched_inputs(self):
        logits, target, _ = random_problem(2, n=3, num_classes=4, extra=(5,))  # (3, 4, 5), (3, 5)
        prior = self.prior(4)
        flat = logits.movedim(1, -1).reshape(-1, 4)
        torch.testing.assert_close(
            logit_adjusted_cross_entropy(logits, target, prior=prior),
            logit_adjusted_cross_entropy(flat, target.reshape(-1), prior=prior),
        )
        one = logit_adjusted_cross_entropy(logits[0, :, 0], target[0, 0], prior=prior)
        torch.testing.assert_close(one, logit_adjusted_cross_entropy(logits[:1, :, 0], target[:1, 0], prior=prior))

    def test_gradient_is_the_shifted_softmax_minus_one_hot(self):
        logits, target, _ = random_problem(4, n=5, num_classes=3)
        logits.requires_grad_(True)
        prior = self.prior(3)
        logit_adjusted_cross_entropy(logits, target, prior=prior, reduction="sum").backward()
        expected = (logits.detach() + prior.log()).softmax(1) - F.one_hot(target, 3)
        torch.testing.assert_close(logits.grad, expected, rtol=1e-12, atol=1e-12)

    def test_rejects_bad_prior_and_tau(self):
        logits, target = torch.zeros(2, 3, dtype=F64), torch.tensor([0, 1])
        prior = torch.full((3,), 1 / 3, dtype=F64)
        with pytest.raises(ValueError, match=r"^prior has shape \(2,\); expected \(C,\) = \(3,\), one probability"):
            logit_adjusted_cross_entropy(logits, target, prior=prior[:2] * 1.5)
        with pytest.raises(ValueError, match=r"^prior must sum to 1 along dim -1"):
            logit_adjusted_cross_entropy(logits, target, prior=torch.full((3,), 0.5, dtype=F64))
        with pytest.raises(ValueError, match=r"^prior must hold probabilities > 0 \(ln 0 would be -inf\); got 0.0$"):
            logit_adjusted_cross_entropy(logits, target, prior=torch.tensor([0.5, 0.5, 0.0], dtype=F64))
        with pytest.raises(
            TypeError, match=r"^prior has dtype torch.float32; it must match input's dtype torch.float64$"
        ):
            logit_adjusted_cross_entropy(logits, target, prior=prior.float())
        with pytest.raises(TypeError, match=r"^prior must be a torch.Tensor; got list$"):
            logit_adjusted_cross_entropy(logits, target, prior=[1 / 3] * 3)
        with pytest.raises(ValueError, match=r"^tau must be a finite real number >= 0; got"):
            logit_adjusted_cross_entropy(logits, target, prior=prior, tau=-1.0)
        with pytest.raises(IndexError, match=r"^target must hold class indices in \[0, 3\)"):
            logit_adjusted_cross_entropy(logits, torch.tensor([0, 3]), prior=prior)
