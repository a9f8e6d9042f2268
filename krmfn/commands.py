"""The human-facing subcommands (click)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .limits import MAX_INPUT_BYTES
from .resourcelist import INDEX, PATH
from .results import Result, has_errors, result_lines

if TYPE_CHECKING:
    from .function import Output


def _print_results(results: list[Result]) -> None:
    for line in result_lines(results):
        click.echo(line, err=True)


def _read_config(config: str) -> tuple[dict[str, Any] | None, list[Result]]:
    """The --config file: one RenderMultigres or ConfigMap; its problems as results, never a traceback."""
    from .resourcelist import ResourceList, read_documents
    from .yamlio import decode

    try:
        with open(config, "rb") as fh:
            text = decode(fh.read(MAX_INPUT_BYTES + 1), config)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        return None, [Result("error", f"{reason}.", "<input>", file=config)]
    rl = ResourceList()
    read_documents(rl, text, config)
    if rl.problems:
        return None, rl.problems
    if len(rl.items) != 1:
        return None, [Result("error", f"--config holds {len(rl.items)} objects; give exactly one RenderMultigres "
                             "or ConfigMap.", "<input>", file=config)]
    obj = rl.items[0].obj
    ann = obj["metadata"].get("annotations") or {}
    for key in (PATH, INDEX):
        ann.pop(key, None)
    if not ann:
        obj["metadata"].pop("annotations", None)
    return obj, []


def _render_paths(paths: tuple[str, ...], config: str | None, previous: str | None = None) -> Output:
    from .function import parse_options, run
    from .resourcelist import read_paths

    rl = read_paths(list(paths))
    earlier = None
    if previous:
        before = read_paths([previous])
        rl.problems.extend(before.problems)
        earlier = before.items
    configs = [i for i in rl.items if i.kind == "RenderMultigres"]
    rl.items = [i for i in rl.items if i.kind != "RenderMultigres"]
    fc = None
    if config:
        fc, problems = _read_config(config)
        rl.problems.extend(problems)
    elif configs:
        fc = configs[0].obj
    options, problems = parse_options(fc)
    if config and fc is not None:
        problems = [p.replace(file=config) for p in problems]
    rl.problems.extend(problems)
    return run(rl, options, earlier)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="multigres-krmfn")
def cli() -> None:
    """Render MultigresCluster resources into Multigres child resources and workloads.

    Without a subcommand (no arguments at all) it runs as a KRM function: a ResourceList on
    stdin, a ResourceList on stdout.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--config", type=click.Path(exists=True, dir_okay=False),
              help="A RenderMultigres or ConfigMap functionConfig file.")
@click.option("--previous", type=click.Path(exists=True),
              help="The previous render (file or folder): report what Kubernetes would refuse, what stays "
                   "behind and what changes.")
def render(paths: tuple[str, ...], config: str | None, previous: str | None) -> None:
    """Render YAML files or folders to a plain multi-document YAML stream on stdout."""
    from .resourcelist import write_stream

    out = _render_paths(paths, config, previous)
    items = [i for i in out.items if not i.is_local_config()]
    sys.stdout.write(write_stream(items))
    _print_results(out.results)
    sys.exit(1 if has_errors(out.results) else 0)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def tree(paths: tuple[str, ...]) -> None:
    """Print the resolved hierarchy with the counts known at render time."""
    from .tree import format_tree

    out = _render_paths(paths, None)
    click.echo(format_tree(out.resolved, out.items), nl=False)
    _print_results(out.results)
    sys.exit(1 if has_errors(out.results) else 0)


@cli.command()
def crds() -> None:
    """Print the CustomResourceDefinitions of all six kinds (generated from the models)."""
    from .crds import crds_yaml

    sys.stdout.write(crds_yaml())
