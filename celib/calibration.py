r"""Calibration of a classifier: reliability curves, expected calibration error, temperature scaling.

A classifier is *calibrated* when, among the examples it predicts with confidence :math:`c`
(its largest softmax probability), a fraction :math:`c` is correct. The reliability curve
(:func:`reliability_curve`) bins the predictions by confidence and compares, in each bin, the
mean confidence with the accuracy; the expected calibration error
(:func:`expected_calibration_error`) is the weighted mean gap (Naeini et al., 2015; Guo et al.,
2017). Temperature scaling (:func:`fit_temperature`) divides the logits by one scalar
:math:`T > 0` fitted on held-out data; it changes the confidences but never the predicted class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from celib._checks import (
    check_choice,
    check_class_indices,
    check_distribution,
    check_floating,
    check_index_dtype,
    check_int,
    check_target_shape,
    check_tensor,
)

__all__ = ["ReliabilityCurve", "expected_calibration_error", "fit_temperature", "reliability_curve"]


@dataclass
class ReliabilityCurve:
    """Per-bin statistics of :func:`reliability_curve`; bin ``b`` covers confidences in ``(edges[b], edges[b + 1]]``.

    ``confidence`` and ``accuracy`` are ``nan`` in empty bins (``count == 0``): a mean over no
    example is undefined; plotting skips them.
    """

    edges: torch.Tensor  #: (n_bins + 1,) bin edges from 0 to 1
    confidence: torch.Tensor  #: (n_bins,) mean confidence of the examples in each bin
    accuracy: torch.Tensor  #: (n_bins,) fraction of correct predictions in each bin
    count: torch.Tensor  #: (n_bins,) number of examples in each bin


def _check_scores_and_target(
    scores: object, target: object, name: str, holds: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``scores (N, C)`` (probabilities or logits) and class indices ``target (N,)`` in ``[0, C)``."""
    scores = check_floating(scores, name, holds)
    if scores.dim() != 2:
        raise ValueError(f"{name} has shape {tuple(scores.shape)}; expected (N, C), one row per example")
    target = check_tensor(target, "target")
    check_target_shape(target, tuple(scores.shape[:1]), name, tuple(scores.shape))
    indices = check_index_dtype(target)
    check_class_indices(indices, scores.shape[1], "target")
    return scores, indices


def reliability_curve(
    probs: torch.Tensor, target: torch.Tensor, n_bins: int = 15, *, binning: str = "width"
) -> ReliabilityCurve:
    r"""Bin predictions by confidence into ``n_bins`` bins and measure each bin.

    The confidence of row :math:`i` is :math:`c_i = \max_k p_{ik}` and its prediction is correct
    when :math:`\operatorname{argmax}_k p_{ik} = y_i`. For the set :math:`B_b` of rows with
    :math:`c_i \in (\frac{b}{n}, \frac{b+1}{n}]`:

    .. math::

        \operatorname{conf}(B_b) = \frac{1}{|B_b|} \sum_{i \in B_b} c_i, \qquad
        \operatorname{acc}(B_b) = \frac{1}{|B_b|} \sum_{i \in B_b} [\hat y_i = y_i].

    A calibrated model has :math:`\operatorname{acc}(B_b) \approx \operatorname{conf}(B_b)`
    in every bin: the curve lies on the diagonal.

    ``binning="width"`` (the default) uses the equal-width edges :math:`b / n` above.
    ``binning="mass"`` uses equal-mass (adaptive) bins instead: with the confidences sorted,
    :math:`c_{(1)} \le \dots \le c_{(N)}`, the inner edge :math:`b` is
    :math:`c_{(\lfloor bN/n \rfloor)}`, so that each bin holds :math:`\lfloor N/n \rfloor` or
    :math:`\lceil N/n \rceil` predictions when no two confidences are equal (tied confidences
    share a bin; a bin can then be empty). The outer edges stay 0 and 1.

    Args:
        probs: predicted distributions, shape ``(N, C)``, rows summing to 1.
        target: true classes, class indices of shape ``(N,)``.
        n_bins: number of bins on [0, 1].
        binning: ``"width"`` (equal-width bins) or ``"mass"`` (equal-mass bins; needs
            ``N >= 1``).

    Returns:
        A :class:`ReliabilityCurve` of tensors, computed from ``probs.detach()`` (a measurement,
        not differentiable).

    >>> probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    >>> curve = reliability_curve(probs, torch.tensor([0, 1, 1, 1]), n_bins=2)
    >>> curve.confidence, curve.accuracy, curve.count
    (tensor([   nan, 0.7500]), tensor([   nan, 0.7500]), tensor([0, 4]))
    >>> reliability_curve(probs, torch.tensor([0, 1, 1, 1]), n_bins=2, binning="mass").count
    tensor([2, 2])
    """
    probs, target = _check_scores_and_target(probs, target, "probs", "probabilities")
    check_distribution(probs, "probs", dim=1)
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    binning = check_choice(binning, "binning", ("width", "mass"))
    confidence, prediction = probs.detach().max(dim=1)  # (N,), (N,)
    correct = (prediction == target).to(probs.dtype)  # (N,)
    if binning == "width":
        # b / n correctly rounded (exactly 0.6 for 3 / 5, like the literal), on the device of probs
        edges = torch.arange(n_bins + 1, dtype=probs.dtype, device=probs.device) / n_bins
    else:
        edges = _equal_mass_edges(confidence, n_bins)
    # bucketize with right=False puts c in bin b when edges[b] < c <= edges[b + 1].
    bins = torch.bucketize(confidence, edges[1:-1])  # (N,) in [0, n_bins)
    count = torch.bincount(bins, minlength=n_bins)
    sum_confidence = torch.zeros_like(edges[1:]).index_add_(0, bins, confidence)  # (n_bins,)
    sum_correct = torch.zeros_like(edges[1:]).index_add_(0, bins, correct)  # (n_bins,)
    return ReliabilityCurve(edges, sum_confidence / count, sum_correct / count, count)  # 0 / 0 = nan if empty


