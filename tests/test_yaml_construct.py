"""yamlio builds documents without anchors itself (no PyYAML memo): the same values and errors."""

from __future__ import annotations

import pytest
import yaml

from krmfn import yamlio

DOCS = [
    "a: 1\nb: [x, 2, true, null, 1.5, 0o17, 0x1f]\nc: {d: {e: f}}\n",
    "base: {x: 1}\nm:\n  <<: {namespace: prod, x: 2}\n  name: n\n",
    "m:\n  <<: [{a: 1}, {b: 2}]\n  a: 3\n",
    "k: !!binary aGVsbG8=\n",
    "k: !!str 12\nj: !!int '7'\nt: !!timestamp 2001-12-14\n",
    "s: !!set {a, b}\n",
    "o: !!omap [{a: 1}, {b: 2}]\n",
    "- a\n- - b\n  - c\n- {d: e}\n",
    "? [a, b]\n: 1\n",
    "a: 1\na: 2\n",
    "x: !custom 1\n",
    "m:\n  <<: 5\n",
    "n: 1" + "0" * 1200 + "\n",
    "plain\n",
    "{}\n",
]


def _pyyaml(text: str) -> object:
    loader = yamlio.CoreLoader(text)
    try:
        return loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()


def _outcome(fn, text: str) -> tuple[str, object]:
    try:
        return "ok", fn(text)
    except yaml.YAMLError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", DOCS)
def test_direct_construction_equals_pyyaml(text: str) -> None:
    assert "&" not in text  # the direct path is the one without anchors
    assert _outcome(lambda t: yamlio.compose_and_construct(t)[1], text) == _outcome(_pyyaml, text)


def test_anchors_still_share_one_object() -> None:
    value = yamlio.load("a: &x {k: [1]}\nb: *x\n")
    assert value["a"] is value["b"]
