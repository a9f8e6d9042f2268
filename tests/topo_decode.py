"""A protobuf wire-format reader for the topology records the function writes (tests only).

The package only encodes (krmfn/workloads/topo_records.py); reading records back is what the tests
and the consistency checker do, so the reader lives here. tests/test_topo_records_proto.py checks
the encoder against the protobuf runtime and upstream's schema.
"""

from __future__ import annotations

from typing import Any

_VARINT, _LEN = 0, 2


def _varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at i, and the index after it."""
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode(data: bytes) -> list[tuple[int, Any]]:
    """(field number, int | bytes) pairs in wire order; raises ValueError on malformed input
    (truncated, a varint over 64 bits, field number 0, a wire type the records do not use)."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == _VARINT:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == _LEN:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ValueError(f"field {number}: length {size} runs past the end")
            out.append((number, data[i:i + size]))
            i += size
        else:
            raise ValueError(f"field {number}: unexpected wire type {wire}")
    return out


def decode_cell(data: bytes) -> dict[str, Any]:
    fields = decode(data)
    return {"name": _one(fields, 1), "server_addresses": [v.decode() for n, v in fields if n == 2],
            "root": _one(fields, 3)}


def decode_database(data: bytes) -> dict[str, Any]:
    fields = decode(data)
    location = dict(decode(dict(fields)[2]))
    policy = decode(dict(fields)[4])
    s3 = decode(location[2]) if 2 in location else None
    return {"name": _one(fields, 1), "backup_path": _one(decode(location[1]), 1) if 1 in location else "",
            "s3": None if s3 is None else {"bucket": _one(s3, 1), "region": _one(s3, 2), "endpoint": _one(s3, 3),
                                           "key_prefix": _one(s3, 4), "use_env_credentials": dict(s3).get(5, 0)},
            "cells": [v.decode() for n, v in fields if n == 3],
            "policy": {"policy_name": _one(policy, 1), "policy_version": dict(policy).get(2, 0),
                       "quorum_type": dict(policy).get(3, 0), "required_count": dict(policy).get(4, 0),
                       "description": _one(policy, 5)}}


def _one(fields: list[tuple[int, Any]], number: int) -> str:
    values = [v for n, v in fields if n == number]
    return values[-1].decode() if values else ""
