"""Entry points for hosts that do not speak the KRM function protocol (ResourceList on stdin).

- kubectl's built-in kustomize has no `--enable-exec`: it silently skips KRM exec functions, but
  it still runs *legacy exec plugins*. kustomize looks for an executable at
  `$XDG_CONFIG_HOME/kustomize/plugin/fn.multigres.com/v1alpha1/rendermultigres/RenderMultigres`,
  calls it with the path of a temporary copy of the transformer config as argv[1], pipes the
  resources in as a multi-document YAML stream and reads a stream back (any object it does not
  get back is removed). `kustomize_legacy` adapts that protocol to the function.
- Argo CD's Config Management Plugin runs a generate command in the application's folder and
  applies whatever YAML it prints; its user parameters arrive as `ARGOCD_ENV_<NAME>` variables.
  `argocd_generate` renders the folder and prints only objects to apply, and prints nothing at
  all when rendering fails, so Argo CD never syncs (and prunes against) a partial output.

Both print results on stderr (the hosts show stderr) and exit 1 when any result is an error.

    python -m krmfn.plugins kustomize-legacy CONFIG_FILE < stream
    python -m krmfn.plugins argocd-generate            # cwd = the application's folder
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping
from typing import Any

import yaml

from . import yamlio
from .api.names import CONFIG_API_VERSION, CONFIG_KIND
from .limits import MAX_INPUT_BYTES
from .resourcelist import (
    Item,
    ResourceList,
    read_documents,
    read_paths,
    write_stream,
)
from .results import Result, error, has_errors, result_lines

# Argo CD parameter (ARGOCD_ENV_<NAME>) → RenderMultigres spec key.
ARGOCD_PARAMETERS = {"EMIT": "emit", "INCLUDE_CRDS": "includeCrds", "CLUSTER_DOMAIN": "clusterDomain"}


def _report(results: list[Result]) -> None:
    for line in result_lines(results):
        print(line, file=sys.stderr)


def read_stream(text: str) -> ResourceList:
    """A multi-document YAML stream (what kustomize pipes to exec plugins) as items with their text."""
    rl = ResourceList()
    read_documents(rl, text.removeprefix(yamlio.BOM), None)
    return rl


def kustomize_legacy(config_text: str, stream: str) -> tuple[str, list[Result]]:
    """The legacy exec transformer: config text + resource stream in, resource stream out."""
    from .function import parse_options, run

    rl = read_stream(stream)
    try:
        config = yamlio.load(config_text.removeprefix(yamlio.BOM))
    except yaml.YAMLError as exc:
        return "", [error(f"the transformer config is not valid YAML: {exc}.", "<input>")]
    if config is not None and not isinstance(config, dict):
        return "", [error("the transformer config is not an object; give a RenderMultigres.", "<input>")]
    options, problems = parse_options(config)
    out = run(rl, options)
    results = problems + out.results
    return write_stream([i for i in out.items if not i.is_local_config()]), results


def kustomize_legacy_main(argv: list[str] | None = None) -> None:
    """Console entry point of the legacy kustomize exec plugin (argv[1] = the config file)."""
    gc.disable()  # as in cli.main: a short run, no cycles worth the collector's scans
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: kustomize legacy exec plugin: CONFIG_FILE as the first argument, resources on stdin",
              file=sys.stderr)
        raise SystemExit(2)
    try:
        with open(args[0], "rb") as fh:
            config_text = yamlio.decode(fh.read(MAX_INPUT_BYTES + 1), args[0])
        stdin = yamlio.decode(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin")
    except (OSError, ValueError) as exc:
        reason = f"{args[0]}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
        _report([error(f"cannot read the plugin input: {reason}.", "<input>")])
        raise SystemExit(1) from None
    try:
        text, results = kustomize_legacy(config_text, stdin)
    except Exception as exc:  # a bug of ours: one line on stderr, never a traceback
        from .cli import internal_error

        print(f"ERROR: {internal_error(exc)}.", file=sys.stderr)
        raise SystemExit(1) from None
    _report(results)
    if has_errors(results):
        raise SystemExit(1)
    sys.stdout.write(text)


def argocd_options(folder_config: dict[str, Any] | None, env: Mapping[str, str]) -> dict[str, Any]:
    """A RenderMultigres: the folder's own (if any), with ARGOCD_ENV_* parameters overriding it."""
    spec: dict[str, Any] = {}
    if folder_config and folder_config.get("kind") == CONFIG_KIND and isinstance(folder_config.get("spec"), dict):
        spec.update(folder_config["spec"])
    elif folder_config and folder_config.get("kind") == "ConfigMap" and isinstance(folder_config.get("data"), dict):
        spec.update(folder_config["data"])
    for name, key in ARGOCD_PARAMETERS.items():
        value = env.get(f"ARGOCD_ENV_{name}")
        if value is not None and value != "":
            spec[key] = value
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(spec.get("includeCrds"), str) and spec["includeCrds"].strip().lower() in words:
        spec["includeCrds"] = words[spec["includeCrds"].strip().lower()]  # anything else: an error result
    return {"apiVersion": CONFIG_API_VERSION, "kind": CONFIG_KIND, "metadata": {"name": "argocd"}, "spec": spec}


def _is_function_config(item: Item) -> bool:
    return item.kind == CONFIG_KIND or (item.kind == "ConfigMap" and "config.kubernetes.io/function"
                                        in item.annotations)


def argocd_generate(folder: str, env: Mapping[str, str]) -> tuple[str, list[Result]]:
    """Render a folder into the plain stream Argo CD applies (no Kptfile, configs, bookkeeping)."""
    from .function import parse_options, run

    rl = read_paths([folder])
    configs = [i for i in rl.items if _is_function_config(i)]
    rl.items = [i for i in rl.items if not _is_function_config(i)]
    options, problems = parse_options(argocd_options(configs[0].obj if configs else None, env))
    out = run(rl, options)
    results = problems + out.results
    return write_stream([i for i in out.items if not i.is_local_config()]), results


def argocd_generate_main() -> None:
    """Console entry point of the Argo CD generate command: all of the output, or none of it."""
    gc.disable()  # as in cli.main: a short run, no cycles worth the collector's scans
    try:
        text, results = argocd_generate(".", os.environ)
    except Exception as exc:  # never a traceback and never partial output in Argo CD's UI
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(f"ERROR: multigres-krmfn failed ({type(exc).__name__}): {detail}", file=sys.stderr)
        raise SystemExit(1) from None
    _report(results)
    if has_errors(results):
        raise SystemExit(1)
    sys.stdout.write(text)
    sys.stdout.flush()


def main() -> None:
    commands = {"kustomize-legacy": lambda: kustomize_legacy_main(sys.argv[2:]),
                "argocd-generate": argocd_generate_main}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: python -m krmfn.plugins {{{'|'.join(commands)}}} [ARGS]", file=sys.stderr)
        raise SystemExit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
