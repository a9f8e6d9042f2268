"""The pydantic-free validator (krmfn/api/validator.py): current, never more lenient, same values, same results."""

from __future__ import annotations

import copy
import random
import subprocess
import sys

import pytest
import test_bad_inputs
from helpers import EXAMPLES, ROOT, resource_list

from codegen.validators import render
from krmfn import yamlio
from krmfn.api import plain, validator
from krmfn.api.generated import validators
from krmfn.cli import function_mode

COMMITTED = ROOT / "krmfn" / "api" / "generated" / "validators.py"


def test_committed_validator_is_current():
    assert COMMITTED.read_text() == render(), (
        "krmfn/api/generated/validators.py is stale: run `make generate` after changing the models")


def _examples() -> list[dict]:
    docs = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for chunk in yamlio.split_documents(path.read_text()):
            obj = yamlio.load(chunk)
            if isinstance(obj, dict) and obj.get("kind") in ("MultigresCluster", "MultigresDeploymentTemplate"):
                docs.append(obj)
    return docs


_ODD_VALUES = [None, "", "x", "0", 0, -1, 1, 3, 10**20, True, False, 1.5, float("inf"), float("nan"), [], {},
               ["ReadWriteOnce"], {"a": 1}, {1: "a"}, "replica", "readOnly", "100Gi", "500m", "1e3", "5Gi ",
               "Always", "a" * 64, "1e1.5", " 2Gi", b"x", ("t",), {"requests": {"cpu": "1"}},
               {"requests": {"cpu": None}}]


def _mutations(rng: random.Random, obj, depth: int = 0):
    """Obj with one random change somewhere: a value replaced, a key dropped, added or renamed."""
    obj = copy.deepcopy(obj)
    node = obj
    for _ in range(rng.randint(0, 8)):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) \
            if isinstance(node, list) else []
        children = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
        if not children:
            break
        node = rng.choice(children)[1]
    action = rng.random()
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        if action < 0.5:
            node[key] = rng.choice(_ODD_VALUES)
        elif action < 0.7:
            del node[key]
        elif action < 0.85:
            node[key + "x"] = node.pop(key)
        else:
            node[rng.choice(["extra", "replicas", "overrides", "spec", "templateName", "shards"])] = \
                rng.choice(_ODD_VALUES)
    elif isinstance(node, list) and node:
        node[rng.randrange(len(node))] = rng.choice(_ODD_VALUES)
    return obj


