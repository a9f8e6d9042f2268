"""Every emitted built-in object validates strictly against the Kubernetes 1.37 schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from consistency import output_objects
from helpers import EXAMPLES, objects, render_paths

K8S_VERSION = "1.37"
EXAMPLE_DIRS = sorted(d for d in EXAMPLES.iterdir() if d.is_dir() and any(d.glob("*.yaml")))


def builtin(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects of Kubernetes' own groups (our CRs are checked against our CRDs elsewhere)."""
    return [o for o in objs if not str(o.get("apiVersion", "")).startswith("multigres.com/")
            and o.get("kind") not in ("Kptfile", "CustomResourceDefinition")]


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda d: d.name)
def test_generated_objects_validate_strictly(example: Any) -> None:
    out = render_paths(example)
    objs = builtin(objects(out))
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_seed_has_every_workload_kind() -> None:
    kinds = {o["kind"] for o in builtin(objects(render_paths(EXAMPLES / "seed")))}
    assert kinds == {"StatefulSet", "Service", "PodDisruptionBudget", "Job", "Deployment"}


def test_strict_validation_rejects_an_unknown_field() -> None:
    """A test that cannot fail is a defect: strict mode must catch a misspelt field."""
    obj = copy.deepcopy(builtin(output_objects(render_paths(EXAMPLES / "seed")))[0])
    obj["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
