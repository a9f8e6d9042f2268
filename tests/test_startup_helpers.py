"""The stand-ins that keep modules off the start-up path give what the modules they replace give."""

from __future__ import annotations

import copy
import json
import random
import shlex
from fractions import Fraction

import pytest

from krmfn.merge import clone, json_text
from krmfn.quantity import parse_quantity
from krmfn.workloads.registration import shell_quote

SAMPLES = ["", 'a"b\\c\n\t\x7f\x00', "é", "😀x", [1, "a", [None, True, False, {"k": "v", "x": []}]], {}, [],
           1.5, {1: 2}, -3, 10**30, {"a": [{"b": "c"}]}]


@pytest.mark.parametrize("value", SAMPLES + [chr(i) for i in range(128)])
def test_json_text_is_json_dumps(value: object) -> None:
    assert json_text(value) == json.dumps(value)


def test_json_text_of_random_strings() -> None:
    rnd = random.Random(7)
    for _ in range(2000):
        text = "".join(chr(rnd.choice([rnd.randrange(128), rnd.randrange(0xD800)])) for _ in range(rnd.randrange(9)))
        assert json_text(text) == json.dumps(text)


@pytest.mark.parametrize("value", SAMPLES)
def test_clone_is_a_deep_copy(value: object) -> None:
    copied = clone(value)
    assert copied == copy.deepcopy(value)
    if isinstance(value, dict | list) and value:
        assert copied is not value


def test_clone_shares_nothing_mutable() -> None:
    value = {"a": [{"b": []}]}
    copied = clone(value)
    copied["a"][0]["b"].append(1)
    assert value == {"a": [{"b": []}]}


@pytest.mark.parametrize("text", ["", "a", "it's", "a b", "/x/y", "é", "a$b", '"', "--flag=x"])
def test_shell_quote_is_shlex_quote(text: str) -> None:
    assert shell_quote(text) == shlex.quote(text)


QUANTITIES = ["500m", "1", "1Gi", "1e3", "0.5", ".5", "-2.5e-3", "1e-40", "123.456789Ki", "7n", "2E", "0", "-0",
              "3e-9", "-1", 4]


@pytest.mark.parametrize("text", QUANTITIES)
def test_quantities_compare_hash_and_truncate_as_fractions(text: str | int) -> None:
    value = parse_quantity(text)
    exact = Fraction(value.numerator, value.denominator)
    assert value == exact and exact == value and hash(value) == hash(exact) and int(value) == int(exact)
    for other_text in QUANTITIES:
        other = parse_quantity(other_text)
        fother = Fraction(other.numerator, other.denominator)
        assert (value < other, value <= other, value > other, value >= other, value == other) == \
            (exact < fother, exact <= fother, exact > fother, exact >= fother, exact == fother)
    assert (value >= 0) == (exact >= 0) and (-value == -exact)


def test_split_quantity_reads_the_grammar_as_its_pattern() -> None:
    """quantity.split_quantity stands for GRAMMAR (compiling it was start-up cost): every string of
    up to four characters of an alphabet reaching each branch, random longer ones, same groups."""
    import itertools
    import re

    from krmfn.quantity import GRAMMAR, split_quantity

    pattern = re.compile(GRAMMAR)
    alphabet = "09.+-eEKiMmnx \n\u0661"
    rnd = random.Random(11)
    samples = ["".join(chars) for n in range(5) for chars in itertools.product(alphabet, repeat=n)]
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(5, 14))) for _ in range(20000)]
    samples += ["500m", "1Gi", "250Gi", "1e3", "1E-2", "+.5Ki", "-0.", "1.5Ei", "1Ki\n", "12Mi"]
    for text in samples:
        m = pattern.match(text)
        assert split_quantity(text) == ((m.group(1), m.group(2) or "") if m else None), text


def test_image_parts_reads_as_its_pattern() -> None:
    """checks.image_parts stands for IMAGE_PARTS: every string of up to six characters of an
    alphabet reaching each branch, random longer ones, the same groups."""
    import itertools
    import re

    from krmfn.checks import IMAGE_PARTS, image_parts

    pattern = re.compile(IMAGE_PARTS)
    alphabet = "a:/@\n."
    rnd = random.Random(5)
    samples = ["".join(chars) for n in range(7) for chars in itertools.product(alphabet, repeat=n)]
    samples += ["".join(rnd.choice(alphabet + "b1-") for _ in range(rnd.randrange(7, 20))) for _ in range(20000)]
    samples += ["ghcr.io/multigres/pgctld:17", "postgres", "localhost:5000/x:1@sha256:ab", "x@y@z", "r:1/2:3"]
    for image in samples:
        m = pattern.match(image)
        assert image_parts(image) == ((m.group("repo"), m.group("tag"), m.group("digest")) if m
                                      else (image, None, None)), image


