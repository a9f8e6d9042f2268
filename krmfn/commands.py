"""The human-facing subcommands (click)."""

from __future__ import annotations

import sys

import click

from .results import Result, has_errors


def _print_results(results: list[Result]) -> None:
    for r in results:
        where = f" [{r.file}]" if r.file else ""
        click.echo(r.describe() + where, err=True)


def _render_paths(paths: tuple[str, ...], config: str | None):
    from . import yamlio
    from .function import parse_options, run
    from .resourcelist import read_paths

    rl = read_paths(list(paths))
    configs = [i for i in rl.items if i.kind == "RenderMultigres"]
    rl.items = [i for i in rl.items if i.kind != "RenderMultigres"]
    fc = None
    if config:
        with open(config, encoding="utf-8") as fh:
            fc = yamlio.load(fh.read())
    elif configs:
        fc = configs[0].obj
    options, problems = parse_options(fc)
    rl.problems.extend(problems)
    return run(rl, options)


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
def render(paths: tuple[str, ...], config: str | None) -> None:
    """Render YAML files or folders to a plain multi-document YAML stream on stdout."""
    from .resourcelist import write_stream

    out = _render_paths(paths, config)
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
