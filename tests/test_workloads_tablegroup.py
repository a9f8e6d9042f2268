"""MultiTableGroup → one multiorch Deployment per cell hosting one of its pools."""

from __future__ import annotations

import fixtures
from consistency import args_of

from krmfn.workloads.tablegroup import build_multitablegroup

CTX = fixtures.context()


def test_one_multiorch_per_pool_cell() -> None:
    objs = build_multitablegroup(fixtures.table_group(), CTX)
    assert [o["metadata"]["labels"]["multigres.com/cell"] for o in objs] == ["us-west-2", "us-east-1"]
    for obj, cell in zip(objs, ["us-west-2", "us-east-1"], strict=True):
        c = obj["spec"]["template"]["spec"]["containers"][0]
        args = args_of(c)
        assert args["--watch-targets"] == "production_db/orders_tg"
        assert args["--cell"] == cell
        assert (args["--http-port"], args["--grpc-port"]) == ("15300", "15370")
        assert args["--topo-global-root"] == "/multigres/global"
        assert c["resources"]["requests"]["cpu"] == "100m"
        assert obj["spec"]["replicas"] == 1
        assert obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"


def test_single_cell_table_group() -> None:
    objs = build_multitablegroup(fixtures.table_group(name="default", pools=(("replica", "us-east-1", 3),)), CTX)
    assert len(objs) == 1
    name = objs[0]["metadata"]["name"]
    assert len(name) <= 63 and name.startswith("example-") and name.endswith("-default-multiorch-us-east-1")
