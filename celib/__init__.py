r"""celib: the companion library of the book *Cross Entropy, from Bits to Kernels*.

One module per concern; import each by its one alias, the same in every chapter::

    import celib.information as info
    import celib.functional as cf

    info.cross_entropy([1.0, 0.0], [0.5, 0.5], base=2)  # H(p, q): the target first, as in the math
    cf.cross_entropy(torch.zeros(1, 2), torch.tensor([0]))  # model output first, as in PyTorch

The contract every function keeps (the README states the same, with the alias table):

- Two conventions, told apart by module. ``information`` and ``coding`` follow the math: the
  target distribution first (:math:`H(p, q)`, :math:`D_{\mathrm{KL}}(p \| q)`), probabilities,
  and they also take array-likes. Every other module follows PyTorch: model output first,
  tensors only (no lists), signatures that mirror ``torch.nn.functional``.
- Functions that take logits find the classes in dim 1, ``(N, C, d1, ...)``, or dim 0 for an
  unbatched ``(C,)`` input, as ``F.cross_entropy`` does, unless the name and the signature say
  otherwise (``linear_cross_entropy`` takes hidden states; ``accumulate_cross_entropy`` has a
  ``class_dim``; the binary losses are elementwise).
- Class indices are called ``target`` and are ``torch.long`` or ``torch.uint8`` (the dtypes
  PyTorch accepts); integer arguments are Python ints or numpy integers, real arguments any real
  number (numpy's included), and ``bool`` is neither.
- Losses and information measures return tensors, differentiable with respect to their
  floating-point inputs. The other functions return what their docstrings say: code words as
  ``str``, statistics of the training loop and fitted temperatures as Python ``float``,
  calibration measurements as tensors computed without gradients.
- Bad input raises, before anything is computed, ``TypeError`` for a wrong type or dtype,
  ``ValueError`` for a wrong value or shape, ``IndexError`` for an index out of range; the
  message names the argument, what was expected and what was given, and the same mistake gets
  the same message in every module.
"""

__version__ = "0.1.0"
