"""The book's running example of a text: the letters of the Zen of Python.

Three chapters (entropy, coding, cross entropy) measure the letters of the same short text,
which every Python installation carries: PEP 20, the poem that ``import this`` prints.

>>> letters("Beautiful is better")[:5]
['b', 'e', 'a', 'u', 't']
"""

from __future__ import annotations

import codecs
import contextlib
import io
import string
from collections import Counter
from collections.abc import Sequence

import torch

__all__ = ["ALPHABET", "letter_counts", "letters", "zen_of_python"]

#: The 26 letters, in the order of every count and distribution over letters.
ALPHABET = string.ascii_lowercase


def zen_of_python() -> str:
    """The Zen of Python, the text that ``import this`` prints, without printing it.

    >>> zen_of_python().splitlines()[0]
    'The Zen of Python, by Tim Peters'
    """
    with contextlib.redirect_stdout(io.StringIO()):  # the first import prints the poem
        import this
    return codecs.decode(this.s, "rot13")  # the module keeps it ROT13-encoded


def letters(text: str) -> list[str]:
    """The letters ``a`` to ``z`` of ``text``, lower-cased, in order; everything else is dropped.

    >>> len(letters(zen_of_python()))
    677
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return [c for c in text.lower() if c in ALPHABET]


def letter_counts(letters: Sequence[str]) -> torch.Tensor:
    """How often each letter of :data:`ALPHABET` occurs in ``letters``: an int64 tensor of shape ``(26,)``.

    >>> letter_counts(["b", "a", "b"])[:3]
    tensor([1, 2, 0])
    """
    counts = Counter(letters)
    return torch.tensor([counts[c] for c in ALPHABET])
