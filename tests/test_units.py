"""Unit tests of the small pure pieces: merge, names, quantities, key ranges, YAML schema."""

from __future__ import annotations

from fractions import Fraction

import pytest

from krmfn import naming, yamlio
from krmfn.merge import merge_patch
from krmfn.quantity import QuantityError, parse_quantity
from krmfn.resolve.cluster import key_range


@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 9}}, {"a": 1, "b": {"c": 9, "d": 3}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
    ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    ({}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ({"a": 1}, "scalar", "scalar"),
])
def test_merge_patch_rfc7386(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_merge_patch_does_not_mutate_inputs():
    target, patch = {"a": {"b": 1}}, {"a": {"c": 2}}
    merge_patch(target, patch)
    assert target == {"a": {"b": 1}} and patch == {"a": {"c": 2}}


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Fraction(1, 2)), ("1", Fraction(1)), ("1Gi", Fraction(2**30)), ("1000Gi", Fraction(1000 * 2**30)),
    ("1k", Fraction(1000)), ("1e3", Fraction(1000)), ("0.5", Fraction(1, 2)), (4, Fraction(4)),
    ("128Mi", Fraction(128 * 2**20)), ("2E", Fraction(2 * 10**18)), (".5", Fraction(1, 2)),
])
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["", "1GB", "abc", "1.2.3", "Gi", "1 Gi", True])
def test_parse_quantity_rejects(bad):
    with pytest.raises(QuantityError):
        parse_quantity(bad)


def test_quantities_compare_across_units():
    assert parse_quantity("1") > parse_quantity("500m")
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1024Mi") == parse_quantity("1Gi")


@pytest.mark.parametrize(("kind", "parts", "expected"), [
    ("MultiTableGroup", ("example", "production_db", "orders_tg"), "example-production-db-orders-tg"),
    ("Service", ("Prod", "Cell_A"), "prod-cell-a"),
    ("Service", ("1abc", "x"), "s-1abc-x"),
])
def test_object_name(kind, parts, expected):
    assert naming.object_name(kind, *parts) == expected


def test_long_names_are_truncated_with_stable_hash():
    parts = ("example-multigres-cluster-production-db-orders-tg-0", "readOnly", "us-east-1")
    name = naming.object_name("StatefulSet", *parts)
    assert len(name) <= 52
    assert name == naming.object_name("StatefulSet", *parts)
    assert name.startswith("example-") and name.endswith("-orders-tg-0-readonly-us-east-1")
    other = naming.object_name("StatefulSet", "example-multigres-cluster-production-db-orders-tg-1", *parts[1:])
    assert other != name and other.endswith("-orders-tg-1-readonly-us-east-1")


def test_names_that_differ_only_in_the_cut_part_still_differ():
    a = naming.object_name("StatefulSet", "a" * 40, "db_one", "tg", "0")
    b = naming.object_name("StatefulSet", "a" * 40, "db-two", "tg", "0")
    assert a != b and len(a) <= 52 and len(b) <= 52


@pytest.mark.parametrize("kind", ["Service", "StatefulSet", "Deployment", "MultiShard"])
def test_names_fit_their_kind(kind):
    name = naming.object_name(kind, "x" * 300)
    assert len(name) <= naming.limit_for(kind)


def test_selector_has_identity_labels_only():
    full = naming.labels("c", "shard", database="d", shard="0")
    sel = naming.selector(full)
    assert "app.kubernetes.io/managed-by" not in sel and sel["multigres.com/shard"] == "0"
    assert set(sel.items()) <= set(full.items())


@pytest.mark.parametrize(("count", "ranges"), [
    (1, ["0-inf"]), (2, ["0-80", "80-inf"]), (4, ["0-40", "40-80", "80-c0", "c0-inf"]),
    (3, ["0-5555", "5555-aaaa", "aaaa-inf"]),
])
def test_key_ranges(count, ranges):
    assert [key_range(i, count) for i in range(count)] == ranges


@pytest.mark.parametrize(("text", "value"), [
    ("on", "on"), ("yes", "yes"), ("no", "no"), ("off", "off"), ("y", "y"),
    ("0755", 755), ("0o17", 15), ("0x1f", 31), ("true", True), ("False", False),
    ("2001-12-14", "2001-12-14"), ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("~", None), ("null", None), ("1.5", 1.5), ("1_000", "1_000"), ("12:30:00", "12:30:00"),
    ("!!timestamp 2001-12-14", "2001-12-14"),
])
def test_core_schema_scalars(text, value):
    assert yamlio.load(f"v: {text}\n") == {"v": value}


def test_dumper_quotes_what_yaml11_would_misread():
    out = yamlio.dump({"a": "on", "b": "0755", "c": "1", "d": "2001-12-14", "e": "true"})
    assert yamlio.load(out) == {"a": "on", "b": "0755", "c": "1", "d": "2001-12-14", "e": "true"}
    assert 'a: "on"' in out and 'c: "1"' in out


