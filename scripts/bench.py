"""Benchmark the whole process the way kpt runs it: exec the console script, ResourceList on stdin.

Prints medians over several runs next to the interpreter floors, so numbers from different
machines compare as ratios. Usage: python scripts/bench.py [--runs N] [example ...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from krmfn.resourcelist import read_paths, write_resource_list  # noqa: E402


def timed(cmd: list[str], stdin: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("examples", nargs="*", default=["seed", "minimal"])
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "multigres-krmfn")
    floors = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import yaml'": [sys.executable, "-c", "import yaml"],
        "python -c 'import yaml, pydantic'": [sys.executable, "-c", "import yaml, pydantic"],
    }
    for label, cmd in floors.items():
        print(f"{label:45s} {timed(cmd, '', args.runs):7.1f} ms")
    for example in args.examples:
        rl = read_paths([str(ROOT / "examples" / example)])
        stdin = write_resource_list([i for i in rl.items if not i.is_local_config()], [])
        ms = timed([script], stdin, args.runs)
        print(f"{'function mode, examples/' + example:45s} {ms:7.1f} ms")


if __name__ == "__main__":
    main()
