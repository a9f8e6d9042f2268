"""The Grafana dashboard of a cluster, as data: a panel per question an operator asks first.

Every panel's query uses the same metric names and label conventions as the alerts (alerts.py);
docs/monitoring.md lists each panel and what to look at.
"""

from __future__ import annotations

import json

from .alerts import fill

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

# (title, unit, query); `{S}`/`{O}` as in alerts.py.
PANELS: list[tuple[str, str, str]] = [
    ("PostgreSQL up", "short", "pg_up{S}"),
    ("Primaries per shard", "short",
     "count by (multigres_com_database, multigres_com_table_group, multigres_com_shard) "
     "(pg_replication_is_replica{S} == 0)"),
    ("Replication lag (standbys)", "s", "pg_replication_lag_seconds{S} and on (pod) pg_replication_is_replica{S} == 1"),
    ("WAL bytes not yet replayed, per standby", "bytes", "pg_stat_replication_pg_wal_lsn_diff{S}"),
    ("PostgreSQL connections", "short", "sum by (pod) (pg_stat_activity_count{S})"),
    ("Gateway queries per second", "reqps",
     "sum by (multigres_cell) (rate(mg_gateway_query_duration_seconds_count{O}[5m]))"),
    ("Gateway query latency p99", "s",
     "histogram_quantile(0.99, sum by (le, multigres_cell) (rate(mg_gateway_query_duration_seconds_bucket{O}[5m])))"),
    ("Gateway client connections", "short", "sum by (multigres_cell) (mg_gateway_client_connections{O})"),
    ("Pooler server connections", "short", "sum by (instance, state) (mg_pooler_server_connections{O})"),
    # The gauge has a series only while a problem exists; `or ... * 0` draws 0 when there is none
    # (the pooler store gauge always exists for a running multiorch), not "No data".
    ("multiorch detected problems", "short", "sum by (instance) (multiorch_recovery_detected_problems{O})\n"
     "or sum by (instance) (multiorch_recovery_pooler_store_size{O}) * 0"),
    ("Age of the last backup", "s", "pgbackrest_backup_last_success_age_seconds{O}"),
    ("etcd has a leader", "short", "etcd_server_has_leader{S}"),
    ("Memory of the Multigres processes", "bytes", "process_memory_usage_bytes{O}"),
]


def dashboard(cluster: str, namespace: str | None) -> dict[str, Any]:
    """A Grafana dashboard model (schemaVersion 39) on a `datasource` variable of type prometheus."""
    panels = []
    for i, (title, unit, query) in enumerate(PANELS):
        panels.append({
            "id": i + 1, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": fill(query, cluster, namespace),
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}}],
        })
    return {"title": f"Multigres {namespace + '/' if namespace else ''}{cluster}", "uid": f"multigres-{cluster}"[:40],
            "schemaVersion": 39, "editable": True, "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
            "panels": panels}


def dashboard_json(cluster: str, namespace: str | None) -> str:
    return json.dumps(dashboard(cluster, namespace), indent=1, sort_keys=True) + "\n"
