"""Benchmark the whole process the way kpt runs it: exec the console script, ResourceList on stdin.

Every case runs after a warm-up, `--runs` times (median, default 21), interleaved with the
floors in the same run, so numbers from different (or busy) machines compare as ratios to the
`python -c 'import yaml'` floor. Peak RSS is the child's own (wait4). Objects are the items of
the output ResourceList.

    python scripts/bench.py                        # all cases, this interpreter's console script
    python scripts/bench.py --exe /path/to/multigres-krmfn --cases seed,default-max
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
SCALED = ROOT / "bench" / "scaled.py"

# Inputs are made by bench/scaled.py in a child process, and outputs are read in chunks: the
# kernel starts a child's peak RSS at its parent's, so this process stays small.
CASES = {
    "seed": ("seed example, function mode", ["--seed"]),
    "shards-1": ("1 shard x 3 pools, 3 cells", ["--shards", "1"]),
    "shards-10": ("10 shards x 3 pools, 3 cells", ["--shards", "10"]),
    "shards-100": ("100 shards x 3 pools, 3 cells", ["--shards", "100"]),
    "shards-300": ("300 shards x 3 pools, 3 cells", ["--shards", "300"]),
    "default-max": ("8 tg x 128 shards x 1 pool (default max)", ["--tablegroups", "8", "--shards", "128",
                                                                "--pools", "1", "--cells", "1"]),
    "raised-8x1024": ("8 tg x 1,024 shards x 1 pool (raised)", ["--tablegroups", "8", "--shards", "1024",
                                                               "--pools", "1", "--cells", "1", "--raise-limits"]),
    "cells-10-dbs-10": ("10 cells x 10 databases", ["--cells", "10", "--databases", "10"]),
    "invalid": ("seed with 2 schema errors (exit 1)", ["--seed", "--invalid"]),
}


def run_once(cmd: list[str], stdin: bytes, env: dict[str, str],
             count: bool = False) -> tuple[float, float, int, int]:
    """Wall and CPU (user + system) seconds, the child's peak RSS in KiB (wait4), and the objects
    it wrote (count=True)."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout:
        fin.write(stdin)
        fin.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss, objects_in(fout) if count else 0


def objects_in(stream) -> int:
    """Items of a ResourceList written by the function: `- ` lines at column 0 before `results:`."""
    n = 0
    for line in stream:
        if line.startswith(b"- "):
            n += 1
        elif line == b"results:\n":
            break
    return n


def measure(cmd: list[str], stdin: bytes, runs: int, env: dict[str, str]) -> tuple[float, float, int, int]:
    """Median wall and CPU (s) of `runs` runs after a warm-up, the largest peak RSS (KiB), objects out."""
    _, _, _, objects = run_once(cmd, stdin, env, count=True)  # warm-up: page cache, .pyc files
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        wall, cpu, rss, _ = run_once(cmd, stdin, env)
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(rss)
    return statistics.median(walls), statistics.median(cpus), max(peaks), objects


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
    header = f"{'case':38s} {'objects':>7s} {'wall ms':>8s} {'cpu ms':>8s} {'peak RSS':>8s} {'objects/s':>9s} " \
             f"{'ms/object':>9s} {'x import yaml':>13s} {'ms/object above 1 shard':>23s}"
    print(header)
    print("-" * len(header))
    floors = {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import yaml'": [python, "-c", "import yaml"],
        "python -c 'import yaml, pydantic'": [python, "-c", "import yaml, pydantic"],
    }
    floor = {}
    for label, cmd in floors.items():
        wall, cpu, rss, _ = measure(cmd, b"", args.runs, env)
        floor[label] = (wall * 1000, cpu * 1000, rss)
    base = floor["python -c 'import yaml'"][0]
    for label, (ms, cpu_ms, rss) in floor.items():
        print(f"{label:38s} {'':>7s} {ms:8.1f} {cpu_ms:8.1f} {rss / 1024:7.0f}M {'':>9s} {'':>9s} {ms / base:13.2f}")
    start_up: tuple[float, int] | None = None
    for key in args.cases.split(","):
        label, gen_args = CASES[key]
        stdin = subprocess.run([python, str(SCALED), *gen_args], capture_output=True, check=True).stdout
        wall, cpu, rss, n = measure([exe], stdin, args.runs, env)
        ms = wall * 1000
        if key == "shards-1":
            start_up = (ms, n)
        # Time per object without the fixed cost of a start-up and a one-shard render of this shape.
        marginal = f"{(ms - start_up[0]) / (n - start_up[1]):23.3f}" \
            if start_up and key.startswith("shards-") and n > start_up[1] else ""
        print(f"{label:38s} {n:7d} {ms:8.1f} {cpu * 1000:8.1f} {rss / 1024:7.0f}M {n / wall:9.0f} "
              f"{ms / max(n, 1):9.3f} {ms / base:13.2f} {marginal}", flush=True)
    # Floors again, to show how much the machine's speed moved during the run.
    wall, cpu, _, _ = measure(floors["python -c 'import yaml'"], b"", args.runs, env)
    print(f"{'python -c import yaml (again, at end)':38s} {'':>7s} {wall * 1000:8.1f} {cpu * 1000:8.1f}")


if __name__ == "__main__":
    main()
