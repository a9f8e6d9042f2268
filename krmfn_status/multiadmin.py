"""multiadmin's REST API, the one call the reporter makes: `GET /api/v1/poolers`.

Upstream, proto/multiadminservice.proto annotates `GetPoolers` with `get: "/api/v1/poolers"`,
and go/services/multiadmin/init.go serves those annotations on the HTTP port under `/api/`
(a transcoder over the Connect handler, canonical proto3 JSON: camelCase names, enums by name,
zero values left out). Each pooler carries its `id` (cell, name), `shardKey` (database,
tableGroup, shard), `servingStatus` and `routingState.role`: everything the shard status needs,
in one request per round, for every shard.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

POOLERS_PATH = "/api/v1/poolers"


def get_poolers(base_url: str, timeout: float = 3.0) -> list[dict[str, Any]] | None:
    """Every pooler multiadmin knows of, or None when it does not answer (then the shards'
    serving state is "Unknown", never guessed)."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + POOLERS_PATH, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    poolers = answer.get("poolers", []) if isinstance(answer, dict) else None
    return poolers if isinstance(poolers, list) else None
