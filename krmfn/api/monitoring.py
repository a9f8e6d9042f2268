"""`spec.monitoring` of a MultigresCluster, and the per-pool override of the PostgreSQL exporter.

Off unless `enabled: true`, so a cluster that does not ask renders exactly what it rendered
before. What each field renders is in docs/monitoring.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import Model, ResourceRequirements

# Label values as Kubernetes accepts them (keys: checks.check_monitoring).
LabelValue = Annotated[str, Field(max_length=63, pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
OtlpProtocol = Literal["http/protobuf", "grpc"]


class OTLPSpec(Model):
    """Where every Multigres binary pushes its OpenTelemetry metrics (the OTel SDK's OTLP exporter).

    `endpoint` is the full metrics URL, e.g. Prometheus' OTLP receiver
    `http://prometheus.monitoring.svc:9090/api/v1/otlp/v1/metrics`. Traces stay off unless
    `tracesEndpoint` is set.
    """

    endpoint: Annotated[str, Field(min_length=1)]
    protocol: OtlpProtocol | None = None
    export_interval_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    traces_endpoint: Annotated[str, Field(min_length=1)] | None = None


class ExporterSpec(Model):
    """The postgres_exporter sidecar of every pooler pod (on unless `enabled: false`)."""

    enabled: bool | None = None
    image: Annotated[str, Field(min_length=1)] | None = None
    resources: ResourceRequirements | None = None


class PoolExporterSpec(Model):
    """A pool's exporter: on or off, and its size (the image is the cluster's, like every image)."""

    enabled: bool | None = None
    resources: ResourceRequirements | None = None


class PoolMonitoring(Model):
    """What a pool (or a template's shard pool) may change about monitoring."""

    exporter: PoolExporterSpec | None = None


class MonitoringSpec(Model):
    """Metrics of every component, and the objects Prometheus and Grafana pick up.

    `podMonitors`, `prometheusRules` and `dashboards` render prometheus-operator and Grafana
    sidecar objects; they are off by default because not every cluster has those CRDs or that
    sidecar. Without PodMonitors the scraped pods carry `prometheus.io/*` annotations.
    `labels` go on those objects (a Prometheus' podMonitorSelector, ruleSelector, or the
    Grafana sidecar's label usually select on them).
    """

    enabled: bool | None = None
    otlp: OTLPSpec | None = None
    exporter: ExporterSpec | None = None
    pod_monitors: bool | None = None
    prometheus_rules: bool | None = None
    dashboards: bool | None = None
    labels: dict[str, LabelValue] | None = None
