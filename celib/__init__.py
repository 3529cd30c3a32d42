"""celib: the companion library of the book *Cross Entropy, from Bits to Kernels*.

One module per concern; import the one you need::

    from celib import information
    information.self_information(0.5, base=2)   # tensor(1.)

Every function takes torch tensors (array-likes are accepted where the docstring says so),
returns tensors, is differentiable through autograd, and rejects bad input with an error that
names the argument, what was expected and what was given.
"""

__version__ = "0.1.0"
