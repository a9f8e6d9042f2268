"""A cluster's `spec.monitoring` with the defaults applied: what the builders read (through the
ClusterContext), so no builder knows a default or the user's spelling."""

from __future__ import annotations

from .. import defaults
from ..merge import fill_requests

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import PoolMonitoring
    from ..api.monitoring import MonitoringSpec


class MonitoringFacts:
    """Resolved monitoring of one cluster; absent (None) when monitoring is off."""

    __slots__ = ("otlp_endpoint", "otlp_protocol", "export_interval_seconds", "traces_endpoint",
                 "exporter", "exporter_image", "exporter_resources", "pod_monitors", "prometheus_rules",
                 "dashboards", "labels")

    def __init__(self, spec: MonitoringSpec) -> None:
        otlp, exporter = spec.otlp, spec.exporter
        self.otlp_endpoint: str | None = otlp.endpoint if otlp else None
        self.otlp_protocol: str = (otlp.protocol if otlp else None) or defaults.OTLP_PROTOCOL
        self.export_interval_seconds: int = ((otlp.export_interval_seconds if otlp else None)
                                             or defaults.OTLP_EXPORT_INTERVAL_SECONDS)
        self.traces_endpoint: str | None = otlp.traces_endpoint if otlp else None
        self.exporter: bool = exporter is None or exporter.enabled is not False
        self.exporter_image: str = (exporter.image if exporter else None) or defaults.EXPORTER_IMAGE
        self.exporter_resources: dict[str, Any] = _resources(exporter.resources.dump()
                                                             if exporter and exporter.resources else None)
        self.pod_monitors: bool = spec.pod_monitors is True
        self.prometheus_rules: bool = spec.prometheus_rules is True
        self.dashboards: bool = spec.dashboards is True
        self.labels: dict[str, str] = dict(spec.labels or {})

    def pool_exporter(self, pool: PoolMonitoring | None) -> dict[str, Any] | None:
        """The exporter's resources in one pool, or None when the pool (or the cluster) has none."""
        own = pool.exporter if pool is not None else None
        enabled = self.exporter if own is None or own.enabled is None else own.enabled
        if not enabled:
            return None
        if own is not None and own.resources is not None:
            return _resources(own.resources)
        return self.exporter_resources


def _resources(given: dict[str, Any] | None) -> dict[str, Any]:
    """The user's requirements, or the defaults; requests are filled like every other container's."""
    if given is None:
        return {k: dict(v) for k, v in defaults.EXPORTER_RESOURCES.items()}
    return fill_requests(given, defaults.EXPORTER_RESOURCES["requests"])


def resolve_monitoring(spec: MonitoringSpec | None) -> MonitoringFacts | None:
    """The facts when monitoring is enabled, else None (nothing about it is rendered)."""
    if spec is None or spec.enabled is not True:
        return None
    return MonitoringFacts(spec)