@pytest.mark.parametrize(("resources", "expected"), [
    (None, {"requests": {"cpu": "100m", "memory": "128Mi"}}),
    ({"requests": {"cpu": "2"}}, {"requests": {"cpu": "2", "memory": "128Mi"}}),
    ({"limits": {"memory": "64Mi"}}, {"requests": {"cpu": "100m"}, "limits": {"memory": "64Mi"}}),
    ({"requests": {"cpu": "1", "memory": "1Gi"}}, {"requests": {"cpu": "1", "memory": "1Gi"}}),
])
def test_default_requests_fill_only_what_nobody_sized(resources, expected):
    from krmfn.merge import fill_requests

    assert fill_requests(resources, {"cpu": "100m", "memory": "128Mi"}) == expected


_TRICKY_STRINGS = ["", " ", "on", "off", "yes", "No", "y", "~", "null", "0755", "0o17", "0x1f", "1e3", "1_000",
                   "12:30:00", "2001-12-14", "true", ".inf", "-", "- a", "a: b", "a:", "#x", "a #b", "x\ny",
                   "x\n", "'q'", '"q"', "[a]", "{a}", "&a", "*a", "!t", "|", ">", "%", "@x", "`x`", "\x1a\x00",
                   "ünïcode", "tab\there", "$(POD_NAME)", "a,b", "0-inf", "--flag=value", "=", "?x", " lead",
                   "trail ", "---", "--", "-x", "--x=1", "--- a", "-.5",
                   "1.5", "+1", "-1", ".5", "0.", "NaN", ".nan", "=x", "::", "a:b:c", "/multigres/global"]


@pytest.mark.parametrize("text", _TRICKY_STRINGS)
def test_dump_round_trips_strings_in_both_yaml_versions(text):
    import yaml

    doc = yamlio.dump({text or "k": text, "list": [text], "nested": {"x": [{"y": text}]}})
    for loader in (yaml.SafeLoader, yamlio.CoreLoader):
        assert yaml.load(doc, Loader=loader) == {text or "k": text, "list": [text], "nested": {"x": [{"y": text}]}}


def test_dump_round_trips_structures():
    import random

    import yaml

    rng = random.Random(7)

    def value(depth: int):
        kind = rng.choice(["str", "int", "bool", "none", "dict", "list"] if depth < 4 else ["str", "int"])
        if kind == "str":
            return rng.choice(_TRICKY_STRINGS)
        if kind == "int":
            return rng.randint(-5, 10**6)
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "none":
            return None
        if kind == "dict":
            return {rng.choice(_TRICKY_STRINGS) or "k": value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(300):
        data = {"root": value(0)}
        assert yaml.load(yamlio.dump(data), Loader=yamlio.CoreLoader) == data


def test_per_shard_object_names_fit_253_and_stay_dns1123():
    import re

    shard = "s" * 250  # the longest MultiShard names are cut to 253 already
    for name in (naming.backup_claim(shard), naming.pg_hba_configmap(shard)):
        assert len(name) <= 253 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert naming.backup_claim("c-db-tg-0") == "c-db-tg-0-backups"


def test_service_id_prefix_is_stable_and_distinguishes_pools():
    a = naming.service_id_prefix("ns", "c-db-tg-0-replica-zone1")
    assert a == naming.service_id_prefix("ns", "c-db-tg-0-replica-zone1") and len(a) == 8
    assert a != naming.service_id_prefix("ns", "c-db-tg-0-readonly-zone1")
    assert a != naming.service_id_prefix("other", "c-db-tg-0-replica-zone1")
    assert [naming.service_id_length(n) for n in (1, 10, 11, 101)] == [10, 10, 11, 12]


_OUTSIDE_BMP = ["🚀", "db-🚀", "a\U0001F600b\U0001F600", "é🚀\u2603", "\\ud83d🚀", "𝔘𝔫𝔦", "🚀\n\t\"x\""]


@pytest.mark.parametrize("text", _OUTSIDE_BMP)
def test_dump_writes_characters_outside_the_bmp_as_utf8(text):
    """libyaml and kyaml reject a surrogate-pair escape (`\\ud83d\\ude80`); the real character reads back."""
    import yaml

    data = {text: text, "list": [text], "nested": {"x": [{"y": text}]}}
    doc = yamlio.dump(data)
    assert "\\ud8" not in doc.replace("\\\\ud83d", "") and "\\ude" not in doc
    for ch in text:
        if ord(ch) > 0xFFFF:
            assert ch in doc
    for loader in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader), yamlio.CoreLoader):
        assert yaml.load(doc, Loader=loader) == data
    doc.encode("utf-8")  # no lone surrogates


def test_result_messages_keep_characters_outside_the_bmp():
    import yaml

    from krmfn.resourcelist import write_resource_list
    from krmfn.results import error

    text = write_resource_list([], [error("cell 'zone-🚀' is not a valid name.", "spec.cells")])
    assert "zone-🚀" in text and "\\ud83d" not in text
    assert yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["results"][0]["message"] == \
        "cell 'zone-🚀' is not a valid name."


