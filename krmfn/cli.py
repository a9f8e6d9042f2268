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


def read_stdin() -> tuple[str | None, str | None]:
    """stdin as text, at most MAX_INPUT_BYTES of it; (None, why) when it cannot be read as UTF-8."""
    from . import yamlio
    from .limits import MAX_INPUT_BYTES

    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    try:
        return yamlio.decode(data, "stdin"), None
    except ValueError as exc:
        return None, str(exc)


def internal_error(exc: BaseException) -> str:
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return (f"internal error in multigres-krmfn ({type(exc).__name__}: {detail}); this is a bug, please report "
            "it with the input that caused it")


def unreadable_input(reason: str) -> tuple[str, int, list[str]]:
    """The ResourceList answer to input that could not be read at all (one error result)."""
    from .resourcelist import write_resource_list
    from .results import error

    result = error(f"{reason}.", "<input>")
    return write_resource_list([], [result]), 1, [result.describe()]


def main() -> None:
    # A run is short and builds millions of small dicts and lists at scale; the cyclic garbage
    # collector's repeated scans of them were a third of a 1,000-shard render, and a render makes
    # no cycles worth collecting before it exits.
    gc.disable()
    if len(sys.argv) == 1:
        stdin, problem = read_stdin()
        try:
            text, code, errors = unreadable_input(problem or "") if stdin is None else function_mode(stdin)
        except Exception as exc:  # a bug of ours: still a ResourceList with an error, never a traceback
            text, code, errors = unreadable_input(internal_error(exc))
        sys.stdout.write(text)
        sys.stdout.flush()
        for line in errors:
            sys.stderr.write(line + "\n")
        raise SystemExit(code)
    from .commands import cli

    try:
        cli(standalone_mode=False)
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(1) from None
        sys.stderr.write(f"ERROR: {internal_error(exc)}.\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
