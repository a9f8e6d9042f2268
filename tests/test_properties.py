"""Property-based tests (hypothesis): valid clusters render cleanly; mutated input never tracebacks.

Profiles: `ci` (the default, a few seconds of examples) and `fuzz` (many examples per run;
`make fuzz` repeats it with fresh seeds for ten minutes). Select with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import copy
import os
import tracemalloc
from typing import Any

import pytest
from consistency import check, output_objects, result_messages
from helpers import resource_list, run_text

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from krmfn import yamlio  # noqa: E402
from krmfn.cli import function_mode, unreadable_input  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LABEL = st.from_regex(r"\A[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?\Z", fullmatch=True)
IMAGES = st.sampled_from(["ghcr.io/multigres/multigres:sha-6bd80b9", "registry.local:5000/mg/multigres:v1.2",
                          "ghcr.io/multigres/multigres@sha256:" + "a" * 64])
SECRET_TEMPLATE = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "x"}}


@st.composite
def clusters(draw: Any) -> list[dict[str, Any]]:
    """A valid MultigresCluster (and its password Secret): names, cells, shards, pools, topo."""
    name = draw(LABEL)
    namespace = draw(st.sampled_from(["default", "prod", "mg-1"]))
    cells = draw(st.lists(LABEL, min_size=1, max_size=3, unique=True))
    # Each cell in a zone of its own, or not placed: two cells of one zone would be an error.
    zoned = draw(st.booleans())
    spec: dict[str, Any] = {"cells": {"templates": [{"name": c, **({"spec": {"zone": f"zone-{c}"}} if zoned else {})}
                                                    for c in cells]}}
    databases = []
    for d, db_name in enumerate(draw(st.lists(LABEL, min_size=1, max_size=2, unique=True))):
        groups = ["default"] + draw(st.lists(LABEL.filter(lambda n: n != "default"), max_size=1, unique=True))
        tablegroups = []
        for g in groups:
            pools = [{"type": "replica", "cell": cells[0], "replicas": draw(st.integers(2, 5))}]
            for cell in draw(st.lists(st.sampled_from(cells), max_size=2, unique=True)):
                pools.append({"type": "readOnly", "cell": cell, "replicas": draw(st.integers(0, 3))})
            tablegroups.append({"name": g, "partitioning": {"shards": draw(st.integers(1, 4))},
                                "shardTemplate": {"pools": pools}})
        policy = draw(st.sampled_from(["AT_LEAST_2", "MULTI_CELL_AT_LEAST_2"]))
        databases.append({"name": db_name if d else "postgres",
                          "spec": {"tablegroups": tablegroups, "durabilityPolicy": policy}})
    spec["databases"] = {"templates": databases}
    if draw(st.booleans()):
        spec["images"] = {"multigateway": draw(IMAGES), "multiorch": draw(IMAGES)}
    if draw(st.booleans()):
        spec["globalTopoServer"] = {"managedSpec": {"replicas": draw(st.sampled_from([1, 3, 5]))}}
    obj = {"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresCluster",
           "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    secret = copy.deepcopy(SECRET_TEMPLATE)
    secret["metadata"] = {"name": f"{name}-postgres-password", "namespace": namespace}
    return [obj, secret]


def answer(stdin: str | bytes) -> tuple[str, int, dict[str, Any]]:
    """Function mode as `main` runs it; the answer must itself be a readable ResourceList."""
    if isinstance(stdin, bytes):
        try:
            text = yamlio.decode(stdin, "stdin")
        except ValueError as exc:
            out, code, _ = unreadable_input(str(exc))
            return out, code, yamlio.load(out)
        stdin = text
    out, code, _ = function_mode(stdin)
    body = yamlio.load(out)
    assert isinstance(body, dict) and body["kind"] == "ResourceList"
    return out, code, body


def assert_explained(code: int, body: dict[str, Any]) -> None:
    """A failure says why, and where: at least one error result, each with a field path."""
    errors = [r for r in body.get("results") or [] if r["severity"] == "error"]
    assert (code == 1) == bool(errors)
    for r in errors:
        assert r.get("field", {}).get("path"), r


@given(clusters())
def test_valid_clusters_render_without_errors_deterministically(objs):
    text = resource_list(*objs)
    out, code, body = answer(text)
    errors = [r for r in body.get("results") or [] if r["severity"] == "error"]
    assert code == 0 and not errors, errors
    assert answer(text)[0] == out
    result = run_text(text)
    assert check(output_objects(result), result_messages(result)) == []


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


WILD = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["", " ", "a b", "x\ny", "-1Gi", "Fast SSD", "UPPER", "😀", "\x00"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@given(clusters(), st.data())
def test_mutated_clusters_never_traceback(objs, data):
    obj = objs[0]
    paths = _paths(obj)[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        target = obj
        for part in path[:-1]:
            if not isinstance(target, dict | list):
                break
            try:
                target = target[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            value = data.draw(WILD)
            if isinstance(target, dict) or (isinstance(target, list) and isinstance(path[-1], int)
                                             and path[-1] < len(target)):
                target[path[-1]] = value
    try:
        text = resource_list(*objs)
    except (ValueError, UnicodeEncodeError):  # a value our own test emitter cannot write (the emitter's issue)
        return
    _, code, body = answer(text)
    assert_explained(code, body)
    from krmfn.tree import format_tree

    out = run_text(text)
    format_tree(out.resolved)  # `tree` on the same input: no traceback either


@given(clusters(), st.data())
def test_mutated_bytes_never_traceback(objs, data):
    raw = bytearray(resource_list(*objs).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.sampled_from([b"\xff", b"&a ", b"*a", b"\n", b" ", b":", b"-", b"{", b"[", b"'",
                                          b"\"", b"!!", b"#", b"\t", b"\xef\xbb\xbf", b"0", b"%"]))
        if op == "replace":
            raw[at:at + 1] = byte
        elif op == "insert":
            raw[at:at] = byte
        else:
            del raw[at:at + 1]
    _, code, body = answer(bytes(raw))
    assert_explained(code, body)


def test_alias_bomb_memory_stays_bounded():
    """The billion-laughs input is refused before expansion: peak memory stays in the megabytes."""
    from test_safety import lol

    tracemalloc.start()
    try:
        _, code, body = answer(lol(depth=12))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 1
    assert any("MAX_YAML_NODES" in r["message"] for r in body["results"])
    assert peak < 50 * 1024 * 1024


@given(clusters(), st.data())
def test_mutated_files_never_traceback_in_render(objs, data):
    """The `render` path (files, documents split on ---) under the same byte mutations."""
    import tempfile
    from pathlib import Path

    from krmfn.function import run
    from krmfn.resourcelist import read_paths, write_stream

    raw = bytearray("---\n".join(yamlio.dump(o) for o in objs).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        raw[at:at + 1] = data.draw(st.sampled_from([b"\xff", b"&a ", b"*a", b"\n---\n", b" ", b":", b"-", b"{",
                                                    b"\xef\xbb\xbf", b"", b"\t", b"!!binary "]))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.yaml").write_bytes(bytes(raw))
        out = run(read_paths([tmp]))
        write_stream(out.items)
    for r in out.results:
        if r.severity == "error":
            assert r.path and (r.file or r.ref is not None), r


# ---- YAML level: what kyaml reads, every front end reads and writes back the same ----

BLOCK_VALUE = st.text(alphabet="ab \n", max_size=12)
CHOMP = st.sampled_from(["|", "|-", "|+", ">", ">-", ">+", "|2", "|2+"])


@st.composite
def passthrough_documents(draw: Any) -> tuple[str, dict[str, Any]]:
    """A ConfigMap written with YAML features (a directive, tags, merge keys, an anchor and its
    alias, block scalars of every chomping) and the value kyaml reads from it."""
    value = draw(BLOCK_VALUE)
    chomp = draw(CHOMP)
    lines = [line for line in value.split("\n")]
    if not value.strip() or any(line.startswith(" ") for line in lines) or value.startswith("\n"):
        value, lines = "x", ["x"]
    block = "\n".join("    " + line if line else "" for line in lines)
    head = "%YAML 1.2\n---\n" if draw(st.booleans()) else ""
    tag = draw(st.sampled_from(["", "!!str "]))
    merge = draw(st.booleans())
    text = (f"{head}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
            + ("  <<: {labels: {a: b}}\n" if merge else "")
            + f"data:\n  one: &v {tag}plain\n  two: *v\n  block: {chomp}\n{block}\n"
            + "\n" * draw(st.integers(0, 2)))
    return text, yamlio.load(text.split("---\n", 1)[-1])


def _front_end_value(mode: Any, text: str, tmp: str) -> Any:
    from pathlib import Path

    from krmfn.adapter import PATHS
    from krmfn.adapter import answer as run_mode

    if mode.input == PATHS:
        (Path(tmp) / "cm.yaml").write_text(text)
        ans = run_mode(mode, paths=[tmp])
    else:
        ans = run_mode(mode, stdin=text)
    import yaml

    docs = [d for d in yaml.load_all(ans.text, Loader=yamlio.CoreLoader) if d]
    return [d for d in docs if d.get("kind") == "ConfigMap"], ans


@given(passthrough_documents())
def test_pass_through_yaml_features_keep_their_value_in_every_front_end(doc):
    import tempfile

    from krmfn.adapter import ARGOCD, KUSTOMIZE, RENDER

    text, value = doc
    for mode in (RENDER, ARGOCD, KUSTOMIZE):
        with tempfile.TemporaryDirectory() as tmp:
            found, ans = _front_end_value(mode, text, tmp)
        assert ans.code == 0, [r.describe() for r in ans.results]
        strip = {"metadata": {k: v for k, v in found[0]["metadata"].items() if k != "annotations"}}
        assert {**found[0], **strip} == value


# ---- identity level: names that collide only across clusters or API groups ----

SHORT = st.from_regex(r"\A[ab](-[ab]){0,2}\Z", fullmatch=True)


@st.composite
def cluster_pairs(draw: Any) -> list[dict[str, Any]]:
    """Two clusters whose names and cells are drawn from a tiny alphabet, so `cluster-cell` joins meet."""
    out = []
    for _ in range(2):
        name, cell = draw(SHORT), draw(SHORT)
        ns = draw(st.sampled_from(["default", "", None]))
        meta: dict[str, Any] = {"name": name} if ns is None else {"name": name, "namespace": ns}
        out.append({"apiVersion": "multigres.com/v1alpha1", "kind": "MultigresCluster", "metadata": meta,
                    "spec": {"cells": {"templates": [{"name": cell}]},
                             "databases": {"templates": [{"name": "postgres", "spec": {"tablegroups": [
                                 {"name": "default", "shardTemplate": {"pools": [
                                     {"type": "replica", "cell": cell, "replicas": 2}]}}]}}]}}})
    if draw(st.booleans()):  # a user object of another API group named like a generated Service
        out.append({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                    "metadata": {"name": f"{out[0]['metadata']['name']}-{draw(SHORT)}-gateway"}})
    return out


@given(cluster_pairs())
def test_no_two_objects_of_one_identity_are_written(objs):
    out = run_text(resource_list(*objs))
    if any(r.severity == "error" for r in out.results):
        return
    seen: dict[tuple[str, str, str], set[str | None]] = {}
    for item in out.items:
        group = item.api_version.rpartition("/")[0]
        namespaces = seen.setdefault((group, item.kind, item.name), set())
        ns = item.namespace
        assert ns not in namespaces and None not in namespaces and not (ns is None and namespaces), item.obj
        namespaces.add(ns)


# ---- arithmetic: quantities, exponents and huge integers ----

QUANTITY = st.one_of(
    st.builds(lambda m, e: f"{m}e{e}", st.integers(0, 10**6), st.integers(-(10**9), 10**9)),
    st.builds(lambda m, s: f"{m}{s}", st.sampled_from(["1", "0.5", ".5", "1" * 40, "0." + "0" * 60 + "1"]),
              st.sampled_from(["", "m", "Ki", "Gi", "Ei", "E", "n", "e18", "e19", "e-30", "e31"])),
    st.integers(-(10**30), 10**30),
    st.sampled_from(["1" * 5000, "1e" + "9" * 25, "9" * 4301]),
)


@given(clusters(), QUANTITY, QUANTITY, st.integers(0, 3))
def test_quantities_and_huge_numbers_never_traceback(objs, request, limit, digits):
    pool = objs[0]["spec"]["databases"]["templates"][0]["spec"]["tablegroups"][0]["shardTemplate"]["pools"][0]
    pool["postgres"] = {"resources": {"requests": {"cpu": request}, "limits": {"cpu": limit}}}
    text = resource_list(*objs, {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "n"}, "n": 1})
    text = text.replace("n: 1\n", f"n: {'7' * (10 ** digits)}\n")
    _, code, body = answer(text)
    assert_explained(code, body)
    assert not [r for r in body.get("results") or [] if "internal error" in r["message"]]
