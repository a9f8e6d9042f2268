"""Entry points: function mode (no arguments), `render`, `tree`, `crds`.

Function mode is what kpt and kustomize exec on every render, so it avoids importing click:
the subcommands are for people, the bare call is for pipelines.
"""

from __future__ import annotations

import gc
import sys


def function_mode(stdin: str) -> tuple[str, int, list[str]]:
    """ResourceList in, ResourceList out; exit 1 when any result is an error.

    Error results are also returned as lines for stderr: kustomize drops a failed function's
    ResourceList and shows only its stderr, which would otherwise hide the reason.
    """
    from .function import run
    from .resourcelist import parse_resource_list, write_resource_list

    rl = parse_resource_list(stdin)
    out = run(rl)
    errors = [r.describe() for r in out.results if r.severity == "error"]
    return write_resource_list(out.items, out.results, rl.dash_column), 1 if errors else 0, errors


def main() -> None:
    # A run is short and builds millions of small dicts and lists at scale; the cyclic garbage
    # collector's repeated scans of them were a third of a 1,000-shard render, and a render makes
    # no cycles worth collecting before it exits.
    gc.disable()
    if len(sys.argv) == 1:
        text, code, errors = function_mode(sys.stdin.read())
        sys.stdout.write(text)
        sys.stdout.flush()
        for line in errors:
            sys.stderr.write(line + "\n")
        raise SystemExit(code)
    from .commands import cli

    cli()


if __name__ == "__main__":
    main()
