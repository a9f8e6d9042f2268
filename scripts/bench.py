"""Benchmark the whole process the way kpt runs it: exec the console script, ResourceList on stdin.

Every case runs after a warm-up, `--runs` times (median, default 21), interleaved with the
floors in the same run, so numbers from different (or busy) machines compare as ratios to the
`python -c 'import yaml'` floor. Peak RSS is the child's own (wait4). Objects are the items of
the output ResourceList.

    python scripts/bench.py                        # all cases, this interpreter's console script
    python scripts/bench.py --exe /path/to/multigres-krmfn --cases seed,shards-1000
    make bench                                     # a non-editable install, as a container has

Inputs: examples/seed as kpt hands it over, and bench/scaled.py for the scaled clusters.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _seed() -> str:
    from krmfn.resourcelist import read_paths, write_resource_list

    rl = read_paths([str(ROOT / "examples" / "seed")])
    return write_resource_list([i for i in rl.items if not i.is_local_config()], [])


def _invalid() -> str:
    """The seed with two structural mistakes: the all-errors-at-once path (pydantic)."""
    text = _seed()
    text = text.replace("    globalTopoServer:\n", "    globalTopoSever:\n", 1)
    return text.replace("replicas: 3\n", "replicas: three\n", 1)


def _scaled(**kw: int) -> str:
    import scaled

    return scaled.resource_list(kw.get("shards", 1), kw.get("pools", 3), kw.get("cells", 3),
                                kw.get("databases", 1))


CASES = {
    "seed": ("seed example, function mode", _seed),
    "shards-10": ("10 shards x 3 pools, 3 cells", lambda: _scaled(shards=10)),
    "shards-100": ("100 shards x 3 pools, 3 cells", lambda: _scaled(shards=100)),
    "shards-1000": ("1,000 shards x 3 pools, 3 cells", lambda: _scaled(shards=1000)),
    "cells-10-dbs-10": ("10 cells x 10 databases", lambda: _scaled(cells=10, databases=10)),
    "invalid": ("seed with 2 schema errors (exit 1)", _invalid),
}


def run_once(cmd: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, int, bytes]:
    """Wall seconds, the child's peak RSS in KiB (wait4) and its stdout, for one process."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout:
        fin.write(stdin)
        fin.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        return wall, usage.ru_maxrss, fout.read()


def objects_in(out: bytes) -> int:
    """Items of a ResourceList written by the function: `- ` lines at column 0 before `results:`."""
    body = out.split(b"\nresults:\n", 1)[0]
    return sum(1 for line in body.split(b"\n") if line.startswith(b"- "))


def measure(cmd: list[str], stdin: bytes, runs: int, env: dict[str, str]) -> tuple[float, int, bytes]:
    """Median wall (s) of `runs` runs after one warm-up, the largest peak RSS (KiB), and one stdout."""
    _, _, out = run_once(cmd, stdin, env)  # warm-up: page cache, .pyc files
    walls, peaks = [], []
    for _ in range(runs):
        wall, rss, _ = run_once(cmd, stdin, env)
        walls.append(wall)
        peaks.append(rss)
    return statistics.median(walls), max(peaks), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--exe", default=str(Path(sys.executable).parent / "multigres-krmfn"),
                        help="the console script to time (its interpreter is taken from its #! line)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    exe = os.path.abspath(args.exe)
    python = Path(exe).read_text().splitlines()[0].removeprefix("#!").strip()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: .pyc used

    print(f"# {platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    print(f"# {exe}; median of {args.runs} runs after a warm-up, whole process")
    header = f"{'case':38s} {'objects':>7s} {'wall ms':>9s} {'peak RSS':>9s} {'objects/s':>10s} " \
             f"{'ms/object':>9s} {'x import yaml':>13s}"
    print(header)
    print("-" * len(header))
    floors = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import yaml'": [python, "-c", "import yaml"],
        "python -c 'import yaml, pydantic'": [python, "-c", "import yaml, pydantic"],
    }
    floor_ms = {}
    for label, cmd in floors.items():
        wall, rss, _ = measure(cmd, b"", args.runs, env)
        floor_ms[label] = wall * 1000
    base = floor_ms["python -c 'import yaml'"]
    for label, ms in floor_ms.items():
        print(f"{label:38s} {'':>7s} {ms:9.1f} {'':>9s} {'':>10s} {'':>9s} {ms / base:13.2f}")
    for key in args.cases.split(","):
        label, make = CASES[key]
        stdin = make().encode()
        wall, rss, out = measure([exe], stdin, args.runs, env)
        n = objects_in(out)
        ms = wall * 1000
        print(f"{label:38s} {n:7d} {ms:9.1f} {rss / 1024:8.0f}M {n / wall:10.0f} {ms / max(n, 1):9.3f} "
              f"{ms / base:13.2f}", flush=True)
    # Floors again, to show how much the machine's speed moved during the run.
    wall, _, _ = measure(floors["python -c 'import yaml'"], b"", args.runs, env)
    print(f"{'python -c import yaml (again, at end)':38s} {'':>7s} {wall * 1000:9.1f}")


if __name__ == "__main__":
    main()
