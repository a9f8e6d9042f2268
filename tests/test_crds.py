"""CRDs generated from the models: committed copy is current, schemas are structural and validate."""

from __future__ import annotations

import jsonschema
import pytest
from helpers import EXAMPLES, ROOT, objects, render_paths

from krmfn import yamlio
from krmfn.crds import crd_objects, crds_yaml

COMMITTED = ROOT / "crds" / "multigres.com_crds.yaml"


def test_committed_crds_are_current():
    assert COMMITTED.read_text() == crds_yaml(), (
        "crds/ is stale: run `multigres-krmfn crds > crds/multigres.com_crds.yaml` (or `make crds`)")


def _walk(node, path="$"):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield from _walk(value, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from _walk(node[key], f"{path}.{key}")


@pytest.mark.parametrize("crd", crd_objects(), ids=lambda c: c["spec"]["names"]["kind"])
def test_schema_is_structural(crd):
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    text = yamlio.dump(schema)
    assert "$ref" not in text and "additionalProperties: false" not in text and "title:" not in text
    for path, node in _walk(schema):
        if node.get("x-kubernetes-int-or-string"):
            continue
        assert "type" in node, f"{path} has no type"
        assert "anyOf" not in node, f"{path} uses anyOf without int-or-string"


def _schemas():
    return {c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for c in crd_objects()}


def test_examples_and_children_validate_against_the_crds():
    schemas = _schemas()
    for example in ("seed", "minimal", "monitoring"):
        out = render_paths(EXAMPLES / example)
        inputs = [i.obj for i in out.items if not i.generated and i.kind in schemas]
        generated = [o for o in objects(out) if o["kind"] in schemas]
        assert inputs and generated
        for obj in inputs + generated:
            jsonschema.validate(obj, schemas[obj["kind"]])


def test_schema_has_enums_minimums_and_rules():
    schema = _schemas()["MultigresCluster"]
    text = yamlio.dump(schema)
    assert "readOnly" in text and "minimum: 1" in text and "x-kubernetes-validations" in text
    cell_spec = schema["properties"]["spec"]["properties"]["cells"]["properties"]["templates"]["items"][
        "properties"]["spec"]
    assert {"topoServer", "toposerver"} <= set(cell_spec["properties"])
    pool = schema["properties"]["spec"]["properties"]["databases"]["properties"]["templates"]["items"][
        "properties"]["spec"]["properties"]["tablegroups"]["items"]["properties"]["shardTemplate"][
        "properties"]["pools"]["items"]
    assert pool["required"] == ["type", "cell"]
    assert pool["properties"]["type"]["enum"] == ["replica", "readOnly"]
