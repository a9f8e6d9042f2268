"""A pooler pod is Ready only once its postgres is the primary, or a standby that has streamed from
the primary since it started and that the shard's current rule counts in its cohort: the
StatefulSet roll waits for that before it stops the next pod.

Why: multiorch takes a stopping standby out of the cohort (CohortMemberIneligible →
RULE_OPERATION_COHORT_REMOVE) and puts it back only later (PoolerNotInCohort), after the pod is
up again (go/services/multiorch/recovery/actions/reconcile_cohort.go). Pods turn Ready long before
that, so a plain roll stopped the next standby while the cohort had shrunk to the primary and that
one standby: under the `AT_LEAST_N(2)` durability policy every commit, the rule change removing
it included, then waits for the standby being stopped; the rule row stays locked (multipooler's
`FOR UPDATE NOWAIT` reads fail: go/services/multipooler/internal/manager/consensus/rule_store.go),
client writes hang, and a switchover finds no recruitment quorum (`ShardStuck`,
go/services/multiorch/recovery/analysis/leader_needs_replacement_analyzer.go). Measured on the
node: docs/runtime-checks.md, "Day 2".

The check must not flicker while the pod is fine: with `podManagementPolicy: Parallel` the
StatefulSet controller deletes every not-Ready pod of the old revision at once, outside its
`maxUnavailable` budget (kubernetes pkg/controller/statefulset/stateful_set_control.go, "Phase 1").
So it asks `pg_last_wal_receive_lsn() is not null` (WAL received since this postgres started,
which stays set while the standby re-points to a new primary) rather than "streaming now" (seen on
the node: a standby went not-Ready during a switchover and was deleted together with the primary's
pod). multiorch itself re-admits a standby only while it streams
(go/services/multiorch/recovery/analysis/cohort_mismatch_analyzer.go, isAdditionCandidate).

The check runs in the postgres-config-reloader container (the pgctld image: bash and psql; the data
volume holds postgres' socket). A member of the cohort is named `<cell>_<service-id>`
(go/common/topoclient/id.go, ClusterIDString); the service ID is the render's prefix and the pod's
ordinal (shard.py), so the probe reads the ordinal from POD_INDEX. `multigres.current_rule` is the
replicated table multipooler keeps the rule in (rule_store.go), in the shard's database.
"""

from __future__ import annotations

from .. import defaults

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

# $1 cell, $2 service-ID prefix, $3 database. Prints nothing; the exit status is the verdict.
SCRIPT = r"""me="$1_$2-$POD_INDEX"
sql="select not pg_is_in_recovery() or (pg_last_wal_receive_lsn() is not null
 and exists (select from multigres.current_rule where '$me' = any(cohort_members)))"
export PGPASSWORD=$(cat @PASSWORD@) PGCONNECT_TIMEOUT=3
out=$(psql -h @SOCKET@ -p @PORT@ -U postgres -d "$3" -XAtq -c "$sql" 2>&1)
[ "$out" = t ] || { echo "not yet a streaming member of the cohort as $me: $out"; exit 1; }
"""

# How often the kubelet asks; the roll waits at most one period after the standby has joined.
PERIOD_SECONDS = 5


def script(password_file: str) -> str:
    return (SCRIPT.replace("@SOCKET@", f"{defaults.POOLER_DIR}/pg_sockets")
            .replace("@PORT@", str(defaults.PORTS["pgctld"]["postgres"])).replace("@PASSWORD@", password_file))


def readiness_probe(cell: str, service_id_prefix: str, database: str, password_file: str) -> dict[str, Any]:
    """The exec readiness probe; its container needs POD_INDEX in its environment (`index_env`)."""
    command = ["/bin/bash", "-c", script(password_file), "cohort-ready", cell, service_id_prefix, database]
    return {"exec": {"command": command}, "periodSeconds": PERIOD_SECONDS, "timeoutSeconds": 5,
            "failureThreshold": 1, "successThreshold": 1}


def index_env() -> dict[str, Any]:
    """The pod's ordinal, from the label every StatefulSet pod carries (Kubernetes >= 1.28)."""
    return {"name": "POD_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}}


def gate(reloader: dict[str, Any], cell: str, service_id_prefix: str, database: str,
         password_file: str) -> dict[str, Any]:
    """The reloader container with the cohort readiness probe added."""
    out = dict(reloader)
    out["env"] = [*reloader.get("env", []), index_env()]
    out["readinessProbe"] = readiness_probe(cell, service_id_prefix, database, password_file)
    return out