@pytest.mark.parametrize("pattern, test", [
    ("QUALIFIED_NAME", "is_qualified_name"), ("DNS_LABEL", "is_dns_label"), ("RESOURCE_NAME", "is_resource_name"),
    ("LABEL_VALUE", "is_label_value"),
])
def test_name_tests_answer_as_their_patterns(pattern: str, test: str) -> None:
    """krmfn.naming's string tests stand for its patterns: every string of up to five characters of
    an alphabet reaching each branch, random longer ones, the same answer (LABEL_VALUE's test also
    bounds the length)."""
    import itertools
    import re

    from krmfn import naming

    compiled, check = re.compile(getattr(naming, pattern)), getattr(naming, test)
    alphabet = "aZ0-_./\n\u00e9"
    rnd = random.Random(3)
    samples = ["".join(chars) for n in range(6) for chars in itertools.product(alphabet, repeat=n)]
    samples += ["".join(rnd.choice(alphabet + "b9") for _ in range(rnd.randrange(6, 20))) for _ in range(20000)]
    samples += ["nvidia.com/gpu", "cpu", "a.b-c/D_e.f", "a..b/c", "-a/b", "a/b/c", "x" * 63 + "\n"]
    for text in samples:
        bounded = pattern != "LABEL_VALUE" or len(text) <= naming.LABEL_VALUE_LIMIT
        assert check(text) == (bounded and bool(compiled.match(text))), text


def test_sanitize_as_the_pattern_replaces() -> None:
    import itertools
    import re

    from krmfn import naming

    samples = ["zone1", "Postgres_Default", "a--b", "-x-", "é_ü", "A B\nc", "", "__", "multigres.com/x", "orders_tg"]
    samples += ["".join(chars) for n in range(6) for chars in itertools.product("a-_B.", repeat=n)]
    for text in samples:
        assert naming.sanitize(text) == re.sub(naming.INVALID, "-", text.lower()).strip("-")


@pytest.mark.parametrize("module, pattern, test, alphabet", [
    ("krmfn.resourcelist", "OCTAL_LOOKALIKE", "is_octal_lookalike", "0+-19a\n\u0661"),
    ("krmfn.resourcelist", "KEEP_CHOMPING", "has_keep_chomping", "|>+19a\n"),
])
def test_string_tests_answer_as_their_patterns(module: str, pattern: str, test: str, alphabet: str) -> None:
    """Each string test stands for its pattern (compiling the pattern was start-up cost): every
    string of up to five characters of an alphabet reaching each branch, random longer ones."""
    import importlib
    import itertools
    import re

    mod = importlib.import_module(module)
    compiled, check = re.compile(getattr(mod, pattern)), getattr(mod, test)
    rnd = random.Random(9)
    samples = ["".join(chars) for n in range(6) for chars in itertools.product(alphabet, repeat=n)]
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(6, 24))) for _ in range(20000)]
    samples += ["a: |+\n  x\n", "key: >2+\n", "+" * 100 + "|+", "+" * 100]
    for text in samples:
        assert check(text) == bool(compiled.search(text)), text


def test_downward_references_as_the_pattern_finds_them() -> None:
    import itertools
    import re

    from krmfn.workloads.objects import _DOWNWARD, REFERENCE, downward_references

    pieces = ["$", "$(", "POD_IP", "POD_NAME", "POD_NAMESPACE", "POD_INDEX", ")", "x", "$$(", "OTHER"]
    rnd = random.Random(2)
    samples = ["".join(p) for n in range(5) for p in itertools.product(pieces, repeat=n)]
    samples += ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(5, 12))) for _ in range(20000)]
    for text in samples:
        expected = sorted({v for v in re.findall(REFERENCE, text) if v in _DOWNWARD})
        assert downward_references([text]) == expected, text
    assert downward_references(["--a=$(POD_IP)", "$$(POD_NAME)", "$(POD_INDEX)"]) == ["POD_INDEX", "POD_IP"]


def test_image_references_as_the_pattern_reads_them() -> None:
    """checks.is_image_reference stands for IMAGE: every string of up to five characters of an
    alphabet reaching each branch, and random strings built from the reference's pieces."""
    import itertools
    import re

    from krmfn.checks import IMAGE, is_image_reference

    pattern = re.compile(IMAGE)
    rnd = random.Random(17)
    samples = ["".join(chars) for n in range(6) for chars in itertools.product("aA0._-/:@\n", repeat=n)]
    pieces = ["a", "b0", "Z", ".", "_", "__", "-", "--", "/", ":", "5000", "@", "sha256", "+", "é", "\u0661",
              "0123456789abcdef" * 2, "0" * 31, "\n", "\x00"]
    samples += ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 10))) for _ in range(40000)]
    samples += ["ghcr.io/multigres/pgctld:17", "localhost:5000/x/y:1@sha256:" + "ab" * 32, "a:" + "t" * 129,
                "a:" + "t" * 128, "a@sha256+x.y:" + "f" * 32, "a@s\x00b:" + "f" * 32]
    for image in samples:
        assert is_image_reference(image) == bool(pattern.match(image)), image
