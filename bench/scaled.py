"""Scaled inputs for the benchmark: a ResourceList (function mode) with one MultigresCluster.

    python bench/scaled.py --shards 1000 --pools 3 --cells 3       # one database, one table group
    python bench/scaled.py --cells 10 --databases 10               # 10 x 10, one shard each
    python bench/scaled.py --tablegroups 8 --shards 128 --pools 1  # the largest the default limits accept
    python bench/scaled.py --tablegroups 8 --shards 1024 --pools 1 --raise-limits   # 8,192 StatefulSets
    python bench/scaled.py --seed [--invalid]                      # examples/seed as kpt sends it

Pools use the seed's `default-ha` template (its file is read from examples/seed) and are spread
over the cells round-robin, so every pool type and template path of the seed is exercised.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def cluster(shards: int, pools: int, cells: int, databases: int, tablegroups: int = 1) -> dict:
    cell_names = [f"zone-{c}" for c in range(cells)]
    pool_list = [{"type": "replica" if p == 0 else "readOnly", "cell": cell_names[p % cells],
                  "multigresDeploymentTemplate": "default-ha"} for p in range(pools)]
    return {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "MultigresCluster",
        "metadata": {"name": "bench", "namespace": "multigres"},
        "spec": {
            "images": {"multigateway": "multigres/multigres:latest", "multiorch": "multigres/multigres:latest",
                       "multipooler": "multigres/multigres:latest", "multiadmin": "multigres/multigres:latest",
                       "postgres": "postgres:15.3"},
            "globalTopoServer": {"rootPath": "/multigres/global",
                                 "managedSpec": {"image": "quay.io/coreos/etcd:v3.5.17", "replicas": 3}},
            "multiadmin": {"templateName": "standard-ha"},
            "cells": {"templates": [{"name": n, "spec": {"multigateway": {"templateName": "standard-ha"}}}
                                    for n in cell_names]},
            "databases": {"templates": [
                {"name": f"db{d}", "spec": {"multiorch": {"templateName": "standard-ha"}, "tablegroups": [
                    {"name": "default" if t == 0 else f"tg{t}", "partitioning": {"shards": shards},
                     "shardTemplate": {"pools": pool_list}} for t in range(tablegroups)]}}
                for d in range(databases)]},
        },
    }


def templates() -> list[dict]:
    out = []
    for name in ("template-default-ha.yaml", "template-standard-ha.yaml"):
        out.append(yaml.safe_load((ROOT / "examples" / "seed" / name).read_text()))
    return out


def resource_list(shards: int, pools: int, cells: int, databases: int, tablegroups: int = 1,
                  limits: dict | None = None) -> str:
    items = [cluster(shards, pools, cells, databases, tablegroups), *templates()]
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if limits:
        rl["functionConfig"] = {"apiVersion": "fn.multigres.com/v1alpha1", "kind": "RenderMultigres",
                                "metadata": {"name": "bench"}, "spec": {"limits": limits}}
    return yaml.safe_dump(rl, sort_keys=False)


def seed(invalid: bool = False) -> str:
    """examples/seed as kpt hands it to the function; `invalid`: with two schema errors."""
    sys.path.insert(0, str(ROOT))
    from krmfn.resourcelist import read_paths, write_resource_list

    rl = read_paths([str(ROOT / "examples" / "seed")])
    text = write_resource_list([i for i in rl.items if not i.is_local_config()], [])
    if invalid:
        text = text.replace("    globalTopoServer:\n", "    globalTopoSever:\n", 1)
        text = text.replace("replicas: 3\n", "replicas: three\n", 1)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--pools", type=int, default=3)
    parser.add_argument("--cells", type=int, default=3)
    parser.add_argument("--databases", type=int, default=1)
    parser.add_argument("--tablegroups", type=int, default=1, help="table groups of each database")
    parser.add_argument("--raise-limits", action="store_true",
                        help="a function config raising the limits a 8 x 1,024-shard cluster needs")
    parser.add_argument("--seed", action="store_true", help="the seed example instead of a scaled cluster")
    parser.add_argument("--invalid", action="store_true", help="with --seed: two schema errors in the cluster")
    args = parser.parse_args()
    if args.seed:
        sys.stdout.write(seed(args.invalid))
        return
    limits = {"maxShards": 1024, "maxShardPools": 8192, "maxOutputObjects": 70000} if args.raise_limits else None
    sys.stdout.write(resource_list(args.shards, args.pools, args.cells, args.databases, args.tablegroups, limits))


if __name__ == "__main__":
    main()
