"""Entry points: function mode (no arguments), `render`, `tree`, `crds`.

Function mode is what kpt and kustomize exec on every render, so it avoids importing click:
the subcommands are for people, the bare call is for pipelines. Both are `adapter.py` modes.
"""

from __future__ import annotations

import gc
import os
import sys


def function_mode(stdin: str) -> tuple[str, int, list[str]]:
    """ResourceList in, ResourceList out; exit 1 when any result is an error (adapter.FUNCTION).

    Error results are also returned as lines for stderr: kustomize drops a failed function's
    ResourceList and shows only its stderr, which would otherwise hide the reason.
    """
    from .adapter import FUNCTION, answer, result_text

    ans = answer(FUNCTION, stdin=stdin)
    return ans.text, ans.code, result_text(FUNCTION, ans.results)


def unreadable_input(reason: str) -> tuple[str, int, list[str]]:
    """The ResourceList answer to input that could not be read at all (one error result)."""
    from .adapter import FUNCTION, failed, result_text

    ans = failed(FUNCTION, reason)
    return ans.text, ans.code, result_text(FUNCTION, ans.results)


def main() -> None:
    # A run is short and builds millions of small dicts and lists at scale; the cyclic garbage
    # collector's repeated scans of them were a third of a 1,000-shard render, and a render makes
    # no cycles worth collecting before it exits.
    gc.disable()
    if len(sys.argv) == 1:
        from .adapter import FUNCTION, serve

        raise SystemExit(serve(FUNCTION))
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
        from .adapter import RENDER, failed, internal_error, print_answer

        raise SystemExit(print_answer(RENDER, failed(RENDER, internal_error(exc)))) from None


if __name__ == "__main__":
    main()


def console() -> None:
    """The console script (`multigres-krmfn`): `main`, and in function mode an exit without the
    interpreter's teardown.

    Freeing every module and object one by one at exit was a twentieth of a small render's
    instructions, paid on every kpt and Argo CD render (docs/performance.md, round 4). The answer
    is written and flushed first; if flushing fails the normal exit runs, as before. `main` keeps
    raising SystemExit for in-process callers (tests).
    """
    try:
        main()
    except SystemExit as exc:
        if len(sys.argv) != 1 or type(exc.code) is not int:
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            raise exc from None
        os._exit(exc.code)
