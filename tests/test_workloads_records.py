"""The protobuf encoder of the topology records, against bytes worked out by hand."""

from __future__ import annotations

import pytest
import topo_decode

from krmfn.workloads import topo_records as tr

FS = {"filesystem": {"path": "/backups"}}


def test_varint() -> None:
    assert tr.varint(0) == b"\x00"
    assert tr.varint(1) == b"\x01"
    assert tr.varint(127) == b"\x7f"
    assert tr.varint(300) == b"\xac\x02"


def test_cell_record_by_hand() -> None:
    # name=1 "a" | server_addresses=2 "h:1" | root=3 "/r"; tag = number << 3 | 2
    expected = bytes([0x0A, 1]) + b"a" + bytes([0x12, 3]) + b"h:1" + bytes([0x1A, 2]) + b"/r"
    assert tr.cell("a", ["h:1"], "/r") == expected
    assert topo_decode.decode_cell(expected) == {"name": "a", "server_addresses": ["h:1"], "root": "/r"}


def test_repeated_addresses_are_one_tag_each() -> None:
    data = tr.cell("c", ["x:1", "y:2"], "/c")
    assert topo_decode.decode(data) == [(1, b"c"), (2, b"x:1"), (2, b"y:2"), (3, b"/c")]


def test_database_record_by_hand() -> None:
    policy = (bytes([0x0A, 10]) + b"AT_LEAST_2" + bytes([0x18, 3]) + bytes([0x20, 2])
              + bytes([0x2A, 33]) + b"At least 2 nodes must acknowledge")
    assert len(policy) == 51
    # backup_location=2 is a BackupLocation message: filesystem=1 → FilesystemBackup{path=1}
    location = bytes([0x0A, 4, 0x0A, 2]) + b"/b"
    expected = (bytes([0x0A, 1]) + b"d" + bytes([0x12, len(location)]) + location
                + bytes([0x1A, 1]) + b"a" + bytes([0x22, len(policy)]) + policy)
    assert tr.database("d", {"filesystem": {"path": "/b"}}, ["a"], "AT_LEAST_2") == expected


def test_database_round_trip_and_policies() -> None:
    data = tr.database("production_db", FS, ["us-east-1", "us-west-2"], "MULTI_CELL_AT_LEAST_2")
    assert topo_decode.decode_database(data) == {
        "name": "production_db", "backup_path": "/backups", "s3": None, "cells": ["us-east-1", "us-west-2"],
        "policy": {"policy_name": "MULTI_CELL_AT_LEAST_2", "policy_version": 0,
                   "quorum_type": tr.QUORUM_MULTI_CELL_AT_LEAST_N, "required_count": 2,
                   "description": "At least 2 nodes from different cells must acknowledge"}}
    policy = dict(topo_decode.decode(tr.durability_policy("AT_LEAST_2")))
    assert policy[3] == 3 and policy[4] == 2 and 2 not in policy  # policy_version unset → absent


def test_unknown_policy_and_malformed_input() -> None:
    with pytest.raises(ValueError):
        tr.durability_policy("NONE")
    with pytest.raises(ValueError):
        topo_decode.decode(b"\x0a\x05ab")
    with pytest.raises(ValueError):
        topo_decode.decode(b"\x0b")  # wire type 3


def test_s3_location_by_hand() -> None:
    """BackupLocation{s3=2: S3Backup{bucket=1, region=2, endpoint=3, key_prefix=4, use_env_credentials=5}}."""
    s3 = {"bucket": "b", "region": "r", "endpoint": "http://e", "keyPrefix": "p/", "credentialsSecret": "creds"}
    inner = (bytes([0x0A, 1]) + b"b" + bytes([0x12, 1]) + b"r" + bytes([0x1A, 8]) + b"http://e"
             + bytes([0x22, 2]) + b"p/" + bytes([0x28, 1]))
    assert tr.backup_location({"s3": s3}) == bytes([0x12, len(inner)]) + inner


def test_s3_without_a_secret_uses_ambient_credentials_and_round_trips() -> None:
    data = tr.database("d", {"s3": {"bucket": "b", "region": "us-east-1"}}, ["a"], "AT_LEAST_2")
    db = topo_decode.decode_database(data)
    assert db["backup_path"] == ""
    assert db["s3"] == {"bucket": "b", "region": "us-east-1", "endpoint": "", "key_prefix": "",
                        "use_env_credentials": 0}
