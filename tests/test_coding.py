"""Tests of celib.coding: Huffman optimality against brute force, Kraft, prefix-freeness, round trips, errors."""

import heapq
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from celib.coding import (
    ARITHMETIC_MAX_TOTAL,
    ambiguous_parses,
    arithmetic_decode,
    arithmetic_encode,
    block_distribution,
    canonical_code,
    decode,
    encode,
    expected_length,
    huffman_code,
    ideal_code_length,
    is_prefix_free,
    is_uniquely_decodable,
    kraft_sum,
    parses,
)
from celib.information import entropy
from tests.strategies import distributions


def lengths(code):
    return [len(word) for word in code]


def best_expected_length(p):
    """Brute force: the smallest sum p_i l_i over all lengths in 1..K-1 that satisfy Kraft (K >= 2).

    By the Kraft-McMillan theorem these are exactly the lengths of prefix-free codes, and an
    optimal code never needs a word longer than K - 1.
    """
    k = len(p)
    grid = np.array(list(itertools.product(range(1, k), repeat=k)))  # (candidates, K)
    feasible = (2.0**-grid).sum(axis=1) <= 1
    return (grid[feasible] @ np.asarray(p)).min(), grid[feasible]


def merged_weight_total(p):
    """Independent identity: the optimal expected length is the sum of the weights Huffman merges."""
    heap = list(p)
    heapq.heapify(heap)
    total = 0.0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        total += merged
        heapq.heappush(heap, merged)
    return total


