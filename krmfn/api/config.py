"""RenderMultigres: the typed functionConfig (a ConfigMap with the same keys also works)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import FreeForm, Model
from .names import CONFIG_API_VERSION, CONFIG_KIND

__all__ = ["CONFIG_API_VERSION", "CONFIG_KIND", "RenderMultigres", "RenderOptions"]


class RenderOptions(Model):
    emit: Literal["all", "children", "workloads"] = "all"
    include_crds: bool = False
    cluster_domain: Annotated[str, Field(min_length=1)] = "cluster.local"
    # The in-cluster status reporter (a Deployment of this function's image, its ServiceAccount and
    # Role); statusReporterImage overrides the image (default: the function's own, same version).
    status_reporter: bool = False
    status_reporter_image: Annotated[str, Field(min_length=1)] | None = None
    # A ValidatingAdmissionPolicy that refuses spec edits of the child kinds, except by the users
    # named in specWriters (comma-separated; default: Argo CD's application controller).
    read_only_children: bool = False
    spec_writers: str | None = None
    # Render limits raised (or lowered) by name, each up to its ceiling: krmfn/limits.py RAISABLE,
    # checked by checks.check_options (docs/limits.md).
    limits: dict[str, int] | None = None


class RenderMultigres(Model):
    api_version: Literal["fn.multigres.com/v1alpha1"]
    kind: Literal["RenderMultigres"]
    metadata: FreeForm
    spec: RenderOptions | None = None