def _equal_mass_edges(confidence: torch.Tensor, n_bins: int) -> torch.Tensor:
    """(n_bins + 1,) edges 0, c_(floor(bN/n)) for b = 1..n-1, 1: bin b holds sorted ranks
    floor(bN/n) + 1 to floor((b+1)N/n) when the confidences are distinct."""
    n = confidence.numel()
    if n == 0:
        raise ValueError("probs has 0 rows; binning='mass' needs at least one prediction to place its edges")
    ranks = torch.arange(1, n_bins, device=confidence.device) * n // n_bins  # (n_bins - 1,) in [0, n)
    inner = confidence.sort().values[(ranks - 1).clamp_min(0)]  # the largest confidence of each bin
    # rank 0 (more bins than predictions): an edge at 0 leaves its bin empty, as it should
    inner = torch.where(ranks > 0, inner, torch.zeros_like(inner))
    outer = torch.tensor([0.0, 1.0], dtype=confidence.dtype, device=confidence.device)
    return torch.cat([outer[:1], inner, outer[1:]])


def expected_calibration_error(
    probs: torch.Tensor, target: torch.Tensor, n_bins: int = 15, *, binning: str = "width"
) -> torch.Tensor:
    r"""Expected calibration error with ``n_bins`` confidence bins, equal-width or equal-mass.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{n} \frac{|B_b|}{N}\,
        \bigl|\operatorname{acc}(B_b) - \operatorname{conf}(B_b)\bigr|,

    with the bins of :func:`reliability_curve` (empty bins contribute 0; ``binning="mass"``
    gives the equal-mass, or adaptive, ECE). It lies in [0, 1]: large for an over- or
    under-confident model. A scalar tensor of ``probs``' dtype, not differentiable (a
    measurement, like the curve).

    On a finite sample it is a biased estimate of the calibration error
    :math:`\mathbb{E}\,|P(\hat y = y \mid c) - c|`: each bin's accuracy is a mean of
    :math:`|B_b|` Bernoulli draws, and the absolute value turns their noise into a positive
    gap. For a perfectly calibrated model, given the confidences, the gap of bin :math:`b`
    has mean 0 and variance :math:`\sigma_b^2 = \sum_{i \in B_b} c_i (1 - c_i) / |B_b|^2`;
    if it is about normal, :math:`\mathbb{E}\,|\text{gap}| = \sigma_b \sqrt{2 / \pi}`, so the
    expected ECE is about :math:`\sum_b \frac{|B_b|}{N}\, \sigma_b \sqrt{2/\pi} > 0`. That
    shrinks like :math:`1/\sqrt{N}` and grows with ``n_bins`` (Kumar et al., 2019; Roelofs
    et al., 2022).

    >>> probs = torch.tensor([[0.9, 0.1]] * 4)  # 90% confident, 75% right
    >>> expected_calibration_error(probs, torch.tensor([0, 0, 0, 1]))
    tensor(0.1500)
    """
    curve = reliability_curve(probs, target, n_bins, binning=binning)
    filled = curve.count > 0
    gaps = (curve.accuracy[filled] - curve.confidence[filled]).abs()
    return (curve.count[filled] * gaps).sum() / curve.count.sum()


def fit_temperature(logits: torch.Tensor, target: torch.Tensor, max_iter: int = 100) -> float:
    r"""Temperature :math:`T > 0` minimising the NLL of ``softmax(logits / T)`` on ``target``.

    .. math::

        T^\star = \operatorname*{arg\,min}_{T > 0}\;
        -\frac1N \sum_{i=1}^N \ln \operatorname{softmax}(z_i / T)_{y_i}.

    The fit optimises :math:`u = \ln T` (so :math:`T = e^u > 0` without constraints) with
    L-BFGS and a strong-Wolfe line search, starting from :math:`T = 1`, in float64 on detached
    logits. Fit it on held-out data, never on the training set: there the model's confidence
    is inflated. :math:`T > 1` softens overconfident predictions; dividing by a positive
    scalar never changes the argmax, so accuracy is unchanged.

    Args:
        logits: shape ``(N, C)``.
        target: true classes, class indices of shape ``(N,)``.
        max_iter: L-BFGS iterations.

    Returns:
        The fitted temperature, a Python float.

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    >>> round(fit_temperature(logits, torch.tensor([0, 1, 0, 0])), 4)  # 3 of 4 right: softmax(z / T) = 0.75
    1.8205
    """
    logits, target = _check_scores_and_target(logits, target, "logits", "logits")
    max_iter = check_int(max_iter, "max_iter", minimum=1)

    logits = logits.detach().to(torch.float64)
    log_t = torch.zeros((), dtype=torch.float64, device=logits.device, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [log_t], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return log_t.exp().item()
