r"""Prefix-free binary codes: Huffman's construction and the tools to check and use a code.

A *code* here is a list of binary code words (strings of ``"0"`` and ``"1"``), one per symbol,
in the order of the symbols' probabilities. A message is a sequence of symbol indices.
A code is *prefix-free* when no code word is the beginning of another, so a stream of bits
decodes without separators, each word as soon as its last bit arrives. A code is *uniquely
decodable* when no two different messages have the same bits; every prefix-free code is, but
so are some others (``["0", "01", "11"]``), which :func:`is_uniquely_decodable` recognises.

Every code length in this module is in **bits**, so the entropy to compare with is
``celib.information.entropy(p, base=2)``: for a Huffman code, :math:`H(p) \le L < H(p) + 1`
(unless one symbol is certain: then :math:`H = 0` and :math:`L = 1`).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import torch

from celib._checks import ArrayLike, as_probability_vector, check_int, describe

__all__ = [
    "ARITHMETIC_MAX_TOTAL",
    "ARITHMETIC_PRECISION",
    "ambiguous_parses",
    "arithmetic_decode",
    "arithmetic_encode",
    "block_distribution",
    "canonical_code",
    "decode",
    "encode",
    "expected_length",
    "huffman_code",
    "ideal_code_length",
    "is_prefix_free",
    "is_uniquely_decodable",
    "kraft_sum",
    "parses",
]


def _check_code(code: Any, name: str = "code") -> list[str]:
    """Return ``code`` as a list of str after checking every entry is a non-empty string of 0s and 1s."""
    if isinstance(code, str) or not isinstance(code, Sequence):
        raise TypeError(f"{name} must be a sequence of code words (strings of '0' and '1'); got {type(code).__name__}")
    if len(code) == 0:
        raise ValueError(f"{name} must hold at least one code word; got an empty sequence")
    for index, word in enumerate(code):
        expected = "a non-empty string of '0' and '1'"
        if not isinstance(word, str):
            raise TypeError(f"{name}[{index}] must be {expected}; got {describe(word)}")
        if not word or set(word) - {"0", "1"}:
            raise ValueError(f"{name}[{index}] must be {expected}; got {word!r}")
    return list(code)


def _kraft_fraction(lengths: Sequence[int]) -> Fraction:
    """Exact :math:`\\sum_i 2^{-l_i}` (integer arithmetic, no rounding)."""
    longest = max(lengths)
    return Fraction(sum(1 << (longest - length) for length in lengths), 1 << longest)


def _huffman_lengths(weights: list[float]) -> list[int]:
    """Code-word lengths of Huffman's algorithm on ``weights`` (at least two of them).

    Heap entries are ``(weight, order)``: a leaf's order is its index, the j-th merged node's is
    ``len(weights) + j``. So among equal weights the leaves (in index order) merge before
    merged nodes, and older merged nodes before newer ones.
    """
    size = len(weights)
    parent = [0] * (2 * size - 1)  # nodes 0..size-1 are leaves, size..2 size-2 merged nodes
    heap = [(weight, leaf) for leaf, weight in enumerate(weights)]
    heapq.heapify(heap)
    for node in range(size, 2 * size - 1):
        weight_a, a = heapq.heappop(heap)
        weight_b, b = heapq.heappop(heap)
        parent[a] = parent[b] = node
        heapq.heappush(heap, (weight_a + weight_b, node))
    # A parent is created after its children, so walking down from the root (the last node)
    # visits every parent before its children.
    depth = [0] * (2 * size - 1)
    for node in range(2 * size - 3, -1, -1):
        depth[node] = depth[parent[node]] + 1
    return depth[:size]


def canonical_code(lengths: Sequence[int] | torch.Tensor) -> list[str]:
    r"""The canonical prefix-free code with the given code-word lengths.

    Kraft's inequality says that a prefix-free binary code with lengths :math:`l_1, \dots, l_K`
    exists if and only if :math:`\sum_i 2^{-l_i} \le 1`. This builds one: symbols sorted by
    ``(length, index)`` get consecutive binary numbers, each shifted left when the length grows
    (the *canonical* code of DEFLATE). The result depends only on the lengths.

    Args:
        lengths: positive integers, one per symbol (a list or an integer-valued tensor;
            integer-valued floats are accepted).

    Returns:
        A list of code words; ``len(result[i]) == lengths[i]``.

    Raises:
        TypeError: if a length is not an integer.
        ValueError: if a length is below 1, or the lengths violate Kraft's inequality (then
            no prefix-free code has them).

    >>> canonical_code([2, 1, 3, 3])
    ['10', '0', '110', '111']
    >>> canonical_code([1, 1, 2])
    Traceback (most recent call last):
    ...
    ValueError: lengths violate Kraft's inequality: sum of 2**-length is 5/4 > 1, so no prefix-free code has them
    """
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1:
            raise ValueError(f"lengths has shape {tuple(lengths.shape)}; expected a 1-D sequence of positive integers")
        lengths = lengths.tolist()
    if isinstance(lengths, str) or not isinstance(lengths, Sequence):
        raise TypeError(f"lengths must be a sequence of positive integers; got {type(lengths).__name__}")
    if len(lengths) == 0:
        raise ValueError("lengths must hold at least one length; got an empty sequence")
    checked = []
    length: Any
    for index, length in enumerate(lengths):
        if isinstance(length, float) and length.is_integer():
            length = int(length)  # an integer-valued float (or float tensor) is a length too
        checked.append(check_int(length, f"lengths[{index}]", minimum=1))
    total = _kraft_fraction(checked)
    if total > 1:
        raise ValueError(
            f"lengths violate Kraft's inequality: sum of 2**-length is {total} > 1, so no prefix-free code has them"
        )
    order = sorted(range(len(checked)), key=lambda i: (checked[i], i))
    code = [""] * len(checked)
    value, previous = 0, checked[order[0]]
    for index in order:
        length = checked[index]
        value <<= length - previous  # the next free node at the new depth
        code[index] = format(value, f"0{length}b")
        value, previous = value + 1, length
    return code


def huffman_code(p: ArrayLike) -> list[str]:
    r"""An optimal prefix-free binary code for a source with probabilities ``p``.

    Huffman's algorithm repeatedly merges the two least probable nodes; the depth of each symbol
    in the resulting tree is its code-word length :math:`l_i`. No prefix-free (indeed no uniquely
    decodable) binary code for these symbols has a smaller expected length
    :math:`L = \sum_i p_i l_i`, and

    .. math:: H_2(p) \le L < H_2(p) + 1,

    with :math:`H_2` the entropy in bits, except when one symbol is certain: then
    :math:`H_2 = 0` and :math:`L = 1`, because a code word has at least one bit.

    Conventions:

    - **Ties** are broken deterministically: among equal weights, original symbols merge before
      merged nodes (lower index first), and older merged nodes before newer ones. With exact ties
      this picks, among the optimal codes, one whose longest code word is as short as possible:
      the rule of E. S. Schwartz,
      "An optimum encoding with minimum longest code and total number of digits", Information
      and Control 7(1), 37-44 (1964).
      The code words are then the :func:`canonical_code` of the lengths, so the output depends
      only on ``p``.
    - **Zero-probability symbols still get code words**, at least as long as any other symbol's,
      so every symbol is encodable. They cost nothing per occurrence on average, but they take
      code space: ``[0.5, 0.5, 0.0]`` gets :math:`L = 1.5` bits, not 1.
    - **A single symbol** gets the code word ``"0"``: one bit per symbol, since an empty code
      word would leave the stream without a length.

    Args:
        p: a 1-D probability vector (tensor or array-like): entries in [0, 1] that sum to 1.

    Returns:
        A list of ``len(p)`` code words (strings of ``"0"`` and ``"1"``), in the order of ``p``.

    >>> huffman_code([0.5, 0.25, 0.125, 0.125])
    ['0', '10', '110', '111']
    >>> huffman_code([0.4, 0.2, 0.2, 0.1, 0.1])
    ['00', '01', '10', '110', '111']
    >>> huffman_code([1.0])
    ['0']
    """
    p = as_probability_vector(p, "p")
    if p.numel() == 1:
        return ["0"]
    return canonical_code(_huffman_lengths(p.detach().tolist()))


def kraft_sum(code: Sequence[str]) -> torch.Tensor:
    r"""Kraft's sum :math:`\sum_i 2^{-l_i}` over the code words' lengths :math:`l_i`.

    Every prefix-free code has a Kraft sum :math:`\le 1`; a code whose sum is exactly 1 is
    *complete* (no code word can be shortened or added). Huffman codes with two or more symbols
    are complete.

    Args:
        code: a sequence of code words.

    Returns:
        A float64 scalar tensor (computed exactly, then rounded once).

    >>> kraft_sum(["0", "10", "110", "111"])
    tensor(1., dtype=torch.float64)
    >>> kraft_sum(["00", "01", "10"])
    tensor(0.7500, dtype=torch.float64)
    """
    code = _check_code(code)
    return torch.tensor(float(_kraft_fraction([len(word) for word in code])), dtype=torch.float64)


def is_prefix_free(code: Sequence[str]) -> bool:
    """Whether no code word is a prefix of another (a repeated code word is a prefix of its copy).

    In sorted order the words that start with ``u`` come right after ``u``, so checking
    neighbours suffices.

    >>> is_prefix_free(["0", "10", "11"])
    True
    >>> is_prefix_free(["0", "01", "11"])
    False
    """
    words = sorted(_check_code(code))
    return not any(longer.startswith(shorter) for shorter, longer in zip(words, words[1:]))


def ambiguous_parses(code: Sequence[str]) -> tuple[list[int], list[int]] | None:
    r"""Two different messages with the same bits, or None if the code is uniquely decodable.

    This is the Sardinas-Patterson test, run as a breadth-first search over *dangling
    suffixes*. Two messages that are being built to have the same bits differ, at any moment,
    by the bits one of them is ahead: a suffix :math:`s`. They start as two code words
    :math:`u` and :math:`v = u s`. A code word :math:`w` appended to the message that is behind
    either matches the dangling bits exactly (:math:`w = s`: the two messages now have equal
    bits, an ambiguity), or leaves a new dangling suffix (:math:`w = s t` or :math:`s = w t`).
    The suffixes are suffixes of code words, so there are finitely many and the search ends;
    the code is uniquely decodable exactly when no dangling suffix is itself a code word
    (Sardinas and Patterson, 1953). A repeated code word is the shortest ambiguity: two
    one-symbol messages.

    Args:
        code: a sequence of code words.

    Returns:
        ``None`` for a uniquely decodable code; otherwise two different lists of symbol indices
        whose code words concatenate to the same bit string.

    >>> ambiguous_parses(["0", "01", "10"])  # 0|10 = 01|0
    ([0, 2], [1, 0])
    >>> ambiguous_parses(["0", "01", "11"]) is None
    True
    """
    code = _check_code(code)
    first_symbol: dict[str, int] = {}
    for index, word in enumerate(code):
        if word in first_symbol:
            return [first_symbol[word]], [index]
        first_symbol[word] = index
    # A state is (ahead, behind, s): the bits of message `ahead` are those of `behind` plus s.
    queue: deque[tuple[list[int], list[int], str]] = deque()
    seen: set[str] = set()
    for i, u in enumerate(code):
        for j, v in enumerate(code):
            if i != j and v.startswith(u) and v[len(u) :] not in seen:
                seen.add(v[len(u) :])
                queue.append(([j], [i], v[len(u) :]))
    while queue:
        ahead, behind, dangling = queue.popleft()
        for index, word in enumerate(code):
            if word == dangling:
                return ahead, behind + [index]
            if word.startswith(dangling):  # the message behind overtakes by the rest of word
                new_state = (behind + [index], ahead, word[len(dangling) :])
            elif dangling.startswith(word):  # still behind, by less
                new_state = (ahead, behind + [index], dangling[len(word) :])
            else:
                continue
            if new_state[2] not in seen:
                seen.add(new_state[2])
                queue.append(new_state)
    return None


def is_uniquely_decodable(code: Sequence[str]) -> bool:
    r"""Whether no two different messages have the same bits (the Sardinas-Patterson test).

    The classes of codes are nested: prefix-free codes are uniquely decodable, and uniquely
    decodable codes are nonsingular (no repeated code word). Neither inclusion is an equality:
    ``["0", "01", "11"]`` is uniquely decodable but not prefix-free (the first word of
    ``0111...`` is known only at the end of the ones), and ``["0", "01", "10"]`` is
    nonsingular but ambiguous. By McMillan's theorem every uniquely decodable code satisfies
    Kraft's inequality :math:`\sum_i 2^{-l_i} \le 1`. See :func:`ambiguous_parses`, which
    also returns the two messages when the answer is no.

    >>> is_uniquely_decodable(["0", "01", "11"])
    True
    >>> is_uniquely_decodable(["0", "01", "10"])
    False
    """
    return ambiguous_parses(code) is None


def parses(bits: str, code: Sequence[str]) -> list[list[int]]:
    """Every way to split ``bits`` into code words, as lists of symbol indices.

    A uniquely decodable code gives at most one parse of any bit string; an ambiguous one
    gives two or more for some strings. The number of parses can grow exponentially with the
    length of ``bits``, so keep it short.

    Args:
        bits: a string of ``"0"`` and ``"1"``.
        code: one code word per symbol (any code, prefix-free or not).

    Returns:
        The parses, in lexicographic order of their symbol indices; ``[[]]`` for empty bits.

    >>> parses("010", ["0", "01", "10"])
    [[0, 2], [1, 0]]
    >>> parses("011", ["0", "01", "11"])
    [[0, 2]]
    """
    code = _check_code(code)
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a string of '0' and '1'; got {type(bits).__name__}")
    if set(bits) - {"0", "1"}:
        raise ValueError(f"bits must hold only '0' and '1'; got {sorted(set(bits) - {'0', '1'})}")
    # tails[k]: the parses of bits[k:], built from the end of the string back to its start
    tails: list[list[list[int]]] = [[] for _ in range(len(bits))] + [[[]]]
    for start in range(len(bits) - 1, -1, -1):
        for index, word in enumerate(code):
            if bits.startswith(word, start):
                tails[start].extend([index] + rest for rest in tails[start + len(word)])
    return sorted(tails[0])


def expected_length(code: Sequence[str], p: ArrayLike) -> torch.Tensor:
    r"""Expected code-word length :math:`L = \sum_i p_i\, l_i` in bits per symbol.

    Args:
        code: one code word per symbol.
        p: the symbols' probabilities, a 1-D probability vector of the same length.

    Returns:
        A scalar tensor of ``p``'s dtype; differentiable with respect to ``p``.

    >>> expected_length(["0", "10", "110", "111"], [0.5, 0.25, 0.125, 0.125])
    tensor(1.7500)
    """
    code = _check_code(code)
    p = as_probability_vector(p, "p")
    if len(code) != p.numel():
        raise ValueError(f"code has {len(code)} code words but p has {p.numel()} probabilities; they must match")
    lengths = torch.tensor([len(word) for word in code], dtype=p.dtype, device=p.device)
    return (p * lengths).sum()


def encode(message: Sequence[int] | torch.Tensor, code: Sequence[str]) -> str:
    """Concatenate the code words of the symbols in ``message``.

    Args:
        message: symbol indices (a sequence of ints or an integer tensor), each in
            ``range(len(code))``.
        code: one code word per symbol.

    Returns:
        The bit string; its length is the sum of the code words' lengths.

    >>> encode([0, 2, 1, 0], ["0", "10", "11"])
    '011100'
    """
    code = _check_code(code)
    if isinstance(message, torch.Tensor):
        if message.is_floating_point() or message.is_complex() or message.dtype == torch.bool:
            raise TypeError(f"message has dtype {message.dtype}; symbol indices must be integers")
        message = message.flatten().tolist()
    bits = []
    for position, symbol in enumerate(message):
        index = check_int(symbol, f"message[{position}]")
        if not 0 <= index < len(code):
            raise IndexError(f"message[{position}] is {index}; symbol indices must lie in [0, {len(code) - 1}]")
        bits.append(code[index])
    return "".join(bits)


def decode(bits: str, code: Sequence[str]) -> list[int]:
    """Split a bit string into code words and return the symbol indices; inverse of :func:`encode`.

    The code must be prefix-free: then a code word is complete as soon as its bits have been
    read, and the split is unique.

    Args:
        bits: a string of ``"0"`` and ``"1"``.
        code: one code word per symbol, prefix-free.

    Returns:
        The list of symbol indices.

    Raises:
        ValueError: if ``bits`` holds other characters, contains a pattern that starts no code
            word (possible when the Kraft sum is below 1), or ends inside a code word.

    >>> decode("011100", ["0", "10", "11"])
    [0, 2, 1, 0]
    >>> decode("0111", ["0", "10", "11"])
    Traceback (most recent call last):
    ...
    ValueError: bits ends inside a code word: the last 1 bit(s) '1' are not a complete code word
    """
    code = _check_code(code)
    if not is_prefix_free(code):
        raise ValueError(
            "code must be prefix-free to be decoded symbol by symbol; some code word is a prefix of another"
        )
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a string of '0' and '1'; got {type(bits).__name__}")
    if set(bits) - {"0", "1"}:
        raise ValueError(f"bits must hold only '0' and '1'; got {sorted(set(bits) - {'0', '1'})}")
    symbol_of = {word: index for index, word in enumerate(code)}
    longest = max(len(word) for word in code)
    symbols, start = [], 0
    for end in range(1, len(bits) + 1):
        word = bits[start:end]
        if word in symbol_of:
            symbols.append(symbol_of[word])
            start = end
        elif len(word) == longest:
            raise ValueError(f"bits has {word!r} at position {start}, which starts no code word")
    if start < len(bits):
        tail = bits[start:]
        raise ValueError(
            f"bits ends inside a code word: the last {len(tail)} bit(s) {tail!r} are not a complete code word"
        )
    return symbols


def block_distribution(p: ArrayLike, n: int) -> torch.Tensor:
    r"""Distribution of blocks of ``n`` independent symbols, each drawn from ``p``.

    Block :math:`(i_1, \dots, i_n)` has probability :math:`p_{i_1} \cdots p_{i_n}` and index
    :math:`\sum_j i_j K^{n-j}` (the first symbol is the most significant digit, the order of
    ``itertools.product(range(K), repeat=n)``). The result has :math:`K^n` entries, so keep
    ``n`` small. Its entropy is :math:`n H(p)`.

    Args:
        p: a 1-D probability vector of ``K`` symbols.
        n: the block length, a positive integer.

    Returns:
        A 1-D tensor of ``K**n`` probabilities, of ``p``'s dtype.

    >>> block_distribution([0.75, 0.25], 2)
    tensor([0.5625, 0.1875, 0.1875, 0.0625])
    """
    p = as_probability_vector(p, "p")
    n = check_int(n, "n", minimum=1)
    blocks = p
    for _ in range(n - 1):
        blocks = (blocks[:, None] * p[None, :]).reshape(-1)  # (K**j, K) -> (K**(j+1),)
    return blocks


# --------------------------------------------------------------------------------------------
# Arithmetic coding: a model's code length is its cross entropy (Witten, Neal and Cleary 1987)
# --------------------------------------------------------------------------------------------

#: The width of the coder's registers in bits (``low`` and ``high`` lie in ``[0, 2**32)``).
ARITHMETIC_PRECISION = 32
#: The largest total frequency a model may give at one step. The coder's interval is wider than
#: ``2**30`` before every step (after rescaling), so each symbol of frequency >= 1 keeps a non-empty share of it;
#: a cap well below ``2**30`` also keeps the rounding loss per symbol tiny (see
#: :func:`arithmetic_encode`).
ARITHMETIC_MAX_TOTAL = 1 << 16

_FULL = 1 << ARITHMETIC_PRECISION
_HALF = _FULL >> 1
_QUARTER = _FULL >> 2


def _frequency_table(model: Any, prefix: tuple[int, ...]) -> list[int]:
    """The checked frequency table of the next symbol after ``prefix``: ints >= 0, total in [1, max]."""
    table = model(prefix) if callable(model) else model
    name = f"model({len(prefix)} symbols)" if callable(model) else "model"
    if isinstance(table, torch.Tensor):
        if table.dim() != 1 or table.is_floating_point() or table.is_complex() or table.dtype == torch.bool:
            raise TypeError(
                f"{name} has dtype {table.dtype} and shape {tuple(table.shape)}; expected a 1-D "
                "integer tensor of frequency counts"
            )
        table = table.tolist()
    if isinstance(table, str) or not isinstance(table, Sequence):
        raise TypeError(f"{name} must be a sequence of integer frequency counts; got {type(table).__name__}")
    counts = [check_int(count, f"{name}[{index}]", minimum=0) for index, count in enumerate(table)]
    total = sum(counts)
    if not 1 <= total <= ARITHMETIC_MAX_TOTAL:
        raise ValueError(
            f"{name} must have a total frequency in [1, {ARITHMETIC_MAX_TOTAL}] (ARITHMETIC_MAX_TOTAL); got {total}"
        )
    return counts


def _cumulative(counts: list[int]) -> list[int]:
    """``[0, c_0, c_0 + c_1, ..., total]``: symbol ``s`` owns ``[cum[s], cum[s + 1])``."""
    return [0, *itertools.accumulate(counts)]


def _cumulative_tables(model: Any) -> Callable[[list[int]], list[int]]:
    """A function from the symbols so far to the next cumulative table; a static table is checked once, now.

    Only a model that is a function gets the prefix (as a tuple), so a static model costs
    nothing per step.
    """
    if callable(model):
        return lambda prefix: _cumulative(_frequency_table(model, tuple(prefix)))
    cum = _cumulative(_frequency_table(model, ()))
    return lambda prefix: cum


def _check_encodable(cum: list[int], symbol: int, position: int) -> None:
    """Raise unless ``symbol`` has a non-empty share ``[cum[s], cum[s + 1])`` of the table."""
    if not 0 <= symbol < len(cum) - 1:
        raise IndexError(
            f"symbols[{position}] is {symbol}; the model's table at this step has {len(cum) - 1} symbols, "
            f"so it must lie in [0, {len(cum) - 2}]"
        )
    if cum[symbol + 1] == cum[symbol]:
        raise ValueError(
            f"symbols[{position}] is {symbol}, which the model gives frequency 0 at this step; a symbol "
            "that occurs needs a frequency >= 1 (smooth the model)"
        )


def _check_symbols(symbols: Any) -> list[int]:
    """``symbols`` as a list of ints (a sequence of ints or an integer tensor)."""
    if isinstance(symbols, torch.Tensor):
        if symbols.is_floating_point() or symbols.is_complex() or symbols.dtype == torch.bool:
            raise TypeError(f"symbols has dtype {symbols.dtype}; symbol indices must be integers")
        symbols = symbols.flatten().tolist()
    if isinstance(symbols, str) or not isinstance(symbols, Sequence):
        raise TypeError(f"symbols must be a sequence of symbol indices; got {type(symbols).__name__}")
    return [check_int(symbol, f"symbols[{position}]") for position, symbol in enumerate(symbols)]


def _narrow(low: int, high: int, cum: list[int], symbol: int) -> tuple[int, int]:
    """Shrink ``[low, high]`` to the share ``[cum[s], cum[s + 1]) / total`` of symbol ``s``."""
    width = high - low + 1
    total = cum[-1]
    return low + width * cum[symbol] // total, low + width * cum[symbol + 1] // total - 1


def arithmetic_encode(
    symbols: Sequence[int] | torch.Tensor,
    model: Sequence[int] | torch.Tensor | Callable[[tuple[int, ...]], Sequence[int] | torch.Tensor],
) -> str:
    r"""Compress ``symbols`` with an arithmetic coder driven by ``model``'s frequency counts.

    Step :math:`i` gives each symbol :math:`s` the probability :math:`q_i(s) = f_i(s) / S_i`
    of the model's integer frequencies :math:`f_i` (total :math:`S_i`), and narrows the current
    interval to the share of the symbol that occurs. After the whole message the interval has
    width :math:`\prod_i q_i(x_i)` (up to rounding), and a binary fraction inside it of about
    :math:`-\log_2 \prod_i q_i(x_i)` bits names it: the message costs its *ideal code length*
    (:func:`ideal_code_length`), the model's summed surprise in bits.

    The coder is the integer one of Witten, Neal and Cleary (1987): ``low`` and ``high`` are
    32-bit integers; a leading bit on which both agree is sent and shifted out, and an interval
    that straddles the midpoint inside ``[1/4, 3/4)`` is expanded around it, and the coder
    counts one *pending* bit (underflow), whose value is not yet known: it is sent later as the
    opposite of the next bit that is settled. The message ends with two bits
    (plus the pending ones) that pick a point inside the last interval; the decoder reads
    zeros past the end. The length :math:`|c|` of the output :math:`c` obeys

    .. math::

        |c| \le -\sum_{i=1}^{n} \log_2 q_i(x_i) + 2
        + \sum_{i=1}^{n} -\log_2\!\left(1 - \frac{S_i}{2^{30}}\right),

    because the interval is wider than :math:`2^{30}` before every step, so rounding its ends
    down costs at most the factor :math:`1 - S_i / 2^{30}`. With :math:`S_i \le 2^{16}`
    (:data:`ARITHMETIC_MAX_TOTAL`) the last term is below :math:`9 \cdot 10^{-5}` bits per
    symbol.

    Args:
        symbols: the message, symbol indices (a sequence of ints or an integer tensor).
        model: a frequency table (integer counts >= 0, one per symbol, total in
            ``[1, ARITHMETIC_MAX_TOTAL]``) used at every step, or a function that takes the
            symbols so far as a tuple and returns the table of the next symbol (an adaptive
            or context model). A symbol must have a frequency >= 1 where it occurs.

    Returns:
        The code, a string of ``"0"`` and ``"1"``. :func:`arithmetic_decode` needs its length
        ``n`` too (the code does not mark its end).

    Raises:
        TypeError: if a symbol or a frequency is not an integer.
        ValueError: if a frequency is negative, a table's total is outside
            ``[1, ARITHMETIC_MAX_TOTAL]``, or a symbol has frequency 0 where it occurs.
        IndexError: if a symbol lies outside its table.

    >>> arithmetic_encode([0, 0, 1, 0], [3, 1])
    '0111'
    >>> arithmetic_decode("0111", 4, [3, 1])
    [0, 0, 1, 0]
    """
    message = _check_symbols(symbols)
    tables = _cumulative_tables(model)
    low, high, pending = 0, _FULL - 1, 0
    bits: list[str] = []

    def emit(bit: str) -> None:
        nonlocal pending
        bits.append(bit + ("1" if bit == "0" else "0") * pending)  # pending bits are the opposite
        pending = 0

    for position, symbol in enumerate(message):
        cum = tables(message[:position] if callable(model) else message)
        _check_encodable(cum, symbol, position)
        low, high = _narrow(low, high, cum, symbol)
        while True:
            if high < _HALF:  # both in the lower half: the next bit is 0
                emit("0")
            elif low >= _HALF:  # both in the upper half: the next bit is 1
                emit("1")
                low, high = low - _HALF, high - _HALF
            elif low >= _QUARTER and high < 3 * _QUARTER:  # straddles the middle: underflow
                pending += 1
                low, high = low - _QUARTER, high - _QUARTER
            else:
                break
            low, high = 2 * low, 2 * high + 1
    # Now low < 1/4 <= 1/2 <= high or low < 1/2 < 3/4 <= high: "01" or "10" (then zeros) lies inside.
    pending += 1
    emit("0" if low < _QUARTER else "1")
    return "".join(bits)


def arithmetic_decode(
    bits: str, n: int, model: Sequence[int] | torch.Tensor | Callable[[tuple[int, ...]], Sequence[int] | torch.Tensor]
) -> list[int]:
    r"""Recover ``n`` symbols from the output of :func:`arithmetic_encode` with the same ``model``.

    The decoder repeats the encoder's interval narrowing: at each step it finds the symbol
    whose share of the current interval holds the code's value (read 32 bits at a time, zeros
    past the end), so it must ask the model for exactly the tables the encoder used, which an
    adaptive model computes from the symbols decoded so far. The code carries no check: bits
    that the encoder did not produce (or another model) decode to some message without error.

    Args:
        bits: the code, a string of ``"0"`` and ``"1"``.
        n: the number of symbols to decode, an int >= 0.
        model: the encoder's model (a table, or a function of the prefix).

    Returns:
        The ``n`` symbol indices.

    Raises:
        TypeError: if ``bits`` is not a string, or ``n`` or a frequency of the model is not an
            integer.
        ValueError: if ``bits`` holds a character other than ``"0"`` and ``"1"``, ``n`` is
            negative, or a table of the model has a negative frequency or a total outside
            ``[1, ARITHMETIC_MAX_TOTAL]``.

    >>> arithmetic_decode(arithmetic_encode([2, 0, 2], [1, 2, 5]), 3, [1, 2, 5])
    [2, 0, 2]
    """
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a string of '0' and '1'; got {type(bits).__name__}")
    if set(bits) - {"0", "1"}:
        raise ValueError(f"bits must hold only '0' and '1'; got {sorted(set(bits) - {'0', '1'})}")
    n = check_int(n, "n", minimum=0)
    tables = _cumulative_tables(model)
    stream = iter(bits)

    def next_bit() -> int:
        return 1 if next(stream, "0") == "1" else 0

    value = 0
    for _ in range(ARITHMETIC_PRECISION):
        value = 2 * value + next_bit()
    low, high = 0, _FULL - 1
    decoded: list[int] = []
    for _ in range(n):
        cum = tables(decoded)
        # The largest s with cum[s] <= (scaled value): the symbol whose share holds the value.
        scaled = ((value - low + 1) * cum[-1] - 1) // (high - low + 1)
        symbol = bisect.bisect_right(cum, scaled) - 1
        decoded.append(symbol)
        low, high = _narrow(low, high, cum, symbol)
        while True:
            if high < _HALF:
                pass
            elif low >= _HALF:
                low, high, value = low - _HALF, high - _HALF, value - _HALF
            elif low >= _QUARTER and high < 3 * _QUARTER:
                low, high, value = low - _QUARTER, high - _QUARTER, value - _QUARTER
            else:
                break
            low, high, value = 2 * low, 2 * high + 1, 2 * value + next_bit()
    return decoded


def ideal_code_length(
    symbols: Sequence[int] | torch.Tensor,
    model: Sequence[int] | torch.Tensor | Callable[[tuple[int, ...]], Sequence[int] | torch.Tensor],
) -> float:
    r"""The model's summed surprise of the message in bits, :math:`-\sum_i \log_2 (f_i(x_i) / S_i)`.

    This is :math:`N \cdot H(\hat p, q)` for a static model (:math:`\hat p` the message's
    symbol frequencies), the length that :func:`arithmetic_encode` achieves to within about
    2 bits. Infinite if a symbol has frequency 0 where it occurs.

    Args:
        symbols: the message, symbol indices.
        model: a frequency table or a function of the prefix, as for :func:`arithmetic_encode`.

    Returns:
        A float, in bits (float64 arithmetic).

    >>> ideal_code_length([0, 0, 1, 0], [3, 1])
    3.2451124978365318
    """
    message = _check_symbols(symbols)
    tables = _cumulative_tables(model)
    total_bits = 0.0
    for position, symbol in enumerate(message):
        cum = tables(message[:position] if callable(model) else message)
        if not 0 <= symbol < len(cum) - 1:
            _check_encodable(cum, symbol, position)  # raises the IndexError
        if cum[symbol + 1] == cum[symbol]:
            return math.inf
        total_bits -= math.log2((cum[symbol + 1] - cum[symbol]) / cum[-1])
    return total_bits
