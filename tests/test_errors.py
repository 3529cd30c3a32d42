"""Every public function, probed as a user would: the same mistake gets the same answer everywhere.

Each entry of ``FUNCTIONS`` calls one public function with valid arguments, any of which a
mistake of ``MISTAKES`` can replace; a mistake applies to every function that has the argument
it spoils. The error type and the whole message are checked, and so is the answer to what is
*not* a mistake (uint8 class indices, numpy integers and reals): the same result as the
canonical argument. The rule for the error types is in the README:
TypeError for a wrong type, ValueError for a wrong value or shape, IndexError for an index out
of range.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import celib.autograd as ca
import celib.calibration as calibration
import celib.coding as coding
import celib.functional as cf
import celib.information as info
import celib.linear_cross_entropy as lce
import celib.training as training
import celib.vocab_parallel as vp
from tests.strategies import F64, generator

C = 4  # classes (the vocabulary of the linear losses)
LOGITS = torch.randn(3, C, dtype=F64, generator=generator(0))
TARGET = torch.tensor([0, 1, 3])
PRIOR = torch.full((C,), 1 / C, dtype=F64)  # the class prior of logit_adjusted_cross_entropy
HIDDEN = torch.randn(3, 2, dtype=F64, generator=generator(1))
LAYER = torch.randn(C, 2, dtype=F64, generator=generator(2))
PROBS = LOGITS.softmax(1)
LOG_PROBS = LOGITS.log_softmax(1)


def model():
    torch.manual_seed(0)
    return nn.Linear(2, C, dtype=F64)


@dataclass
class Function:
    """A public function called with valid arguments; ``call(**changes)`` replaces some of them."""

    call: Callable[..., Any]
    arguments: set[str]  # which of the probed arguments it has
    target: str = "target"  # how its messages name the class-index target
    input: str = "input"  # how they name the scores (logits, probabilities, hidden states)
    ignore_index: bool = True  # whether the class-range message mentions ignore_index
    whose: str = "input's"  # whose dtype a class weight must match
    group: bool = False  # needs a torch.distributed group
    notes: dict[str, str] = field(default_factory=dict)


def _sgd(m):
    return torch.optim.SGD(m.parameters(), lr=0.1)


def _linear_cross_entropy(
    input=HIDDEN,
    target=TARGET,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
    chunk_size=2,
    lse_square_scale=1e-4,  # a z-loss and a cap (valid values), so that their numpy twins are probed
    softcap=30.0,
    return_z_loss=False,
    compiled=True,
    main_grad=None,
):
    return lce.linear_cross_entropy(
        input,
        LAYER,
        target,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        chunk_size=chunk_size,
        lse_square_scale=lse_square_scale,
        softcap=softcap,
        return_z_loss=return_z_loss,
        compiled=compiled,
        main_grad=main_grad,
    )


LOSS = {"input", "target", "weight", "ignore_index", "reduction"}
FUNCTIONS = {
    "functional.cross_entropy": Function(
        lambda input=LOGITS, target=TARGET, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0: (
            cf.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
        ),
        LOSS | {"label_smoothing"},
    ),
    "functional.nll_loss": Function(
        lambda input=LOG_PROBS, target=TARGET, weight=None, ignore_index=-100, reduction="mean": cf.nll_loss(
            input, target, weight, ignore_index, reduction
        ),
        LOSS,
    ),
    "autograd.cross_entropy": Function(
        lambda input=LOGITS, target=TARGET, weight=None, ignore_index=-100, reduction="mean": ca.cross_entropy(
            input, target, weight, ignore_index, reduction
        ),
        LOSS,
    ),
    "training.focal_loss": Function(
        lambda input=LOGITS, target=TARGET, weight=None, ignore_index=-100, reduction="mean": training.focal_loss(
            input, target, weight, ignore_index, reduction, gamma=2.0
        ),
        LOSS,
    ),
    "training.logit_adjusted_cross_entropy": Function(
        lambda input=LOGITS, target=TARGET, weight=None, ignore_index=-100, reduction="mean": (
            training.logit_adjusted_cross_entropy(input, target, weight, ignore_index, reduction, prior=PRIOR)
        ),
        LOSS,
    ),
    "training.accumulate_cross_entropy": Function(
        lambda target=TARGET, weight=None, ignore_index=-100: training.accumulate_cross_entropy(
            model(), [(HIDDEN, target)], weight=weight, ignore_index=ignore_index
        ),
        {"target", "weight", "ignore_index"},
        target="micro_batches[0] target",
        whose="the logits'",
    ),
    "training.evaluate": Function(
        lambda target=TARGET: training.evaluate(model(), (HIDDEN, target)),
        {"target"},
        target="data target",
        ignore_index=False,
    ),
    "training.train_epoch": Function(
        lambda target=TARGET, batch_size=2: (
            (m := model())
            and training.train_epoch(m, _sgd(m), cf.cross_entropy, (HIDDEN, target), batch_size=batch_size)
        ),
        {"target", "batch_size"},
        target="train target",
        ignore_index=False,
    ),
    "training.fit": Function(
        lambda target=TARGET, epochs=1: (
            (m := model()) and training.fit(m, _sgd(m), cf.cross_entropy, (HIDDEN, target), epochs=epochs).train_loss
        ),
        {"target", "epochs"},
        target="train target",
        ignore_index=False,
    ),
    "calibration.reliability_curve": Function(
        lambda input=PROBS, target=TARGET, n_bins=3: calibration.reliability_curve(input, target, n_bins).accuracy,
        {"input", "target", "n_bins"},
        input="probs",
        ignore_index=False,
    ),
    "calibration.expected_calibration_error": Function(
        lambda input=PROBS, target=TARGET, n_bins=3: calibration.expected_calibration_error(input, target, n_bins),
        {"input", "target", "n_bins"},
        input="probs",
        ignore_index=False,
    ),
    "calibration.fit_temperature": Function(
        lambda input=LOGITS, target=TARGET, max_iter=5: calibration.fit_temperature(input, target, max_iter),
        {"input", "target", "max_iter"},
        input="logits",
        ignore_index=False,
    ),
    "linear_cross_entropy": Function(
        _linear_cross_entropy,
        {
            "input",
            "target",
            "ignore_index",
            "reduction",
            "label_smoothing",
            "chunk_size",
            "lse_square_scale",
            "softcap",
            "return_z_loss",
            "compiled",
            "main_grad",
        },
    ),
    "vocab_parallel_cross_entropy": Function(
        lambda input=HIDDEN, target=TARGET, ignore_index=-100, reduction="mean", label_smoothing=0.0: (
            vp.vocab_parallel_cross_entropy(
                input,
                LAYER,
                target,
                vocab_start=0,
                ignore_index=ignore_index,
                reduction=reduction,
                label_smoothing=label_smoothing,
            )
        ),
        {"input", "target", "ignore_index", "reduction", "label_smoothing"},
        group=True,
    ),
}


@dataclass
class Mistake:
    argument: str
    value: Any
    error: type[Exception] | None  # None: not a mistake, the result equals the canonical one
    message: str = ""  # formatted with the Function's fields


MISTAKES = {
    "a list for the scores": Mistake("input", [[0.0] * C] * 3, TypeError, "{input} must be a torch.Tensor; got list"),
    "integer scores": Mistake(
        "input", torch.zeros(3, C, dtype=torch.long), TypeError, "{input} has dtype torch.int64; "
    ),
    "a list for the target": Mistake("target", [0, 1, 3], TypeError, "{target} must be a torch.Tensor; got list"),
    "int32 target": Mistake(
        "target",
        TARGET.int(),
        TypeError,
        "{target} has dtype torch.int32; class-index targets must be torch.long or torch.uint8",
    ),
    "float target": Mistake(
        "target",
        TARGET.float(),
        TypeError,
        "{target} has dtype torch.float32; class-index targets must be torch.long or torch.uint8",
    ),
    "uint8 target": Mistake("target", TARGET.to(torch.uint8), None),
    "class index out of range": Mistake(
        "target", torch.tensor([0, C, 1]), IndexError, "{target} must hold class indices in [0, 4){or_ignore}; got 4"
    ),
    "too-short class weight": Mistake(
        "weight",
        torch.ones(C - 1, dtype=F64),
        ValueError,
        "weight has shape (3,); expected (C,) = (4,), one weight per class",
    ),
    "negative class weight": Mistake(
        "weight",
        torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=F64),
        ValueError,
        "weight must hold finite values >= 0; got -1.0",
    ),
    "class weight of another dtype": Mistake(
        "weight", torch.ones(C), TypeError, "weight has dtype torch.float32; it must match {whose} dtype torch.float64"
    ),
    "a list for the class weight": Mistake("weight", [1.0] * C, TypeError, "weight must be a torch.Tensor; got list"),
    "float ignore_index": Mistake("ignore_index", 1.5, TypeError, "ignore_index must be an int; got 1.5 (float)"),
    "numpy ignore_index": Mistake("ignore_index", np.int64(-100), None),
    "unknown reduction": Mistake(
        "reduction", "avg", ValueError, "reduction must be one of 'none', 'mean', 'sum'; got 'avg'"
    ),
    "reduction that is not a str": Mistake(
        "reduction", None, TypeError, "reduction must be one of 'none', 'mean', 'sum'; got None (NoneType)"
    ),
    "label_smoothing above 1": Mistake(
        "label_smoothing", 1.5, ValueError, "label_smoothing must be a real number in [0, 1]; got 1.5"
    ),
    "label_smoothing as a str": Mistake(
        "label_smoothing", "0.1", TypeError, "label_smoothing must be a real number in [0, 1]; got '0.1' (str)"
    ),
    "numpy label_smoothing": Mistake("label_smoothing", np.float32(0.0), None),
    "chunk_size 0": Mistake("chunk_size", 0, ValueError, "chunk_size must be an int >= 1 or None; got 0"),
    "float chunk_size": Mistake(
        "chunk_size", 2.0, TypeError, "chunk_size must be an int >= 1 or None; got 2.0 (float)"
    ),
    "numpy chunk_size": Mistake("chunk_size", np.int64(2), None),
    "negative lse_square_scale": Mistake(
        "lse_square_scale", -1e-4, ValueError, "lse_square_scale must be a finite real number >= 0; got -0.0001"
    ),
    "infinite lse_square_scale": Mistake(
        "lse_square_scale", float("inf"), ValueError, "lse_square_scale must be a finite real number >= 0; got inf"
    ),
    "lse_square_scale as a str": Mistake(
        "lse_square_scale",
        "1e-4",
        TypeError,
        "lse_square_scale must be a finite real number >= 0; got '1e-4' (str)",
    ),
    "numpy lse_square_scale": Mistake("lse_square_scale", np.float64(1e-4), None),
    "softcap 0": Mistake("softcap", 0, ValueError, "softcap must be a finite real number > 0 or None; got 0"),
    "NaN softcap": Mistake(
        "softcap", float("nan"), ValueError, "softcap must be a finite real number > 0 or None; got nan"
    ),
    "softcap as a str": Mistake(
        "softcap", "30", TypeError, "softcap must be a finite real number > 0 or None; got '30' (str)"
    ),
    "numpy softcap": Mistake("softcap", np.float32(30.0), None),
    "int return_z_loss": Mistake("return_z_loss", 1, TypeError, "return_z_loss must be a bool; got 1 (int)"),
    "int compiled": Mistake("compiled", 1, TypeError, "compiled must be a bool; got 1 (int)"),
    "a list for main_grad": Mistake(
        "main_grad", [0.0], TypeError, "main_grad must be a tensor or None; got [0.0] (list)"
    ),
    "float32 main_grad of float64 weights": Mistake(
        "main_grad",
        torch.zeros(C, 2),
        TypeError,
        "main_grad has dtype torch.float32; expected torch.float64 for torch.float64 weights",
    ),
    "main_grad of the wrong shape": Mistake(
        "main_grad",
        torch.zeros(2, C, dtype=F64),
        ValueError,
        "main_grad has shape (2, 4) on cpu; expected weight's shape (4, 2) on cpu",
    ),
    "main_grad that requires grad": Mistake(
        "main_grad", torch.zeros(C, 2, dtype=F64, requires_grad=True), ValueError, "main_grad requires grad; expected"
    ),
    "n_bins 0": Mistake("n_bins", 0, ValueError, "n_bins must be an int >= 1; got 0"),
    "numpy n_bins": Mistake("n_bins", np.int32(3), None),
    "float max_iter": Mistake("max_iter", 5.0, TypeError, "max_iter must be an int >= 1; got 5.0 (float)"),
    "numpy max_iter": Mistake("max_iter", np.int64(5), None),
    "negative epochs": Mistake("epochs", -1, ValueError, "epochs must be an int >= 0; got -1"),
    "numpy epochs": Mistake("epochs", np.int64(1), None),
    "bool batch_size": Mistake(
        "batch_size", True, TypeError, "batch_size must be an int >= 1 or None; got True (bool)"
    ),
    "numpy batch_size": Mistake("batch_size", np.int64(2), None),
}

CASES = [
    pytest.param(name, mistake, id=f"{name}: {mistake_name}")
    for name, function in FUNCTIONS.items()
    for mistake_name, mistake in MISTAKES.items()
    if mistake.argument in function.arguments
]


def same(a, b):
    """Equal results: tensors (or floats, or lists of them) equal where not NaN."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


