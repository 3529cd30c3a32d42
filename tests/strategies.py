"""What several test modules share: problem factories, hypothesis strategies and tolerances."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

F64 = torch.float64
#: float64 parity with PyTorch (the oracle): values and gradients to 1e-9.
TOL = {"rtol": 1e-9, "atol": 1e-9}


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def classification_problem(shape, seed=0, *, ignore_index=-100, ignored=0.0, scale=3.0):
    """Logits of ``shape`` (class dim 1, or 0 if 1-D), class-index targets, class weights.

    A fraction ``ignored`` of the targets (drawn at random) is set to ``ignore_index``; the
    weights lie in [0.1, 1.1). Everything is float64 and comes from one seeded generator.
    """
    g = generator(seed)
    dim = 0 if len(shape) == 1 else 1
    num_classes = shape[dim]
    target_shape = tuple(shape[:dim]) + tuple(shape[dim + 1 :])
    logits = scale * torch.randn(shape, generator=g, dtype=F64)
    target = torch.randint(0, num_classes, target_shape, generator=g)
    target = target.masked_fill(torch.rand(target_shape, generator=g) < ignored, ignore_index)
    weight = torch.rand(num_classes, generator=g, dtype=F64) + 0.1
    return logits, target, weight


def linear_problem(n, d, v, *, seed=0, ignored=(), dtype=F64, bias=False):
    """Hidden states ``(n, d)``, a layer ``(v, d)`` (and bias), targets ``(n,)`` with rows ``ignored`` at -100."""
    g = generator(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(v, d, generator=g, dtype=dtype)
    b = torch.randn(v, generator=g, dtype=dtype) if bias else None
    y = torch.randint(v, (n,), generator=g)
    y[list(ignored)] = -100
    return x, w, b, y


#: Unnormalised probabilities: exact zeros, exact ties and arbitrary values.
weights = st.one_of(st.just(0.0), st.sampled_from([1.0, 2.0, 4.0]), st.floats(min_value=1e-6, max_value=1.0))


def normalised(ws) -> torch.Tensor:
    w = torch.tensor(ws, dtype=F64)
    return w / w.sum()


def distributions(min_size=1, max_size=8, elements=weights):
    """Probability vectors (float64), some with exact zeros and ties."""
    lists = st.lists(elements, min_size=min_size, max_size=max_size).filter(lambda w: sum(w) > 0)
    return lists.map(normalised)


LEAVES = ("input", "weight", "bias")


def loss_and_grads(fn, x, w, b, y, grad_output=None, needs=LEAVES, **kwargs):
    """Loss of ``fn(x, w, y, b, **kwargs)`` and the gradients of those of x, w (and b) named in ``needs``."""
    leaves = [t.clone().requires_grad_(name in needs) for t, name in zip((x, w, b), LEAVES) if t is not None]
    loss = fn(*leaves[:2], y, *leaves[2:], **kwargs)
    wanted = [t for t in leaves if t.requires_grad]
    grads = torch.autograd.grad(loss, wanted, torch.ones_like(loss) if grad_output is None else grad_output)
    return loss.detach(), grads


def naive(x, w, y, b=None, *, chunk_size=None, **kwargs):
    """The oracle of the large-vocabulary losses: the logits, then PyTorch's cross entropy."""
    return F.cross_entropy(F.linear(x, w, b), y, **kwargs)
