"""Compare YAML emitters on the generated objects of a scaled cluster (in-process, best of 3).

    python bench/emitters.py [--shards 1000]        # rapidyaml is timed when installed

Byte-identical output to today's goldens is a requirement, so each alternative is also checked
against `yamlio.dump`. The previous emitter is read from git (commit PREVIOUS).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
PREVIOUS = "9298575"  # the emitter before issue 12


def objects(shards: int) -> list[dict]:
    import scaled

    from krmfn.function import run
    from krmfn.resourcelist import parse_resource_list

    out = run(parse_resource_list(scaled.resource_list(shards, 3, 3, 1)))
    return [i.obj for i in out.items if i.generated]


def previous_emitter():
    source = subprocess.run(["git", "show", f"{PREVIOUS}:krmfn/yamlio.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    module = types.ModuleType("yamlio_previous")
    exec(compile(source, "yamlio_previous.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module.dump


def memo_emitter():
    """Repeated sub-trees emitted once: the text of each top-level value, keyed by its content."""
    from krmfn import yamlio

    memo: dict[tuple[str, str], str] = {}

    def dump(obj: dict) -> str:
        out: list[str] = []
        for key, value in obj.items():
            if type(value) is dict and value:
                out.append(f"{key}:\n")
                mkey = (key, json.dumps(value))
                text = memo.get(mkey)
                if text is None:
                    lines: list[str] = []
                    yamlio._emit_map(value, "  ", "  ", lines)
                    text = memo[mkey] = "".join(lines)
                out.append(text)
            else:
                yamlio._emit_map({key: value}, "", "", out)
        return "".join(out)

    return dump, memo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1000)
    args = parser.parse_args()
    gc.disable()  # as in function mode
    import yaml

    from krmfn import yamlio

    objs = objects(args.shards)
    reference = [yamlio.dump(o) for o in objs]
    memo_dump, memo = memo_emitter()
    candidates = {
        "yamlio.dump (this tree)": yamlio.dump,
        f"previous emitter ({PREVIOUS})": previous_emitter(),
        "sub-trees emitted once (content-keyed memo)": memo_dump,
        "PyYAML CSafeDumper (libyaml)": lambda o: yaml.dump(o, Dumper=yaml.CSafeDumper, sort_keys=False,
                                                             default_flow_style=False),
    }
    try:
        import ryml

        def ryml_dump(o: dict) -> str:
            return ryml.emit_yaml(ryml.parse_in_arena(json.dumps(o)))

        candidates["rapidyaml: JSON in, emit_yaml (flow style kept)"] = ryml_dump
    except ImportError:
        print("# rapidyaml not installed: pip install rapidyaml to time it")
    size = sum(len(t) for t in reference)
    print(f"# {len(objs)} objects, {size / 1e6:.1f} MB of YAML; best of 3, seconds; Python {sys.version.split()[0]}")
    for name, dump in candidates.items():
        best = float("inf")
        for _ in range(3):
            memo.clear()
            start = time.perf_counter()
            texts = [dump(o) for o in objs]
            best = min(best, time.perf_counter() - start)
        same = texts == reference
        print(f"{name:50s} {best:7.3f} s  {best / len(objs) * 1e6:6.1f} us/object  "
              f"{'byte-identical' if same else 'DIFFERENT output'}")


if __name__ == "__main__":
    main()