class TestHuffmanCode:
    def test_textbook_example(self):
        assert huffman_code([0.5, 0.25, 0.125, 0.125]) == ["0", "10", "110", "111"]

    def test_dyadic_probabilities_get_their_surprise_as_length(self):
        p = torch.tensor([1 / 4, 1 / 2, 1 / 16, 1 / 8, 1 / 16], dtype=torch.float64)
        assert lengths(huffman_code(p)) == (-torch.log2(p)).tolist()

    def test_uniform_over_power_of_two_is_fixed_length(self):
        code = huffman_code(torch.full((8,), 1 / 8))
        assert sorted(code) == [format(i, "03b") for i in range(8)]

    def test_single_symbol_gets_one_bit(self):
        assert huffman_code([1.0]) == ["0"]
        assert huffman_code(torch.tensor([1.0])) == ["0"]

    def test_zero_probability_symbols_get_code_words(self):
        p = [0.0, 0.5, 0.0, 0.5]
        code = huffman_code(p)
        assert len(code) == 4 and is_prefix_free(code) and kraft_sum(code).item() == 1.0
        assert decode(encode([0, 2], code), code) == [0, 2]  # every symbol is encodable
        # The zeros take code space: two 1-bit words would leave none, so the best is 1.5 bits.
        assert expected_length(code, p).item() == 1.5
        assert min(len(code[0]), len(code[2])) >= max(len(code[1]), len(code[3]))

    def test_ties_are_broken_deterministically(self):
        # Lengths 2, 2, 2, 3, 3 (not the equally optimal 1, 2, 3, 4, 4): leaves merge before merged nodes.
        assert huffman_code([0.4, 0.2, 0.2, 0.1, 0.1]) == ["00", "01", "10", "110", "111"]
        # Among equal probabilities, lower indices merge first and so get the longer words.
        assert huffman_code([0.2, 0.2, 0.2, 0.2, 0.2]) == ["110", "111", "00", "01", "10"]

    def test_accepts_numpy_and_float32(self):
        assert huffman_code(np.array([0.5, 0.25, 0.25])) == ["0", "10", "11"]
        assert huffman_code(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float32)) == ["0", "10", "11"]

    @settings(max_examples=150)
    @given(distributions(min_size=2, max_size=6))
    def test_optimal_against_brute_force(self, p):
        best, _ = best_expected_length(p.tolist())
        got = expected_length(huffman_code(p), p).item()
        assert got == pytest.approx(best, abs=1e-12)

    @settings(max_examples=100)
    @given(st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=5).filter(lambda c: sum(c) > 0))
    def test_shortest_longest_word_among_optimal_codes_for_exact_ties(self, counts):
        # Pad the counts to a power-of-two total: then every sum Huffman forms is exact in float64,
        # so ties are exact ties.
        counts = counts + [(1 << (sum(counts) - 1).bit_length()) - sum(counts)]
        p = torch.tensor(counts, dtype=torch.float64) / sum(counts)
        best, feasible = best_expected_length(p.tolist())
        optimal = feasible[np.isclose(feasible @ p.numpy(), best, rtol=0, atol=1e-12)]
        assert max(lengths(huffman_code(p))) == optimal.max(axis=1).min()

    @settings(max_examples=100)
    @given(distributions(min_size=2, max_size=40))
    def test_matches_sum_of_merged_weights(self, p):
        got = expected_length(huffman_code(p), p).item()
        assert got == pytest.approx(merged_weight_total(p.tolist()), rel=1e-12, abs=1e-12)

    @settings(max_examples=100)
    @given(distributions(max_size=40))
    def test_prefix_free_complete_and_within_one_bit_of_entropy(self, p):
        code = huffman_code(p)
        assert len(code) == len(p) and is_prefix_free(code)
        assert kraft_sum(code).item() == 1.0 or len(p) == 1
        h = entropy(p, base=2).item()
        length = expected_length(code, p).item()
        if p.max() == 1:  # one certain symbol: H = 0, but a code word has at least one bit
            assert length == 1.0 and h == 0.0
        else:
            assert h - 1e-12 <= length < h + 1

    @settings(max_examples=100)
    @given(distributions(min_size=2, max_size=12))
    def test_more_probable_never_gets_a_longer_word(self, p):
        code = huffman_code(p)
        for i, j in itertools.permutations(range(len(p)), 2):
            if p[i] > p[j]:
                assert len(code[i]) <= len(code[j])

    def test_large_alphabet_is_fast_enough_and_valid(self):
        p = torch.rand(20_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        p /= p.sum()
        code = huffman_code(p)
        assert kraft_sum(code).item() == 1.0 and is_prefix_free(code)

    @pytest.mark.parametrize(
        "bad, error, message",
        [
            ([0.5, 0.6], ValueError, r"^p must sum to 1"),
            ([1.5, -0.5], ValueError, r"^p must hold probabilities in \[0, 1\]"),
            ([[0.5, 0.5]], ValueError, r"^p has shape \(1, 2\); expected a 1-D probability vector$"),
            (1.0, ValueError, r"^p has shape \(\); expected a 1-D probability vector$"),
            ([], ValueError, r"^p must sum to 1"),
            ("abc", TypeError, r"^p must be a tensor or an array-like"),
        ],
    )
    def test_rejects_non_distributions(self, bad, error, message):
        with pytest.raises(error, match=message):
            huffman_code(bad)


class TestCanonicalCode:
    @settings(max_examples=200)
    @given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=30))
    def test_builds_a_prefix_free_code_exactly_when_kraft_holds(self, wanted):
        if sum(2.0**-length for length in wanted) <= 1:
            code = canonical_code(wanted)
            assert lengths(code) == wanted and is_prefix_free(code)
        else:
            with pytest.raises(ValueError, match=r"^lengths violate Kraft's inequality"):
                canonical_code(wanted)

    def test_accepts_integer_valued_tensors_and_floats(self):
        assert canonical_code(torch.tensor([1.0, 2.0, 2.0])) == ["0", "10", "11"]
        assert canonical_code(torch.tensor([2, 1])) == ["10", "0"]

    @pytest.mark.parametrize(
        ("bad", "error", "message"),
        [
            ([0, 1], ValueError, r"^lengths\[0\] must be an int >= 1; got 0$"),
            ([-1], ValueError, r"^lengths\[0\] must be an int >= 1; got -1$"),
            ([1.5], TypeError, r"^lengths\[0\] must be an int >= 1; got 1.5 \(float\)$"),
            ([True], TypeError, r"^lengths\[0\] must be an int >= 1; got True \(bool\)$"),
            ([], ValueError, r"^lengths must hold at least one length; got an empty sequence$"),
            ("12", TypeError, r"^lengths must be a sequence of positive integers; got str$"),
            (None, TypeError, r"^lengths must be a sequence of positive integers; got NoneType$"),
            (torch.ones(2, 2), ValueError, r"^lengths has shape \(2, 2\); expected a 1-D sequence"),
        ],
    )
    def test_rejects_bad_lengths(self, bad, error, message):
        with pytest.raises(error, match=message):
            canonical_code(bad)


