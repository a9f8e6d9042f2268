"""api/generated/child_types.py: generated from the child models, and what resolve hands the builders."""

from __future__ import annotations

import fixtures
import pytest
from helpers import EXAMPLES, render_paths

from codegen.child_types import render
from krmfn.api import children
from krmfn.api.generated import child_types as ct


def test_committed_file_is_current() -> None:
    """Run `make generate` after changing api/children.py."""
    from helpers import ROOT

    assert (ROOT / "krmfn" / "api" / "generated" / "child_types.py").read_text() == render()


@pytest.mark.parametrize("example", ["seed", "minimal", "monitoring"])
def test_resolved_children_are_the_generated_classes_and_dump_to_valid_crs(example: str) -> None:
    """Every child resolve returns is a generated class; its dump is a valid CR of the pydantic
    model (the CRD's source), and load(dump) gives it back."""
    (resolved,) = render_paths(EXAMPLES / example).resolved
    kinds = {"TopoServer": ct.TopoServer, "MultiCell": ct.MultiCell, "MultiTableGroup": ct.MultiTableGroup,
             "MultiShard": ct.MultiShard}
    assert {c.kind for c in resolved.children} == set(kinds)
    for child in resolved.children:
        cls = kinds[child.kind]
        assert type(child) is cls
        data = child.dump()
        model = getattr(children, child.kind).model_validate(data)
        assert model.dump() == {**data, "spec": {"imagePullSecrets": [], **data["spec"]}}
        assert cls.load(data).dump() == data


def test_lists_default_to_empty_and_an_empty_optional_list_is_left_out() -> None:
    spec = ct.MultiShardSpec(images=fixtures.images(), database_name="d", table_group_name="t", shard_name="0-inf",
                             global_topo_server=fixtures.GLOBAL, postgres_password_secret="p",
                             backup=fixtures.filesystem_backup(), pgbackrest_tls_secret="tls")
    assert spec.pools == [] and spec.image_pull_secrets == []
    dumped = spec.dump()
    assert dumped["pools"] == []  # required by the CRD: written even when empty
    assert "imagePullSecrets" not in dumped


def test_a_dump_shares_nothing_with_the_object() -> None:
    """Emit writes the dump and the writer adds annotations to it: the child must not change."""
    shard = fixtures.shard()
    data = shard.dump()
    data["metadata"]["annotations"]["x"] = "y"
    data["spec"]["pools"][0]["dataVolumeClaimTemplate"]["accessModes"].append("ReadWriteMany")
    assert "x" not in shard.metadata["annotations"]
    assert shard.spec.pools[0].data_volume_claim_template["accessModes"] == ["ReadWriteOnce"]


def test_fixed_api_version_and_kind() -> None:
    cell = fixtures.multicell()
    assert (cell.api_version, cell.kind) == ("multigres.com/v1alpha1", "MultiCell")
    assert list(cell.dump()) == ["apiVersion", "kind", "metadata", "spec"]


def test_the_context_is_read_only() -> None:
    ctx = fixtures.context()
    with pytest.raises(AttributeError, match="read-only"):
        ctx.cluster_domain = "other"  # type: ignore[misc]
