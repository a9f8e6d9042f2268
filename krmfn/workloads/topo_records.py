"""The two global-topo records, encoded as protobuf at render time (no protobuf dependency).

Field numbers from multigres `proto/clustermetadata.proto`; the durability policies as
`go/common/topoclient/durability.go` builds them (AtLeastN / MultiCellAtLeastN). Wire rules as
Go's proto.Marshal: fields in number order, proto3 zero values left out, one tag per element
of a repeated string, embedded messages length-delimited.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


QUORUM_AT_LEAST_N = 3
QUORUM_MULTI_CELL_AT_LEAST_N = 4
_VARINT, _LEN = 0, 2


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def f_int(number: int, value: int) -> bytes:
    return _tag(number, _VARINT) + varint(value) if value else b""


def f_bytes(number: int, data: bytes, keep_empty: bool = False) -> bytes:
    if not data and not keep_empty:
        return b""
    return _tag(number, _LEN) + varint(len(data)) + data


def f_str(number: int, value: str) -> bytes:
    return f_bytes(number, value.encode())


def cell(name: str, server_addresses: list[str], root: str) -> bytes:
    """clustermetadata.Cell{name=1, server_addresses=2 (repeated), root=3}."""
    return f_str(1, name) + b"".join(f_str(2, a) for a in server_addresses) + f_str(3, root)


def durability_policy(policy: str) -> bytes:
    """DurabilityPolicy{policy_name=1, policy_version=2 (unset), quorum_type=3, required_count=4, description=5}."""
    if policy.startswith("MULTI_CELL_AT_LEAST_"):
        n, quorum = int(policy.rsplit("_", 1)[1]), QUORUM_MULTI_CELL_AT_LEAST_N
        description = f"At least {n} nodes from different cells must acknowledge"
    elif policy.startswith("AT_LEAST_"):
        n, quorum = int(policy.rsplit("_", 1)[1]), QUORUM_AT_LEAST_N
        description = f"At least {n} nodes must acknowledge"
    else:
        raise ValueError(f"unknown durability policy {policy!r}")
    return f_str(1, policy) + f_int(3, quorum) + f_int(4, n) + f_str(5, description)


def backup_location(backup: dict[str, Any]) -> bytes:
    """BackupLocation{filesystem=1: FilesystemBackup{path=1} | s3=2: S3Backup{bucket=1, region=2,
    endpoint=3, key_prefix=4, use_env_credentials=5}} (proto/clustermetadata.proto).

    use_env_credentials is true exactly when the pods get a credentials Secret: multipooler then
    reads AWS_* from its environment (go/common/backup/config.go).
    """
    if "s3" in backup:
        s3 = backup["s3"]
        inner = (f_str(1, s3["bucket"]) + f_str(2, s3["region"]) + f_str(3, s3.get("endpoint") or "")
                 + f_str(4, s3.get("keyPrefix") or "") + f_int(5, 1 if s3.get("credentialsSecret") else 0))
        return f_bytes(2, inner, keep_empty=True)
    return f_bytes(1, f_str(1, backup["filesystem"]["path"]), keep_empty=True)


def database(name: str, backup: dict[str, Any], cells: list[str], policy: str) -> bytes:
    """Database{name=1, backup_location=2, cells=3 (repeated), bootstrap_durability_policy=4}."""
    return (f_str(1, name) + f_bytes(2, backup_location(backup), keep_empty=True)
            + b"".join(f_str(3, c) for c in cells) + f_bytes(4, durability_policy(policy), keep_empty=True))