class TestKraftAndPrefix:
    def test_kraft_sum_values(self):
        assert kraft_sum(["0", "10", "11"]).item() == 1.0
        assert kraft_sum(["0", "10"]).item() == 0.75
        assert kraft_sum(["0", "1", "00"]).item() == 1.25
        assert kraft_sum(["0", "1", "00"]).dtype == torch.float64

    def test_prefix_detection(self):
        assert is_prefix_free(["10", "0", "11"])
        assert not is_prefix_free(["1", "0", "10"])
        assert not is_prefix_free(["0", "10", "0"])  # a repeated word
        assert not is_prefix_free(["011", "0", "1"])  # the prefix sorts first but not next to it

    @settings(max_examples=200)
    @given(st.lists(st.text(alphabet="01", min_size=1, max_size=5), min_size=1, max_size=10))
    def test_prefix_free_matches_pairwise_definition(self, code):
        pairwise = not any(i != j and code[j].startswith(code[i]) for i in range(len(code)) for j in range(len(code)))
        assert is_prefix_free(code) == pairwise

    @pytest.mark.parametrize("bad", [["0", ""], ["0", "12"]])
    def test_rejects_bad_code_words(self, bad):
        with pytest.raises(ValueError, match=r"^code\[1\] must be a non-empty string of '0' and '1'; got"):
            kraft_sum(bad)

    def test_rejects_a_code_word_that_is_not_a_string(self):
        with pytest.raises(TypeError, match=r"^code\[1\] must be a non-empty string of '0' and '1'; got 1 \(int\)$"):
            kraft_sum(["0", 1])

    @pytest.mark.parametrize("bad", ["0110", 5, None])
    def test_rejects_non_sequences(self, bad):
        with pytest.raises(TypeError, match=r"^code must be a sequence of code words"):
            is_prefix_free(bad)

    def test_rejects_empty_code(self):
        with pytest.raises(ValueError, match=r"^code must hold at least one code word"):
            is_prefix_free([])


class TestExpectedLength:
    def test_value_and_dtype(self):
        got = expected_length(["0", "10", "11"], torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
        assert got.item() == 1.5 and got.dtype == torch.float64

    def test_gradient_is_the_lengths(self):
        p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64, requires_grad=True)
        expected_length(["0", "10", "11"], p).backward()
        assert p.grad.tolist() == [1.0, 2.0, 2.0]

    def test_rejects_mismatched_sizes(self):
        with pytest.raises(ValueError, match=r"^code has 2 code words but p has 3 probabilities"):
            expected_length(["0", "1"], [0.5, 0.25, 0.25])


