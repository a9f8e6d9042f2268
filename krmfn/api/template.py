"""MultigresDeploymentTemplate: reusable sections a cluster refers to by name."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import ComponentSpec, ContainerSpec, FreeForm, Model, Placement, VolumeClaimTemplate
from .day2 import PostgresConfig
from .monitoring import PoolMonitoring


class PoolSpec(Model):
    """A shard pool without its placement (type and cell come from the cluster)."""

    replicas: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    data_volume_claim_template: VolumeClaimTemplate | None = None
    postgres: ContainerSpec | None = None
    multipooler: ContainerSpec | None = None
    postgres_config: PostgresConfig | None = None
    placement: Placement | None = None
    monitoring: PoolMonitoring | None = None


class TemplateSpec(Model):
    shard_pool: PoolSpec | None = None
    multiorch: ComponentSpec | None = None
    multigateway: ComponentSpec | None = None
    multiadmin: ComponentSpec | None = None



class MultigresDeploymentTemplate(Model):
    api_version: Literal["multigres.com/v1alpha1"]
    kind: Literal["MultigresDeploymentTemplate"]
    metadata: FreeForm
    spec: TemplateSpec