def test_dump_entry_is_dump_indented():
    """The output writer emits each generated object directly at its column."""
    data = {"a": [{"b": [[1, {"c": "d"}], []], "e": {}}, "x", [], {}], "f": {"g": {"h": "🚀"}}}
    for column in (0, 2, 4):
        out: list[str] = []
        yamlio.dump_entry(data, column, out)
        body = yamlio.dump(data)
        pad = " " * (column + 2)
        expected = " " * column + "- " + "".join(pad + line for line in body.splitlines(keepends=True))[column + 2:]
        assert "".join(out) == expected


def test_dump_handles_subclasses_and_non_string_keys():
    from collections import OrderedDict

    class Seq(list):
        pass

    data = {"m": OrderedDict(a=1), "s": Seq([OrderedDict(b=Seq(["x"]))]), 1: "one", 2.5: None}
    assert yamlio.dump(data) == 'm:\n  a: 1\ns:\n- b:\n  - x\n"1": one\n"2.5": null\n'
    assert yamlio.dump({True: 1}) + yamlio.dump({1: 1}) == '"True": 1\n"1": 1\n'  # equal keys, own text'


def test_plain_shortcut_characters_start_no_implicit_resolver():
    """yamlio skips the resolvers for these first characters; neither schema may have one for them."""
    import yaml

    starts = set()
    for resolvers in (yaml.resolver.Resolver.yaml_implicit_resolvers, yamlio.CoreLoader.yaml_implicit_resolvers):
        starts |= {ch for ch, entries in resolvers.items() if entries}
    assert starts and not (starts & yamlio._NO_RESOLVER)
    assert "" not in yamlio._NO_RESOLVER


def test_core_schema_string_tests_answer_as_their_patterns():
    """yamlio's core-schema resolvers are string tests standing for regexes (start-up cost): every
    string of up to three characters of an alphabet that reaches each branch, random longer ones
    and the edge cases give the same answer as the pattern's `match`."""
    import itertools
    import random
    import re

    alphabet = "0123456789+-.eEoxabfAFinINaty~lu<\n _\u0661\u00b2"
    tests = [(re.compile(test.pattern), test) for _, test, _ in yamlio._CORE_RESOLVERS]
    rnd = random.Random(23)
    samples = ["".join(chars) for n in range(4) for chars in itertools.product(alphabet, repeat=n)]
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(4, 12))) for _ in range(20000)]
    samples += ["true", "tRue", "0o17", "0o18", "0x1F", "0xg", "1.5e10", "-.Inf", "+.nan", "1_000", "1e+5", "1.",
                ".", "0o", "0x", "true\n", "1\n\n", "\n", "+.INF\n", "12345678901234567890", ".5E-3"]
    for text in samples:
        for pattern, test in tests:
            assert bool(pattern.match(text)) == bool(test.match(text)), (text, test.pattern)


# A frozen copy of the previous emitter: kept as it was, so it stays a faithful reference.
def _reference_dump(obj) -> str:  # noqa: C901
    """The emitter before issue 12 (commit 9298575), kept to prove the fast one writes the same bytes."""
    import json

    def scalar(value) -> str:
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return json.dumps(value)
        text = str(value)
        return text if yamlio._is_plain(text) else json.dumps(text)

    def inline(value) -> str:
        return "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else scalar(value)

    def emit(value, indent: str, out: list[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                head = f"{indent}{scalar(str(key))}:"
                if isinstance(item, dict) and item:
                    out.append(head + "\n")
                    emit(item, indent + "  ", out)
                elif isinstance(item, list) and item:
                    out.append(head + "\n")
                    emit(item, indent, out)
                else:
                    out.append(f"{head} {inline(item)}\n")
        else:
            for item in value:
                if isinstance(item, dict | list) and item:
                    inner: list[str] = []
                    emit(item, indent + "  ", inner)
                    out.append(f"{indent}- {inner[0][len(indent) + 2:]}")
                    out.extend(inner[1:])
                else:
                    out.append(f"{indent}- {inline(item)}\n")

    if not isinstance(obj, dict | list) or not obj:
        return inline(obj) + "\n"
    out: list[str] = []
    emit(obj, "", out)
    return "".join(out)


def test_dump_writes_the_same_bytes_as_the_previous_emitter():
    import random

    rng = random.Random(12)
    strings = [s for s in _TRICKY_STRINGS if all(ord(c) <= 0xFFFF for c in s)] + ["é", "x" * 70, "a b"]

    def value(depth: int):
        kind = rng.choice(["str", "int", "float", "bool", "none", "dict", "list", "list"] if depth < 5 else ["str"])
        if kind == "str":
            return rng.choice(strings)
        if kind == "int":
            return rng.randint(-5, 10**6)
        if kind == "float":
            return rng.choice([0.5, -1.25, 1e300, 3.0])
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "none":
            return None
        if kind == "dict":
            return {rng.choice(strings + [1, 2.5, None]): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(2000):
        data = value(0)
        assert yamlio.dump(data) == _reference_dump(data), data
        for column in (0, 2):
            out: list[str] = []
            yamlio.dump_entry(data, column, out)
            body = _reference_dump(data)
            pad = " " * (column + 2)
            indented = "".join(pad + line if line.strip() else line for line in body.splitlines(keepends=True))
            assert "".join(out) == " " * column + "- " + indented[column + 2:]
