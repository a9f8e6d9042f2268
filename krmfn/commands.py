"""The human-facing subcommands (click). `render` and `tree` are modes of `adapter.py`."""

from __future__ import annotations

import sys

import click


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
    from .adapter import RENDER, serve

    sys.exit(serve(RENDER, paths=paths, config=config, previous=previous))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def tree(paths: tuple[str, ...]) -> None:
    """Print the resolved hierarchy with the counts known at render time."""
    from .adapter import TREE_REPORT, serve

    sys.exit(serve(TREE_REPORT, paths=paths))


@cli.command()
def crds() -> None:
    """Print the CustomResourceDefinitions of all six kinds (generated from the models)."""
    from .crds import crds_yaml

    sys.stdout.write(crds_yaml())
