"""The topology records the function writes are the bytes protobuf writes for upstream's schema.

krmfn/workloads/topo_records.py encodes Cell and Database records by hand (the function has no
protobuf dependency). Here upstream's `proto/clustermetadata.proto`, from the source archive the
tools build from (tools/sources.sh multigres, pinned in tools/versions.env), is compiled with
grpcio-tools' protoc, and the same messages built with the protobuf runtime must serialize to
exactly our bytes. Without the archive the tests skip (fail under REQUIRE_TOOLS=1).
"""

from __future__ import annotations

import importlib
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import topo_decode
from google.protobuf.message import Message
from helpers import REQUIRE_TOOLS, upstream_source

from krmfn.workloads import topo_records

PROTO = "proto/clustermetadata.proto"


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pb(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """clustermetadata_pb2, compiled from the upstream schema into a temporary folder."""
    archive = upstream_source("multigres")
    try:
        from grpc_tools import protoc
    except ImportError:
        _skip_or_fail("grpcio-tools is not installed (pip install -e '.[test]')")
    src, out = tmp_path_factory.mktemp("proto-src"), tmp_path_factory.mktemp("proto-py")
    with tarfile.open(archive) as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        # git archive puts proto/ at the top, GitHub's archive under one folder: take either.
        top = "" if any(m.name.startswith("proto/") for m in files) else files[0].name.split("/", 1)[0] + "/"
        tar.extractall(src, members=[m for m in files if m.name.startswith(top + "proto/")], filter="data")
    src = src / top
    well_known = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto, shipped with protoc
    code = protoc.main(["protoc", f"-I{src / 'proto'}", f"-I{well_known}", f"--python_out={out}",
                        str(src / PROTO)])
    assert code == 0, f"protoc failed on {PROTO} (exit {code})"
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("clustermetadata_pb2")
    finally:
        sys.path.remove(str(out))


CELLS = [
    ("zone1", ["a.multigres.svc.cluster.local:2379", "b:2379"], "/multigres/zone1"),
    ("us-east-1", ["x" * 300 + ":2379"], "/" + "r" * 200),  # lengths past one varint byte
    ("empty", [], ""),  # proto3 zero values are left out
]


@pytest.mark.parametrize(("name", "addresses", "root"), CELLS)
def test_cell_record_is_what_protobuf_writes(pb: Any, name: str, addresses: list[str], root: str) -> None:
    expected = pb.Cell(name=name, server_addresses=addresses, root=root)
    assert isinstance(expected, Message)  # the protobuf runtime's message, not a stand-in
    ours = topo_records.cell(name, addresses, root)
    assert ours == expected.SerializeToString(deterministic=True)
    assert pb.Cell.FromString(ours) == expected


def _policy(pb: Any, policy: str) -> Any:
    """The policy as upstream's go/common/topoclient/durability.go builds it."""
    n = int(policy.rsplit("_", 1)[1])
    if policy.startswith("MULTI_CELL_AT_LEAST_"):
        return pb.DurabilityPolicy(policy_name=policy, quorum_type=pb.QUORUM_TYPE_MULTI_CELL_AT_LEAST_N,
                                   required_count=n,
                                   description=f"At least {n} nodes from different cells must acknowledge")
    return pb.DurabilityPolicy(policy_name=policy, quorum_type=pb.QUORUM_TYPE_AT_LEAST_N, required_count=n,
                               description=f"At least {n} nodes must acknowledge")


def _database(pb: Any, name: str, backup: dict[str, Any], cells: list[str], policy: str) -> Any:
    db = pb.Database(name=name, cells=cells, bootstrap_durability_policy=_policy(pb, policy))
    if "s3" in backup:
        s3 = backup["s3"]
        db.backup_location.s3.CopyFrom(pb.S3Backup(
            bucket=s3["bucket"], region=s3["region"], endpoint=s3.get("endpoint", ""),
            key_prefix=s3.get("keyPrefix", ""), use_env_credentials="credentialsSecret" in s3))
    else:
        db.backup_location.filesystem.path = backup["filesystem"]["path"]
    return db


FILESYSTEM = {"filesystem": {"path": "/backups"}}
S3_FULL = {"s3": {"bucket": "my-backups", "region": "eu-west-1", "endpoint": "https://s3.example.com:9000",
                  "keyPrefix": "multigres-prod/", "credentialsSecret": "my-s3-credentials"}}
S3_MINIMAL = {"s3": {"bucket": "b", "region": "us-east-1"}}  # IRSA: no credentials from the environment

DATABASES = [
    ("production_db", FILESYSTEM, ["us-east-1", "us-west-2"], "AT_LEAST_2"),
    ("production_db", FILESYSTEM, ["us-east-1", "us-west-2"], "MULTI_CELL_AT_LEAST_2"),
    ("analytics", S3_FULL, ["zone1"], "AT_LEAST_2"),
    ("analytics", S3_MINIMAL, ["zone1", "zone2", "zone3"], "MULTI_CELL_AT_LEAST_3"),
    ("lonely", {"filesystem": {"path": "/" + "p" * 130}}, [], "AT_LEAST_1"),
]


@pytest.mark.parametrize(("name", "backup", "cells", "policy"), DATABASES)
def test_database_record_is_what_protobuf_writes(pb: Any, name: str, backup: dict[str, Any], cells: list[str],
                                                  policy: str) -> None:
    expected = _database(pb, name, backup, cells, policy)
    ours = topo_records.database(name, backup, cells, policy)
    assert ours == expected.SerializeToString(deterministic=True)
    assert pb.Database.FromString(ours) == expected


def test_the_tests_reader_agrees_with_protobuf(pb: Any) -> None:
    """tests/topo_decode.py, which other tests read records with, reads protobuf's bytes too."""
    data = _database(pb, "d", S3_FULL, ["a", "b"], "MULTI_CELL_AT_LEAST_2").SerializeToString()
    db = topo_decode.decode_database(data)
    assert (db["name"], db["cells"], db["s3"]["bucket"], db["s3"]["use_env_credentials"]) == ("d", ["a", "b"],
                                                                                            "my-backups", 1)
    assert db["policy"]["quorum_type"] == pb.QUORUM_TYPE_MULTI_CELL_AT_LEAST_N