@pytest.mark.parametrize(("name", "mistake"), CASES)
def test_the_same_mistake_gets_the_same_answer(name, mistake, request):
    function = FUNCTIONS[name]
    if function.group:
        request.getfixturevalue("one_rank_group")
    call = lambda: function.call(**{mistake.argument: mistake.value})  # noqa: E731
    if mistake.error is None:
        assert same(call(), function.call())
        return
    expected = mistake.message.format(
        input=function.input,
        target=function.target,
        whose=function.whose,
        or_ignore=" or ignore_index=-100" if function.ignore_index else "",
    )
    with pytest.raises(mistake.error) as raised:
        call()
    assert str(raised.value).startswith(expected), f"{str(raised.value)!r} does not start with {expected!r}"


def test_every_public_function_of_the_loss_modules_is_probed():
    probed = {name.split(".")[-1] for name in FUNCTIONS}
    public = {
        f"{name}"
        for module in (cf, ca, training, calibration, lce, vp)
        for name in module.__all__
        if callable(getattr(module, name)) and not isinstance(getattr(module, name), type)
    }
    # Not probed here: the softmax family and the binary losses, soft_margin_loss included (no
    # class-index target; their checks are in test_functional), run_vocab_parallel (spawns
    # processes; tested with the same checks in test_vocab_parallel), default_chunk_size and
    # accumulation_dtype (formulas).
    left_out = {
        "softmax",
        "log_softmax",
        "logsumexp",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "kl_div",
        "soft_margin_loss",
        "run_vocab_parallel",
        "default_chunk_size",
        "accumulation_dtype",
    }
    assert public - left_out == probed


# The math-convention modules take array-likes (the README's rule), so a list is no mistake there;
# their integer and real arguments follow the same rule as everywhere.
MATH_CASES = {
    "entropy, numpy base": (lambda: info.entropy([0.5, 0.5], base=np.float64(2.0)), None, ""),
    "entropy, str base": (
        lambda: info.entropy([0.5, 0.5], base="2"),
        TypeError,
        "base must be a finite real number > 0 and != 1; got '2' (str)",
    ),
    "entropy, numpy dim": (lambda: info.entropy([[0.5, 0.5]], dim=np.int64(1)), None, ""),
    "block_distribution, numpy n": (lambda: coding.block_distribution([0.5, 0.5], np.int64(2)), None, ""),
    "block_distribution, float n": (
        lambda: coding.block_distribution([0.5, 0.5], 2.0),
        TypeError,
        "n must be an int >= 1; got 2.0 (float)",
    ),
    "encode, numpy symbols": (lambda: coding.encode([np.int64(1)], ["0", "1"]), None, ""),
}


@pytest.mark.parametrize(("call", "error", "message"), MATH_CASES.values(), ids=MATH_CASES.keys())
def test_math_convention_modules_follow_the_same_rule(call, error, message):
    if error is None:
        call()
        return
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call()