class TestEncodeDecode:
    @settings(max_examples=100)
    @given(distributions(max_size=10), st.data())
    def test_round_trip_and_length(self, p, data):
        code = huffman_code(p)
        message = data.draw(st.lists(st.integers(min_value=0, max_value=len(p) - 1), max_size=50))
        bits = encode(message, code)
        assert len(bits) == sum(len(code[s]) for s in message)
        assert decode(bits, code) == message

    def test_tensor_messages(self):
        code = ["0", "10", "11"]
        assert encode(torch.tensor([2, 0, 1]), code) == "11010"
        assert encode([], code) == "" and decode("", code) == []

    def test_long_message_decodes(self):
        code = huffman_code(torch.full((26,), 1 / 26))
        message = torch.randint(26, (5000,), generator=torch.Generator().manual_seed(0)).tolist()
        assert decode(encode(message, code), code) == message

    def test_rejects_out_of_range_and_non_integer_symbols(self):
        with pytest.raises(IndexError, match=r"^message\[1\] is 3; symbol indices must lie in \[0, 2\]"):
            encode([0, 3], ["0", "10", "11"])
        with pytest.raises(IndexError, match=r"^message\[0\] is -1"):
            encode([-1], ["0", "10", "11"])
        with pytest.raises(TypeError, match=r"^message\[0\] must be an int; got 1.0 \(float\)$"):
            encode([1.0], ["0", "10", "11"])
        with pytest.raises(TypeError, match=r"^message has dtype torch.float32; symbol indices must be integers$"):
            encode(torch.tensor([1.0]), ["0", "10", "11"])

    def test_rejects_truncated_stream(self):
        with pytest.raises(ValueError, match=r"^bits ends inside a code word: the last 1 bit\(s\) '1'"):
            decode("0101", ["0", "10", "11"])

    def test_rejects_pattern_that_starts_no_code_word(self):
        # Kraft sum 3/4: no code word starts with 11.
        with pytest.raises(ValueError, match=r"^bits has '11' at position 1, which starts no code word"):
            decode("0110", ["0", "10"])

    def test_rejects_foreign_characters(self):
        with pytest.raises(ValueError, match=r"^bits must hold only '0' and '1'; got \['2'\]"):
            decode("0120", ["0", "10", "11"])
        with pytest.raises(TypeError, match=r"^bits must be a string"):
            decode([0, 1], ["0", "1"])

    def test_rejects_code_that_is_not_prefix_free(self):
        with pytest.raises(ValueError, match=r"^code must be prefix-free"):
            decode("010", ["0", "01", "1"])


