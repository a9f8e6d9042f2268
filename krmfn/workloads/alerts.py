"""The alerts of a cluster (its PrometheusRule), as data: docs/monitoring.md has a runbook section
per alert, named by the alert, and tests/test_monitoring_rules.py runs `promtool test rules` on them.

Metric names are the exporters' own: postgres_exporter's collectors (`pg_*`), etcd's (`etcd_*`), and
the Multigres OpenTelemetry instruments as Prometheus' OTLP receiver names them (dots to
underscores, a unit suffix, `_total` on counters: upstream's go/observability/metriccatalog lists
each one). Series scraped from pods carry the pod's labels as `multigres_com_*` (the PodMonitors'
podTargetLabels, or the usual `labelmap` of `__meta_kubernetes_pod_label_*`); pushed series carry
the resource attributes the render sets, promoted to labels (`multigres_cluster`, ...).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

# `{S}` selects one cluster's scraped series, `{O}` its pushed (OTLP) ones.
SHARD = "namespace, multigres_com_cluster, multigres_com_database, multigres_com_table_group, multigres_com_shard"
POD = f"{SHARD}, pod"

RULES: list[dict[str, Any]] = [
    {"alert": "MultigresShardNoPrimary", "for": "1m", "severity": "critical",
     "expr": f"count by ({SHARD}) (pg_up{{S}} == 1)\nunless\n"
             f"count by ({SHARD}) (pg_replication_is_replica{{S}} == 0)",
     "summary": "Shard {{ $labels.multigres_com_database }}/{{ $labels.multigres_com_table_group }}/"
                "{{ $labels.multigres_com_shard }} has running PostgreSQL instances but none is a primary."},
    {"alert": "MultigresPostgresDown", "for": "2m", "severity": "critical",
     "expr": "pg_up{S} == 0",
     "summary": "postgres_exporter in {{ $labels.pod }} cannot reach its PostgreSQL."},
    {"alert": "MultigresReplicationLag", "for": "2m", "severity": "warning",
     "expr": f"max by ({POD}) (pg_replication_lag_seconds{{S}})\n> 30\n"
             f"and on ({POD}) max by ({POD}) (pg_replication_is_replica{{S}}) == 1",
     "summary": "Standby {{ $labels.pod }} replays WAL {{ $value | humanizeDuration }} behind its primary."},
    {"alert": "MultigresStandbyNotStreaming", "for": "2m", "severity": "warning",
     "expr": f"count by ({SHARD}) (pg_replication_is_replica{{S}} == 1)\n>\n"
             f"(count by ({SHARD}) (pg_stat_replication_pg_wal_lsn_diff{{S, state=\"streaming\"}})\n"
             f" or count by ({SHARD}) (pg_replication_is_replica{{S}} == 1) * 0)",
     "summary": "A standby of shard {{ $labels.multigres_com_shard }} is not streaming from the primary."},
    {"alert": "MultigresSynchronousCommitBlocked", "for": "1m", "severity": "critical",
     "expr": f"max by ({POD}) (pg_stat_activity_max_tx_duration{{S, wait_event=\"SyncRep\"}}) > 30",
     "summary": "Commits on {{ $labels.pod }} wait for a synchronous standby: the durability policy is not met."},
    {"alert": "MultigresBackupTooOld", "for": "15m", "severity": "warning",
     "expr": "min by (multigres_cluster, multigres_database, multigres_tablegroup, multigres_shard) "
             "(pgbackrest_backup_last_success_age_seconds{O}) > 129600",
     "summary": "The last successful backup of shard {{ $labels.multigres_shard }} is "
                "{{ $value | humanizeDuration }} old."},
    {"alert": "MultigresEtcdNoLeader", "for": "1m", "severity": "critical",
     "expr": "etcd_server_has_leader{S} == 0",
     "summary": "etcd member {{ $labels.pod }} has no leader (quorum lost?)."},
    {"alert": "MultigresEtcdLeaderChanges", "for": "0m", "severity": "warning",
     "expr": "sum by (namespace, multigres_com_cluster, multigres_com_topo_scope, multigres_com_cell) "
             "(increase(etcd_server_leader_changes_seen_total{S}[15m])) > 3",
     "summary": "etcd changed leader {{ $value }} times in 15 minutes."},
    {"alert": "MultigresGatewayErrors", "for": "5m", "severity": "warning",
     "expr": "sum by (multigres_cluster, multigres_cell) (rate(mg_gateway_query_errors_total{O}[5m]))\n/\n"
             "sum by (multigres_cluster, multigres_cell) (rate(mg_gateway_query_duration_seconds_count{O}[5m]))\n"
             "> 0.05",
     "summary": "More than 5% of the queries in cell {{ $labels.multigres_cell }} fail at the gateway."},
    {"alert": "MultigresGatewayBufferEvictions", "for": "0m", "severity": "warning",
     "expr": "sum by (multigres_cluster, multigres_cell, reason) "
             "(increase(multigateway_buffer_requests_evicted_total{O}[10m])) > 0",
     "summary": "multigateway in cell {{ $labels.multigres_cell }} failed queries it held during a failover "
                "({{ $labels.reason }})."},
    {"alert": "MultigresPoolerSaturated", "for": "5m", "severity": "warning",
     "expr": "sum by (multigres_cluster, instance) (mg_pooler_server_connections{O, state=\"active\"})\n/\n"
             "max by (multigres_cluster, instance) (mg_pooler_config_max_server_connections{O})\n> 0.9\n"
             "or\nsum by (multigres_cluster, instance) (mg_pooler_client_waiting_connections{O}) > 0",
     "summary": "multipooler {{ $labels.instance }} uses over 90% of its PostgreSQL connections or "
                "clients wait for one."},
]


def selectors(cluster: str, namespace: str | None) -> tuple[str, str]:
    """The label matchers of one cluster's scraped and pushed series (without braces)."""
    scraped = f'multigres_com_cluster="{cluster}"'
    pushed = f'multigres_cluster="{cluster}"'
    if namespace:
        scraped = f'namespace="{namespace}", {scraped}'
        pushed = f'{pushed}, k8s_namespace_name="{namespace}"'
    return scraped, pushed


def fill(expr: str, cluster: str, namespace: str | None) -> str:
    """An expression for one cluster: `{S}`/`{O}` alone, or `{S, more}` inside a matcher."""
    scraped, pushed = selectors(cluster, namespace)
    return (expr.replace("{S}", "{" + scraped + "}").replace("{O}", "{" + pushed + "}")
            .replace("{S, ", "{" + scraped + ", ").replace("{O, ", "{" + pushed + ", "))


def rule_groups(cluster: str, namespace: str | None) -> list[dict[str, Any]]:
    """The `groups` of the PrometheusRule (the same shape promtool reads in a rules file)."""
    rules = []
    for r in RULES:
        rules.append({"alert": r["alert"], "expr": fill(r["expr"], cluster, namespace), "for": r["for"],
                      "labels": {"severity": r["severity"]},
                      "annotations": {"summary": r["summary"],
                                      "runbook_url": f"docs/monitoring.md#{r['alert'].lower()}"}})
    return [{"name": f"multigres-{cluster}", "rules": rules}]
