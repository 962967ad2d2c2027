"""The templates of the `python-functions` family: a spec, a trusted reference solution and an input maker each.

A template's `level` (1-5) is its difficulty. `params` draws the template's parameters (a threshold, a
character, ...), so one template yields many distinct tasks; `spec` and `reference` are formatted with them.
`inputs` draws the hidden test inputs (each a list of positional arguments), edge cases included.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Params = dict[str, Any]


@dataclass(frozen=True)
class Template:
    name: str
    level: int
    signature: str
    spec: str
    reference: str
    inputs: Callable[[random.Random, Params], list[list[Any]]]
    params: Callable[[random.Random], Params] = lambda rng: {}

    @property
    def entry_point(self) -> str:
        return self.signature.split("(")[0]


WORDS = (
    "apple banana cherry delta echo falcon grape harbor island jungle kettle lemon mango nectar olive "
    "pepper quartz river stone tiger umbra violet walnut xenon yellow zebra moon sun star cloud rain"
).split()


def ints(rng: random.Random, n: int, lo: int = -20, hi: int = 20) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def int_lists(lo: int = -20, hi: int = 20, short: bool = True) -> Callable[[random.Random, Params], list[list[Any]]]:
    def make(rng: random.Random, p: Params) -> list[list[Any]]:
        cases: list[list[Any]] = [[[]]] if short else []
        cases += [[ints(rng, rng.randint(1, 9), lo, hi)] for _ in range(7)]
        return cases

    return make


def nonempty_int_lists(lo: int = -20, hi: int = 20) -> Callable[[random.Random, Params], list[list[Any]]]:
    return int_lists(lo, hi, short=False)


def word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def sentences(rng: random.Random, p: Params) -> list[list[Any]]:
    cases: list[list[Any]] = [[""], [word(rng)]]
    cases += [[" ".join(word(rng) for _ in range(rng.randint(2, 6)))] for _ in range(6)]
    return cases


def mixed_strings(rng: random.Random, p: Params) -> list[list[Any]]:
    alphabet = string.ascii_letters + string.digits + "  ,.!?"
    cases: list[list[Any]] = [[""], ["a"], ["Hello World"]]
    cases += [["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))] for _ in range(5)]
    return cases


def word_lists(rng: random.Random, p: Params) -> list[list[Any]]:
    cases: list[list[Any]] = [[[]]]
    cases += [[[word(rng) for _ in range(rng.randint(1, 6))]] for _ in range(7)]
    return cases


def small_ints(lo: int, hi: int) -> Callable[[random.Random, Params], list[list[Any]]]:
    def make(rng: random.Random, p: Params) -> list[list[Any]]:
        values = sorted({lo, hi, *(rng.randint(lo, hi) for _ in range(8))})
        return [[v] for v in values]

    return make


def int_pairs(lo: int, hi: int) -> Callable[[random.Random, Params], list[list[Any]]]:
    def make(rng: random.Random, p: Params) -> list[list[Any]]:
        return [[rng.randint(lo, hi), rng.randint(lo, hi)] for _ in range(8)]

    return make


def word_count_dicts(rng: random.Random, p: Params) -> list[list[Any]]:
    cases: list[list[Any]] = [[{}]]
    for _ in range(7):
        keys = rng.sample(WORDS, rng.randint(1, 5))
        cases.append([{k: rng.randint(0, 9) for k in keys}])
    return cases


def threshold(rng: random.Random) -> Params:
    return {"k": rng.randint(-5, 10)}


def divisor(rng: random.Random) -> Params:
    return {"k": rng.randint(2, 7)}


def letter(rng: random.Random) -> Params:
    return {"c": rng.choice("aeiourstln")}


TEMPLATES: list[Template] = [
    # ---- level 1: one step -------------------------------------------------------------------------------
    Template(
        "sum_list",
        1,
        "sum_list(xs)",
        "returns the sum of the numbers in the list `xs` (0 for an empty list).",
        "def sum_list(xs):\n    return sum(xs)",
        int_lists(),
    ),
    Template(
        "max_of_list",
        1,
        "max_of_list(xs)",
        "returns the largest number in the non-empty list `xs`.",
        "def max_of_list(xs):\n    return max(xs)",
        nonempty_int_lists(),
    ),
    Template(
        "min_of_list",
        1,
        "min_of_list(xs)",
        "returns the smallest number in the non-empty list `xs`.",
        "def min_of_list(xs):\n    return min(xs)",
        nonempty_int_lists(),
    ),
    Template(
        "count_items",
        1,
        "count_items(xs)",
        "returns how many items the list `xs` has.",
        "def count_items(xs):\n    return len(xs)",
        int_lists(),
    ),
    Template(
        "reverse_string",
        1,
        "reverse_string(s)",
        "returns the string `s` reversed.",
        "def reverse_string(s):\n    return s[::-1]",
        mixed_strings,
    ),
    Template(
        "to_upper",
        1,
        "to_upper(s)",
        "returns the string `s` with every letter in upper case.",
        "def to_upper(s):\n    return s.upper()",
        mixed_strings,
    ),
    Template(
        "add_constant",
        1,
        "add_constant(x)",
        "returns `x` plus {k}.",
        "def add_constant(x):\n    return x + {k}",
        small_ints(-50, 50),
        threshold,
    ),
    Template(
        "multiply_by",
        1,
        "multiply_by(x)",
        "returns `x` multiplied by {k}.",
        "def multiply_by(x):\n    return x * {k}",
        small_ints(-30, 30),
        divisor,
    ),
    Template(
        "is_even",
        1,
        "is_even(n)",
        "returns True if the integer `n` is even and False otherwise.",
        "def is_even(n):\n    return n % 2 == 0",
        small_ints(-20, 20),
    ),
    Template(
        "first_item",
        1,
        "first_item(xs)",
        "returns the first item of the non-empty list `xs`.",
        "def first_item(xs):\n    return xs[0]",
        nonempty_int_lists(),
    ),
    Template(
        "string_length",
        1,
        "string_length(s)",
        "returns the number of characters in the string `s`.",
        "def string_length(s):\n    return len(s)",
        mixed_strings,
    ),
    # ---- level 2: a filter, a condition or a parameter ---------------------------------------------------
    Template(
        "sum_evens",
        2,
        "sum_evens(xs)",
        "returns the sum of the even numbers in the list `xs`.",
        "def sum_evens(xs):\n    return sum(x for x in xs if x % 2 == 0)",
        int_lists(),
    ),
    Template(
        "count_greater",
        2,
        "count_greater(xs)",
        "returns how many numbers in the list `xs` are greater than {k}.",
        "def count_greater(xs):\n    return sum(1 for x in xs if x > {k})",
        int_lists(),
        threshold,
    ),
    Template(
        "keep_multiples",
        2,
        "keep_multiples(xs)",
        "returns a list of the numbers in `xs` that are divisible by {k}, in their original order.",
        "def keep_multiples(xs):\n    return [x for x in xs if x % {k} == 0]",
        int_lists(),
        divisor,
    ),
    Template(
        "count_char",
        2,
        "count_char(s)",
        "returns how many times the character '{c}' occurs in the string `s`.",
        "def count_char(s):\n    return s.count('{c}')",
        sentences,
        letter,
    ),
    Template(
        "count_vowels",
        2,
        "count_vowels(s)",
        "returns the number of vowels (a, e, i, o, u, upper or lower case) in the string `s`.",
        "def count_vowels(s):\n    return sum(1 for ch in s.lower() if ch in 'aeiou')",
        mixed_strings,
    ),
    Template(
        "clamp",
        2,
        "clamp(x)",
        "returns `x` limited to the range from 0 to {k}: below 0 gives 0, above {k} gives {k}.",
        "def clamp(x):\n    return max(0, min({k}, x))",
        small_ints(-30, 30),
        lambda rng: {"k": rng.randint(5, 20)},
    ),
    Template(
        "absolute_values",
        2,
        "absolute_values(xs)",
        "returns a list of the absolute values of the numbers in `xs`.",
        "def absolute_values(xs):\n    return [abs(x) for x in xs]",
        int_lists(),
    ),
    Template(
        "square_all",
        2,
        "square_all(xs)",
        "returns a list with the square of each number in `xs`.",
        "def square_all(xs):\n    return [x * x for x in xs]",
        int_lists(),
    ),
    Template(
        "last_word",
        2,
        "last_word(s)",
        "returns the last word of the sentence `s` (words are separated by spaces; '' if there is none).",
        "def last_word(s):\n    words = s.split()\n    return words[-1] if words else ''",
        sentences,
    ),
    Template(
        "word_count",
        2,
        "word_count(s)",
        "returns the number of words in the string `s` (words are separated by spaces).",
        "def word_count(s):\n    return len(s.split())",
        sentences,
    ),
    Template(
        "is_palindrome",
        2,
        "is_palindrome(s)",
        "returns True if the string `s` reads the same forwards and backwards.",
        "def is_palindrome(s):\n    return s == s[::-1]",
        lambda rng, p: [[w] for w in ["", "a", "abba", "abc", "racecar", "level", "ab", word(rng)]],
    ),
    Template(
        "factorial",
        2,
        "factorial(n)",
        "returns n! (the product 1 * 2 * ... * n) for n >= 0; 0! is 1.",
        "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result",
        small_ints(0, 12),
    ),
    # ---- level 3: several steps --------------------------------------------------------------------------
    Template(
        "average",
        3,
        "average(xs)",
        "returns the average of the numbers in `xs` as a float, or 0.0 for an empty list.",
        "def average(xs):\n    return sum(xs) / len(xs) if xs else 0.0",
        int_lists(),
    ),
    Template(
        "second_largest",
        3,
        "second_largest(xs)",
        "returns the second largest distinct number in `xs`, or None if there are fewer than two distinct numbers.",
        "def second_largest(xs):\n    values = sorted(set(xs))\n    return values[-2] if len(values) >= 2 else None",
        int_lists(-5, 5),
    ),
    Template(
        "capitalize_words",
        3,
        "capitalize_words(s)",
        "returns the words of `s` joined by single spaces, each with its first letter in upper case "
        "and the rest in lower case.",
        "def capitalize_words(s):\n    return ' '.join(w[:1].upper() + w[1:].lower() for w in s.split())",
        sentences,
    ),
    Template(
        "remove_duplicates",
        3,
        "remove_duplicates(xs)",
        "returns the list `xs` without repeated items, keeping the first occurrence of each, in order.",
        "def remove_duplicates(xs):\n    seen = []\n    for x in xs:\n        if x not in seen:\n"
        "            seen.append(x)\n    return seen",
        int_lists(0, 6),
    ),
    Template(
        "longest_word",
        3,
        "longest_word(s)",
        "returns the longest word in the sentence `s` (the first one if several are equally long, '' if none).",
        "def longest_word(s):\n    best = ''\n    for w in s.split():\n        if len(w) > len(best):\n"
        "            best = w\n    return best",
        sentences,
    ),
    Template(
        "digit_sum",
        3,
        "digit_sum(n)",
        "returns the sum of the decimal digits of the integer `n` (ignore the sign).",
        "def digit_sum(n):\n    return sum(int(d) for d in str(abs(n)))",
        small_ints(-99999, 99999),
    ),
    Template(
        "count_words_starting",
        3,
        "count_words_starting(words)",
        "returns how many strings in the list `words` start with the letter '{c}'.",
        "def count_words_starting(words):\n    return sum(1 for w in words if w.startswith('{c}'))",
        word_lists,
        letter,
    ),
    Template(
        "replace_char",
        3,
        "replace_char(s)",
        "returns `s` with every '{c}' replaced by '*'.",
        "def replace_char(s):\n    return s.replace('{c}', '*')",
        sentences,
        letter,
    ),
    Template(
        "range_of_list",
        3,
        "range_of_list(xs)",
        "returns the difference between the largest and the smallest number in `xs`, or 0 for an empty list.",
        "def range_of_list(xs):\n    return max(xs) - min(xs) if xs else 0",
        int_lists(),
    ),
    Template(
        "fizzbuzz_word",
        3,
        "fizzbuzz_word(n)",
        "returns 'FizzBuzz' if `n` is divisible by 3 and 5, 'Fizz' if only by 3, 'Buzz' if only by 5, "
        "and otherwise `n` as a string.",
        "def fizzbuzz_word(n):\n    if n % 15 == 0:\n        return 'FizzBuzz'\n    if n % 3 == 0:\n"
        "        return 'Fizz'\n    if n % 5 == 0:\n        return 'Buzz'\n    return str(n)",
        small_ints(1, 100),
    ),
    Template(
        "sum_of_values",
        3,
        "sum_of_values(d)",
        "returns the sum of the values of the dictionary `d`.",
        "def sum_of_values(d):\n    return sum(d.values())",
        word_count_dicts,
    ),
    Template(
        "key_of_max",
        3,
        "key_of_max(d)",
        "returns the key of the dictionary `d` with the largest value (the first such key), or None if `d` is empty.",
        "def key_of_max(d):\n    best = None\n    for k, v in d.items():\n        if best is None or v > d[best]:\n"
        "            best = k\n    return best",
        word_count_dicts,
    ),
    Template(
        "gcd",
        3,
        "gcd(a, b)",
        "returns the greatest common divisor of the positive integers `a` and `b`.",
        "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
        int_pairs(1, 200),
    ),
    # ---- level 4: combine ideas --------------------------------------------------------------------------
    Template(
        "char_frequency",
        4,
        "char_frequency(s)",
        "returns a dictionary that maps each character of `s` to the number of times it occurs.",
        "def char_frequency(s):\n    counts = {}\n    for ch in s:\n        counts[ch] = counts.get(ch, 0) + 1\n"
        "    return counts",
        mixed_strings,
    ),
    Template(
        "word_lengths",
        4,
        "word_lengths(words)",
        "returns a dictionary mapping each string in the list `words` to its length.",
        "def word_lengths(words):\n    return {w: len(w) for w in words}",
        word_lists,
    ),
    Template(
        "running_sum",
        4,
        "running_sum(xs)",
        "returns the list of running totals of `xs`: item i is the sum of xs[0] through xs[i].",
        "def running_sum(xs):\n    out, total = [], 0\n    for x in xs:\n        total += x\n        out.append(total)\n"
        "    return out",
        int_lists(),
    ),
    Template(
        "is_prime",
        4,
        "is_prime(n)",
        "returns True if the integer `n` is a prime number, else False.",
        "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
        "        if n % i == 0:\n            return False\n        i += 1\n    return True",
        small_ints(-3, 120),
    ),
    Template(
        "chunk_list",
        4,
        "chunk_list(xs)",
        "splits the list `xs` into consecutive pieces of length {k} (the last may be shorter) and returns the "
        "list of pieces.",
        "def chunk_list(xs):\n    return [xs[i:i + {k}] for i in range(0, len(xs), {k})]",
        int_lists(),
        lambda rng: {"k": rng.randint(2, 4)},
    ),
    Template(
        "rotate_left",
        4,
        "rotate_left(xs)",
        "returns the list `xs` rotated left by {k} positions (items that fall off the front go to the back); "
        "an empty list stays empty.",
        "def rotate_left(xs):\n    if not xs:\n        return []\n    k = {k} % len(xs)\n    return xs[k:] + xs[:k]",
        int_lists(),
        lambda rng: {"k": rng.randint(1, 5)},
    ),
    Template(
        "merge_sorted",
        4,
        "merge_sorted(a, b)",
        "returns one sorted list with all the numbers of the lists `a` and `b`.",
        "def merge_sorted(a, b):\n    return sorted(a + b)",
        lambda rng, p: [[sorted(ints(rng, rng.randint(0, 5))), sorted(ints(rng, rng.randint(0, 5)))] for _ in range(8)],
    ),
    Template(
        "caesar_shift",
        4,
        "caesar_shift(s)",
        "returns `s` with each lower-case letter shifted {k} places forward in the alphabet (wrapping from z to a); "
        "other characters stay as they are.",
        "def caesar_shift(s):\n    out = ''\n    for ch in s:\n        if 'a' <= ch <= 'z':\n"
        "            out += chr((ord(ch) - 97 + {k}) % 26 + 97)\n        else:\n            out += ch\n    return out",
        sentences,
        lambda rng: {"k": rng.randint(1, 25)},
    ),
    Template(
        "count_distinct",
        4,
        "count_distinct(xs)",
        "returns how many different values the list `xs` contains.",
        "def count_distinct(xs):\n    return len(set(xs))",
        int_lists(0, 8),
    ),
    Template(
        "acronym",
        4,
        "acronym(s)",
        "returns the acronym of the sentence `s`: the first letter of each word, in upper case, joined together.",
        "def acronym(s):\n    return ''.join(w[0].upper() for w in s.split())",
        sentences,
    ),
    # ---- level 5: small algorithms -----------------------------------------------------------------------
    Template(
        "run_length_encode",
        5,
        "run_length_encode(s)",
        "returns the run-length encoding of `s`: each run of a repeated character becomes the character "
        "followed by the run's length, e.g. 'aaab' becomes 'a3b1'.",
        "def run_length_encode(s):\n    out = ''\n    i = 0\n    while i < len(s):\n        j = i\n"
        "        while j < len(s) and s[j] == s[i]:\n            j += 1\n        out += s[i] + str(j - i)\n"
        "        i = j\n    return out",
        lambda rng, p: (
            [[""]]
            + [["".join(rng.choice("ab") * rng.randint(1, 3) for _ in range(rng.randint(1, 5)))] for _ in range(7)]
        ),
    ),
    Template(
        "balanced_brackets",
        5,
        "balanced_brackets(s)",
        "returns True if the brackets '()', '[]' and '{}' in `s` are balanced and properly nested, else False.",
        "def balanced_brackets(s):\n    pairs = {')': '(', ']': '[', '}': '{'}\n    stack = []\n    for ch in s:\n"
        "        if ch in '([{':\n            stack.append(ch)\n        elif ch in pairs:\n"
        "            if not stack or stack.pop() != pairs[ch]:\n                return False\n    return not stack",
        lambda rng, p: [[w] for w in ["", "()", "([]{})", "(]", "((", "a(b)c", "{[}]", "[()]()"]],
    ),
    Template(
        "longest_increasing_run",
        5,
        "longest_increasing_run(xs)",
        "returns the length of the longest run of consecutive items of `xs` where each is greater than the "
        "one before (0 for an empty list).",
        "def longest_increasing_run(xs):\n    if not xs:\n        return 0\n    best = cur = 1\n"
        "    for a, b in zip(xs, xs[1:]):\n        cur = cur + 1 if b > a else 1\n        best = max(best, cur)\n"
        "    return best",
        int_lists(0, 9),
    ),
    Template(
        "flatten",
        5,
        "flatten(xs)",
        "returns a flat list of all the numbers in `xs`, a list whose items are numbers or (nested) lists.",
        "def flatten(xs):\n    out = []\n    for x in xs:\n        if isinstance(x, list):\n            out.extend(flatten(x))\n"
        "        else:\n            out.append(x)\n    return out",
        lambda rng, p: [
            [[]],
            [[1, [2, 3]]],
            [[[[4]], 5]],
            [[1, 2, 3]],
            *([[rng.randint(0, 9), [rng.randint(0, 9), [rng.randint(0, 9)]], rng.randint(0, 9)]] for _ in range(4)),
        ],
    ),
    Template(
        "binary_string",
        5,
        "binary_string(n)",
        "returns the binary representation of the non-negative integer `n` as a string without a prefix, "
        "e.g. 5 gives '101' and 0 gives '0'.",
        "def binary_string(n):\n    return bin(n)[2:]",
        small_ints(0, 1000),
    ),
    Template(
        "group_by_length",
        5,
        "group_by_length(words)",
        "returns a dictionary mapping each word length to the list of words in `words` with that length, "
        "in their original order.",
        "def group_by_length(words):\n    groups = {}\n    for w in words:\n        groups.setdefault(len(w), []).append(w)\n"
        "    return groups",
        word_lists,
    ),
    Template(
        "pair_sums_to",
        5,
        "pair_sums_to(xs)",
        "returns True if two different positions of the list `xs` hold numbers that add up to {k}, else False.",
        "def pair_sums_to(xs):\n    for i in range(len(xs)):\n        for j in range(i + 1, len(xs)):\n"
        "            if xs[i] + xs[j] == {k}:\n                return True\n    return False",
        int_lists(-5, 10),
        lambda rng: {"k": rng.randint(0, 12)},
    ),
    Template(
        "most_common_word",
        5,
        "most_common_word(s)",
        "returns the word that occurs most often in the sentence `s` (the one seen first on a tie; '' if none).",
        "def most_common_word(s):\n    counts = {}\n    for w in s.split():\n        counts[w] = counts.get(w, 0) + 1\n"
        "    best = ''\n    for w in s.split():\n        if counts[w] > counts.get(best, 0):\n            best = w\n    return best",
        lambda rng, p: [[""]] + [[" ".join(rng.choice(WORDS[:5]) for _ in range(rng.randint(1, 7)))] for _ in range(7)],
    ),
]