class TestBlockDistribution:
    def test_order_is_itertools_product(self):
        p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
        blocks = block_distribution(p, 3)
        expected = [p[i] * p[j] * p[k] for i, j, k in itertools.product(range(3), repeat=3)]
        assert torch.allclose(blocks, torch.stack(expected), rtol=0, atol=1e-15)

    @settings(max_examples=50)
    @given(distributions(max_size=6), st.integers(min_value=1, max_value=3))
    def test_is_a_distribution_with_n_times_the_entropy(self, p, n):
        blocks = block_distribution(p, n)
        assert blocks.shape == (len(p) ** n,)
        assert blocks.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert entropy(blocks, base=2).item() == pytest.approx(n * entropy(p, base=2).item(), abs=1e-9)

    def test_block_codes_approach_entropy(self):
        p = torch.tensor([0.9, 0.1], dtype=torch.float64)
        h = entropy(p, base=2).item()
        per_symbol = [
            expected_length(huffman_code(block_distribution(p, n)), block_distribution(p, n)).item() / n
            for n in (1, 2, 3)
        ]
        assert all(h <= rate < h + 1 / n for n, rate in zip((1, 2, 3), per_symbol))
        assert per_symbol[0] > per_symbol[1] > per_symbol[2]

    @pytest.mark.parametrize(("n", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
    def test_rejects_bad_block_length(self, n, error):
        with pytest.raises(error, match=r"^n must be an int >= 1; got"):
            block_distribution([0.5, 0.5], n)

    def test_rejects_non_distribution(self):
        with pytest.raises(ValueError, match=r"^p must sum to 1"):
            block_distribution([0.5, 0.4], 2)


def parse_counts(code, max_bits):
    """Brute force: the number of ways to split every bit string of up to max_bits bits into code words.

    A split of ``bits`` ends in some code word ``w``, after a split of ``bits`` without ``w``, a
    shorter string whose count is already known.
    """
    counts = {"": 1}
    for n in range(1, max_bits + 1):
        for value in range(1 << n):
            bits = format(value, f"0{n}b")
            counts[bits] = sum(counts[bits[: n - len(word)]] for word in code if len(word) <= n and bits.endswith(word))
    return counts


short_codes = st.lists(st.text(alphabet="01", min_size=1, max_size=3), min_size=1, max_size=4)


class TestUniqueDecodability:
    @pytest.mark.parametrize(
        ("code", "decodable"),
        [
            (["0", "10", "11"], True),  # prefix-free
            (["0", "01", "11"], True),  # not prefix-free, decodable from the right
            (["10", "00", "11", "110"], True),  # Cover and Thomas, table 5.1
            (["0", "01", "10"], False),  # 010 = 0|10 = 01|0
            (["0", "010", "01", "10"], False),  # Cover and Thomas, table 5.1
            (["0", "0", "1"], False),  # singular
            (["1", "011", "01110", "1110", "10011"], False),  # 011|1|011|10011 needs 5 words
        ],
    )
    def test_textbook_codes(self, code, decodable):
        assert is_uniquely_decodable(code) is decodable
        found = ambiguous_parses(code)
        assert (found is None) is decodable

    @settings(max_examples=300, deadline=None)
    @given(short_codes)
    def test_agrees_with_brute_force_over_short_strings(self, code):
        # The brute force sees strings of up to 12 bits; for words of at most 3 bits, at most 4 of
        # them, that is long enough (the next test checks the ambiguities found are shorter).
        ambiguous = max(parse_counts(code, 12).values()) >= 2
        assert is_uniquely_decodable(code) is not ambiguous

    @settings(max_examples=300, deadline=None)
    @given(short_codes)
    def test_the_two_messages_are_different_and_have_the_same_bits(self, code):
        found = ambiguous_parses(code)
        if found is not None:
            first, second = found
            assert first != second
            assert encode(first, code) == encode(second, code)
            assert len(encode(first, code)) <= 12

    @settings(max_examples=200, deadline=None)
    @given(short_codes)
    def test_prefix_free_implies_decodable_implies_kraft(self, code):
        if is_prefix_free(code):
            assert is_uniquely_decodable(code)
        if is_uniquely_decodable(code):  # McMillan's theorem
            assert kraft_sum(code).item() <= 1
            assert len(set(code)) == len(code)  # nonsingular

    def test_rejects_bad_codes(self):
        with pytest.raises(ValueError, match=r"^code\[1\] must be a non-empty string of '0' and '1'; got '2'$"):
            is_uniquely_decodable(["0", "2"])
        with pytest.raises(TypeError, match=r"^code must be a sequence of code words"):
            ambiguous_parses("01")


class TestParses:
    @settings(max_examples=100, deadline=None)
    @given(short_codes)
    def test_count_matches_brute_force(self, code):
        counts = parse_counts(code, 8)
        for bits in ["0", "01", "011", "0101", "10110", "0110100", "11100101"]:
            found = parses(bits, code)
            assert len(found) == counts[bits]
            assert all(encode(parse, code) == bits for parse in found)
            assert len({tuple(parse) for parse in found}) == len(found)

    def test_examples(self):
        assert parses("010", ["0", "01", "10"]) == [[0, 2], [1, 0]]
        assert parses("011", ["0", "01", "11"]) == [[0, 2]]
        assert parses("0111", ["0", "01", "11"]) == [[1, 2]]
        assert parses("", ["0"]) == [[]]
        assert parses("1", ["0"]) == []

    def test_rejects_bad_bits(self):
        with pytest.raises(ValueError, match=r"^bits must hold only '0' and '1'; got \['2'\]$"):
            parses("012", ["0", "1"])
        with pytest.raises(TypeError, match=r"^bits must be a string of '0' and '1'; got int$"):
            parses(101, ["0", "1"])


# --------------------------------------------------------------------------------------------
# Arithmetic coding
# --------------------------------------------------------------------------------------------


#: The rounding loss per symbol that ``arithmetic_encode`` documents: -log2(1 - T / 2**30).
def rounding_bits(total):
    return -math.log2(1 - total / 2**30)


def length_bound(message, model):
    """The documented bound: ideal length + 2 bits + the rounding loss of every step."""
    tables = [model(tuple(message[:i])) if callable(model) else model for i in range(len(message))]
    return ideal_code_length(message, model) + 2 + sum(rounding_bits(sum(t)) for t in tables)


@st.composite
def static_model_and_message(draw, max_symbols=8, max_length=60):
    """A frequency table (uniform, skewed or one-symbol-dominant) and a message it can encode."""
    k = draw(st.integers(1, max_symbols))
    kind = draw(st.sampled_from(["any", "skewed", "dominant"]))
    if kind == "dominant":  # one symbol takes nearly the whole total, the rest get 1
        counts = [1] * k
        counts[draw(st.integers(0, k - 1))] = ARITHMETIC_MAX_TOTAL - (k - 1)
    elif kind == "skewed":
        # powers up to 4**7 = 16384, capped so that the total stays within ARITHMETIC_MAX_TOTAL
        counts = [min(draw(st.integers(1, 4)) ** draw(st.integers(0, 7)), ARITHMETIC_MAX_TOTAL // k) for _ in range(k)]
    else:
        counts = draw(st.lists(st.integers(0, 1000), min_size=k, max_size=k))
    if sum(counts) == 0:
        counts[0] = 1
    allowed = [s for s, c in enumerate(counts) if c > 0]
    message = draw(st.lists(st.sampled_from(allowed), max_size=max_length))
    return counts, message


def adaptive_counts(k):
    """An adaptive model: add-one counts of the symbols so far (the decoder can recompute them)."""

    def model(prefix):
        counts = [1] * k
        for symbol in prefix:
            counts[symbol] += 1
        return counts

    return model


class TestArithmeticCoding:
    def test_worked_example(self):
        # [3, 1]: q = 3/4, 3/4, 1/4, 3/4, product 27/256, ideal 3.245 bits; 4 bits come out.
        assert arithmetic_encode([0, 0, 1, 0], [3, 1]) == "0111"
        assert ideal_code_length([0, 0, 1, 0], [3, 1]) == pytest.approx(-math.log2(27 / 256))

    @settings(max_examples=300, deadline=None)
    @given(static_model_and_message())
    def test_round_trip_and_length_static(self, case):
        counts, message = case
        bits = arithmetic_encode(message, counts)
        assert arithmetic_decode(bits, len(message), counts) == message
        assert len(bits) <= length_bound(message, counts) + 1e-9

    @settings(max_examples=100, deadline=None)
    @given(st.integers(1, 6), st.data())
    def test_round_trip_and_length_adaptive(self, k, data):
        message = data.draw(st.lists(st.integers(0, k - 1), max_size=80))
        model = adaptive_counts(k)
        bits = arithmetic_encode(message, model)
        assert arithmetic_decode(bits, len(message), model) == message
        assert len(bits) <= length_bound(message, model) + 1e-9

    @settings(max_examples=100, deadline=None)
    @given(st.integers(1, 5), st.integers(0, 2**32 - 1), st.data())
    def test_round_trip_context_model(self, k, seed, data):
        """A model whose table depends on the previous symbol (random counts, zeros allowed, as a tensor)."""
        g = torch.Generator().manual_seed(seed)
        tables = torch.randint(0, 50, (k + 1, k), generator=g)  # row k: the table of the first step
        tables[:, 0] += 1  # every row can code symbol 0, so no total is 0

        def model(prefix):
            return tables[prefix[-1] if prefix else k]

        message, previous = [], k
        for _ in range(data.draw(st.integers(0, 50))):
            allowed = [s for s in range(k) if tables[previous, s] > 0]
            previous = data.draw(st.sampled_from(allowed))
            message.append(previous)
        bits = arithmetic_encode(message, model)
        assert arithmetic_decode(bits, len(message), model) == message
        assert len(bits) <= length_bound(message, lambda prefix: model(prefix).tolist()) + 1e-9

    def test_tensor_inputs(self):
        counts = torch.tensor([5, 2, 9])
        message = torch.tensor([2, 2, 0, 1, 2])
        bits = arithmetic_encode(message, counts)
        assert arithmetic_decode(bits, 5, counts) == message.tolist()

    def test_dominant_symbol_costs_almost_nothing(self):
        counts = [ARITHMETIC_MAX_TOTAL - 1, 1]
        message = [0] * 10_000
        bits = arithmetic_encode(message, counts)
        # 10,000 symbols of probability 1 - 2**-16: 0.22 bits of surprise in all.
        assert ideal_code_length(message, counts) < 0.25
        assert len(bits) <= 3
        assert arithmetic_decode(bits, len(message), counts) == message

    @pytest.mark.parametrize("k, n", [(2, 6), (3, 4), (4, 3)])
    def test_brute_force_all_messages(self, k, n):
        """Every message of length n: decodes back, codes are distinct, the bound holds, also on average."""
        counts = [2 ** (i + 1) - 1 for i in range(k)]  # 1, 3, 7, 15: not dyadic
        total = sum(counts)
        codes = {}
        mean_length = Fraction(0)
        for message in itertools.product(range(k), repeat=n):
            bits = arithmetic_encode(list(message), counts)
            assert arithmetic_decode(bits, n, counts) == list(message)
            assert len(bits) <= length_bound(list(message), counts) + 1e-9
            codes[bits] = message
            probability = math.prod(Fraction(counts[s], total) for s in message)
            mean_length += probability * len(bits)
        assert len(codes) == k**n  # distinct messages get distinct codes
        q = torch.tensor(counts, dtype=torch.float64) / total
        entropy_bits = entropy(q, base=2).item()
        # Averaged over messages drawn from the model itself, the bound reads: at most n H + 2 + rounding.
        assert float(mean_length) <= n * entropy_bits + 2 + n * rounding_bits(total)

    def test_interval_matches_exact_fractions(self):
        """The decoded value's binary fraction lies in the message's exact interval, up to rounding."""
        counts = [1, 3, 7]
        total = sum(counts)
        for message in itertools.product(range(3), repeat=3):
            bits = arithmetic_encode(list(message), counts)
            low, width = Fraction(0), Fraction(1)
            for s in message:
                low += width * Fraction(sum(counts[:s]), total)
                width *= Fraction(counts[s], total)
            value = Fraction(int(bits, 2), 2 ** len(bits))
            slack = Fraction(len(message), 2**30)  # each step moves an end by < 1 / 2**30 of the width
            assert low - slack <= value < low + width + slack

    def test_errors(self):
        with pytest.raises(ValueError, match=r"symbols\[1\] is 1, which the model gives frequency 0"):
            arithmetic_encode([0, 1], [3, 0])
        with pytest.raises(IndexError, match=r"symbols\[0\] is 2; the model's table at this step has 2 symbols"):
            arithmetic_encode([2], [3, 1])
        with pytest.raises(TypeError, match=r"symbols\[0\] must be an int; got 0.5 \(float\)"):
            arithmetic_encode([0.5], [3, 1])
        with pytest.raises(TypeError, match=r"model\[1\] must be an int >= 0; got 1.5 \(float\)"):
            arithmetic_encode([0], [3, 1.5])
        with pytest.raises(ValueError, match=r"model\[0\] must be an int >= 0; got -1"):
            arithmetic_encode([0], [-1, 3])
        with pytest.raises(ValueError, match=r"total frequency in \[1, 65536\] \(ARITHMETIC_MAX_TOTAL\); got 0"):
            arithmetic_encode([], [0, 0])
        with pytest.raises(ValueError, match=r"got 65537"):
            arithmetic_encode([0], [ARITHMETIC_MAX_TOTAL, 1])
        with pytest.raises(TypeError, match=r"model has dtype torch.float32"):
            arithmetic_encode([0], torch.tensor([0.5, 0.5]))
        with pytest.raises(TypeError, match=r"model\(1 symbols\) must be a sequence"):
            arithmetic_encode([0, 0], lambda prefix: [1] if not prefix else None)
        with pytest.raises(TypeError, match=r"symbols must be a sequence of symbol indices; got str"):
            arithmetic_encode("01", [1, 1])
        with pytest.raises(ValueError, match=r"bits must hold only '0' and '1'; got \['2'\]"):
            arithmetic_decode("012", 1, [1, 1])
        with pytest.raises(ValueError, match=r"n must be an int >= 0; got -1"):
            arithmetic_decode("01", -1, [1, 1])
        with pytest.raises(TypeError, match=r"bits must be a string"):
            arithmetic_decode([0, 1], 1, [1, 1])
