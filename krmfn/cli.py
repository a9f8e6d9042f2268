"""Entry points: function mode (no arguments), `render`, `tree`, `crds`.

Function mode is what kpt and kustomize exec on every render, so it avoids importing click:
the subcommands are for people, the bare call is for pipelines.
"""

from __future__ import annotations

import sys


def function_mode(stdin: str) -> tuple[str, int]:
    """ResourceList in, ResourceList out; exit 1 when any result is an error."""
    from .function import run
    from .resourcelist import parse_resource_list, write_resource_list
    from .results import has_errors

    rl = parse_resource_list(stdin)
    out = run(rl)
    return write_resource_list(out.items, out.results, rl.dash_column), 1 if has_errors(out.results) else 0


def main() -> None:
    if len(sys.argv) == 1:
        text, code = function_mode(sys.stdin.read())
        sys.stdout.write(text)
        sys.stdout.flush()
        raise SystemExit(code)
    from .commands import cli

    cli()


if __name__ == "__main__":
    main()