def _same(generated, pyd_obj, path="") -> None:
    """Every attribute the code can read is the same (models compared field by field)."""
    if isinstance(generated, plain.Base):
        assert type(generated).__name__ == type(pyd_obj).__name__, path
        for name in type(pyd_obj).model_fields:
            _same(getattr(generated, name), getattr(pyd_obj, name), f"{path}.{name}")
    elif isinstance(generated, list):
        assert isinstance(pyd_obj, list) and len(generated) == len(pyd_obj), path
        for i, (a, b) in enumerate(zip(generated, pyd_obj, strict=True)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(generated, dict):
        assert isinstance(pyd_obj, dict) and list(generated) == list(pyd_obj), path
        for key in generated:
            _same(generated[key], pyd_obj[key], f"{path}.{key}")
    else:
        assert type(generated) is type(pyd_obj) and generated == pyd_obj, path


def _check(name: str, data) -> bool:
    """The generated validator accepts only what pydantic accepts, and gives the same object."""
    from pydantic import ValidationError

    model = validator.pydantic_model(name)
    mine = validators.VALIDATORS[name](data)
    try:
        theirs = model.model_validate(data)
    except ValidationError:
        assert mine is None, f"{name}: the generated validator accepts what pydantic rejects: {data!r}"
        return False
    if mine is not None:
        _same(mine, theirs)
        assert mine.dump() == theirs.model_dump(by_alias=True, exclude_none=True, mode="json")
        fields = list(type(theirs).model_fields)[::2]
        assert mine.model_dump(include=set(fields)) == theirs.model_dump(
            by_alias=True, exclude_none=True, mode="json", include=set(fields))
    return mine is not None


def test_examples_take_the_generated_validator():
    docs = _examples()
    assert docs
    for doc in docs:
        assert _check(doc["kind"], doc), doc["metadata"]["name"]


def test_random_changes_never_pass_what_pydantic_rejects():
    rng = random.Random(12)
    docs = _examples()
    accepted = rejected = 0
    for _ in range(3000):
        doc = rng.choice(docs)
        if _check(doc["kind"], _mutations(rng, doc)):
            accepted += 1
        else:
            rejected += 1
    assert accepted > 300 and rejected > 300  # both sides exercised


@pytest.mark.parametrize("name", ["ComponentSpec", "PoolSpec", "ResolvedPool", "RenderOptions", "RenderMultigres"])
def test_other_models_agree(name):
    base = {
        "ComponentSpec": {"replicas": 2, "resources": {"requests": {"cpu": "1"}, "limits": {"memory": 1024}}},
        "PoolSpec": {"replicas": 3, "dataVolumeClaimTemplate": {"accessModes": ["ReadWriteOnce"], "resources": {
            "requests": {"storage": "10Gi"}}}, "postgres": {"resources": {"requests": {"cpu": "2"}}}},
        "ResolvedPool": {"type": "replica", "cell": "z", "replicas": 1, "dataVolumeClaimTemplate": {},
                         "multipooler": {"resources": {}}},
        "RenderOptions": {"emit": "children", "includeCrds": True, "clusterDomain": "x.local"},
        "RenderMultigres": {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                            "metadata": {"name": "x"}, "spec": {"emit": "workloads"}},
    }[name]
    assert _check(name, base) and _check(name, {} if name == "RenderOptions" else base)
    rng = random.Random(name)
    for _ in range(300):
        _check(name, _mutations(rng, base))


def _bad_inputs() -> list[tuple[str, str]]:
    cases = [(c[0], resource_list(*c[1]())) for c in test_bad_inputs.CASES]
    base = test_bad_inputs.BASE
    for name, fc in [
        ("typed-config", {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                          "metadata": {"name": "x"}, "spec": {"emit": "everything", "bogus": 1}}),
        ("configmap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                       "data": {"emit": "x", "clusterDomain": ""}}),
        ("unknown-config", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
    ]:
        cases.append((name, resource_list(base, function_config=fc)))
    return cases


@pytest.mark.parametrize(("name", "stdin"), _bad_inputs(), ids=[c[0] for c in _bad_inputs()])
def test_results_are_the_same_as_with_pydantic_alone(name, stdin, monkeypatch):
    """Output, exit code and stderr of function mode, with and without the generated validator."""
    with_generated = function_mode(stdin)
    monkeypatch.setattr(validators, "VALIDATORS", {k: (lambda data: None) for k in validators.VALIDATORS})
    assert function_mode(stdin) == with_generated


def test_valid_input_does_not_import_pydantic():
    from krmfn.resourcelist import read_paths, write_resource_list

    stdin = write_resource_list([i for i in read_paths([str(EXAMPLES / "seed")]).items if not i.is_local_config()], [])
    code = ("import sys; from krmfn.cli import function_mode; text, rc, errors = function_mode(sys.stdin.read()); "
            "assert rc == 0, errors; bad = sorted(m for m in sys.modules if m.startswith(('pydantic', 'click')) "
            # start-up cost the seed does not need (docs/performance.md): OpenSSL, copy/weakref, shlex
            "or m in ('hashlib', '_hashlib', 'copy', 'shlex', 'jsonpatch', 'krmfn.previous')); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_constructs_the_generator_does_not_know_defer_to_pydantic(capsys):
    """A model change the generator cannot translate must not stop `make generate`, nor guess."""
    from pydantic import field_validator

    from codegen.validators import _Gen
    from krmfn.api.common import Model

    class WithFloat(Model):
        ratio: float

    class WithValidator(Model):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    for model in (WithFloat, WithValidator):
        gen = _Gen()
        gen.collect(model)
        namespace: dict = {}
        exec("\n".join(gen.model(model)), namespace)  # noqa: S102 - generated from our own model
        assert namespace[f"v_{model.__name__}"]({"ratio": 1.0, "name": "x"}) is None
        assert "always validated by pydantic" in capsys.readouterr().err
