"""Entry points for hosts that do not speak the KRM function protocol (ResourceList on stdin).

- kubectl's built-in kustomize has no `--enable-exec`: it silently skips KRM exec functions, but
  it still runs *legacy exec plugins*. kustomize looks for an executable at
  `$XDG_CONFIG_HOME/kustomize/plugin/fn.multigres.com/v1alpha1/rendermultigres/RenderMultigres`,
  calls it with the path of a temporary copy of the transformer config as argv[1] (and the same
  text in `KUSTOMIZE_PLUGIN_CONFIG_STRING`, read when argv[1] is absent), pipes the resources in
  as a multi-document YAML stream and reads a stream back (any object it does not get back is
  removed). That is `adapter.KUSTOMIZE`.
- Argo CD's Config Management Plugin runs a generate command in the application's folder and
  applies whatever YAML it prints; its user parameters arrive as `ARGOCD_ENV_<NAME>` variables.
  `adapter.ARGOCD` renders the folder as `render` does and prints only objects to apply, and
  prints nothing at all when rendering fails, so Argo CD never syncs (and prunes against) a
  partial output.

Both print results on stderr (the hosts show stderr) and exit 1 when any result is an error.

    python -m krmfn.plugins kustomize-legacy CONFIG_FILE < stream
    python -m krmfn.plugins argocd-generate            # cwd = the application's folder
"""

from __future__ import annotations

import gc
import os
import sys

from .adapter import ARGOCD, KUSTOMIZE, answer, serve

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .results import Result


def kustomize_legacy(config_text: str, stream: str) -> tuple[str, list[Result]]:
    """The legacy exec transformer on text: config + resource stream in, stream and results out
    (the stream in full; the console script withholds it when any result is an error)."""
    ans = answer(KUSTOMIZE, stdin=stream, config_text=config_text)
    return ans.text, ans.results


# What kustomize's exec plugin loader sets besides argv[1] (api/internal/plugins/execplugin).
CONFIG_STRING = "KUSTOMIZE_PLUGIN_CONFIG_STRING"


def kustomize_legacy_main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    """Console entry point of the legacy kustomize exec plugin: the config file in argv[1], else
    the config text in KUSTOMIZE_PLUGIN_CONFIG_STRING."""
    gc.disable()  # as in cli.main: a short run, no cycles worth the collector's scans
    args = sys.argv[1:] if argv is None else argv
    text = (os.environ if env is None else env).get(CONFIG_STRING)
    if args:
        raise SystemExit(serve(KUSTOMIZE, config=args[0]))
    if text is not None:
        raise SystemExit(serve(KUSTOMIZE, config_text=text))
    print(f"usage: kustomize legacy exec plugin: CONFIG_FILE as the first argument (or the config in {CONFIG_STRING}), "
          "resources on stdin", file=sys.stderr)
    raise SystemExit(2)


def argocd_generate(folder: str, env: Mapping[str, str]) -> tuple[str, list[Result]]:
    """The Argo CD generate step on a folder: the stream `render` prints for it, and the results
    (the stream in full; the console script withholds it when any result is an error)."""
    ans = answer(ARGOCD, paths=[folder], env=env)
    return ans.text, ans.results


def argocd_generate_main() -> None:
    """Console entry point of the Argo CD generate command: all of the output, or none of it."""
    gc.disable()  # as in cli.main: a short run, no cycles worth the collector's scans
    raise SystemExit(serve(ARGOCD, paths=["."], env=os.environ))


def main() -> None:
    commands = {"kustomize-legacy": lambda: kustomize_legacy_main(sys.argv[2:]),
                "argocd-generate": argocd_generate_main}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: python -m krmfn.plugins {{{'|'.join(commands)}}} [ARGS]", file=sys.stderr)
        raise SystemExit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
