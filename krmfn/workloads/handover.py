"""A primary hands over before its pod stops: the multipooler container's preStop hook.

Whatever deletes a pooler pod on purpose (a roll, a scale-down, a drain, `kubectl delete pod`), the
kubelet runs the preStop hook before it sends SIGTERM. The hook asks multiadmin (its REST API,
upstream proto/multiadminservice.proto) whether this pod's pooler is the shard's primary. A standby
returns at once. The primary calls `POST /api/v1/shards/{db}/{tg}/{shard}/switch-primary`:
multiadmin calls the pooler's ResignLeadership (writes are quiesced, postgres restarts as a
standby, REQUESTING_DEMOTION is published) and multiorch elects a new primary through its normal
consensus flow (go/services/multiadmin/switch_primary.go). The hook then waits, within a bounded
time, until another pooler of the shard is the routed primary, and returns; SIGTERM then stops a
standby. A refused switch-primary is asked again every 2 s within the same bound. If multiadmin
cannot be reached or the wait runs out, the pod stops as upstream's own shutdown does it (it
declares itself ineligible and multiorch fails over).

The script is bash over /dev/tcp (the multigres image is Debian with bash and coreutils, and has no
HTTP client); replies are JSON read with plain pattern matching, spaces removed first (protojson
may insert them).
"""

from __future__ import annotations

from .. import defaults, naming
from . import objects

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from typing import Any

    from ..api.generated.child_types import MultiShardSpec
    from .context import ClusterContext

# How long the hook may wait for the new primary; the pod's grace period covers it plus
# multipooler's own shutdown (its --onterm-timeout, 20 s by default) and pgctld's.
WAIT_SECONDS = 40
GRACE_SECONDS = 90

SCRIPT = r"""
set -u
admin=$1 me="$POD_NAME.$3" budget=@BUDGET@
IFS=/ read -r db tg shard <<<"$2"
admin_host=${admin%:*} admin_port=${admin##*:}
# Into the container's log (PID 1's stdout); a hook's own output is shown only when it fails.
say() { echo "handover: $*" >>"${HANDOVER_LOG:-/proc/1/fd/1}" 2>/dev/null || echo "handover: $*"; }
# One HTTP/1.0 exchange (no chunked replies): prints the body of a 200 reply, else fails.
HTTP=$(cat <<'END'
exec 3<>"/dev/tcp/$1/$2" || exit 1
printf '%s %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
  "$3" "$4" "$1" "${#5}" "$5" >&3
reply=$(cat <&3)
status=${reply%%$'\r'*}
case $status in *' 200 '*) ;; *) echo "$3 $4: $status" >&2; exit 1;; esac
printf '%s' "${reply#*$'\r\n\r\n'}"
END
)
http() { timeout 10 bash -c "$HTTP" http "$admin_host" "$admin_port" "$1" "$2" "${3:-}"; }
# The hostnames of the shard's poolers routed as primary, one a line, from multiadmin's records
# (a stale record may still say primary for a moment after a switch: all of them are listed).
primaries() {
  local body chunk
  # multiadmin filters by database only: a shard filter without a table group is refused
  # ("cannot filter by Shard without specifying TableGroup") and the request has no table group.
  body=$(http GET "/api/v1/poolers?database=$db") || return 1
  body=${body//[[:space:]]/}
  while IFS= read -r chunk; do
    [[ $chunk == *'"role":"ROUTING_ROLE_PRIMARY"'* && $chunk == *'"tableGroup":"'"$tg"'"'* &&
       $chunk == *'"shard":"'"$shard"'"'* ]] || continue
    chunk=${chunk#*'"hostname":"'}
    echo "${chunk%%'"'*}"
  done <<<"${body//'{"id":{'/$'\n'}"
}
start=$SECONDS
list=$(primaries) || { say "multiadmin unreachable; stopping without handover"; exit 0; }
grep -qxF "$me" <<<"$list" || exit 0
say "$me is the primary of $db/$tg/$shard: switching over"
# A refused switch changed nothing (multiadmin resigns the primary or fails): asked again within
# the budget. One cause seen on the node: multiadmin still dials a pod's address from before its
# restart (its gRPC resolver asks DNS again only every ~30 s) and answers 500 "no route to host".
until http POST "/api/v1/shards/$db/$tg/$shard/switch-primary" "{\"reason\":\"pod $POD_NAME stopping\"}" >/dev/null; do
  other=$(primaries | grep -vxF "$me" | head -n1)
  [ -z "$other" ] || { say "new primary $other after $((SECONDS - start)) s"; exit 0; }
  [ $((SECONDS - start)) -lt "$budget" ] ||
    { say "switch-primary failed for $budget s; stopping without handover"; exit 0; }
  say "switch-primary failed; asking again"
  sleep 2
done
while [ $((SECONDS - start)) -lt "$budget" ]; do
  other=$(primaries | grep -vxF "$me" | head -n1)
  if [ -n "$other" ]; then
    say "new primary $other after $((SECONDS - start)) s"
    exit 0
  fi
  sleep 0.5
done
say "no new primary within $budget s; stopping anyway"
"""


def admin_host(ctx: ClusterContext) -> str:
    """multiadmin's Service, as a pod of the cluster reaches it."""
    return objects.service_host(naming.multiadmin_name(ctx.name), ctx.namespace, ctx.cluster_domain)


def pre_stop(spec: MultiShardSpec, ctx: ClusterContext, service_host: str) -> dict[str, Any]:
    """The lifecycle block of the multipooler container. Its `--hostname` is `<pod>.<service_host>`;
    a hook's command gets no `$(VAR)` expansion, so the script reads $POD_NAME from the container's
    environment (the downward API puts it there for the `--hostname` flag)."""
    admin = f"{admin_host(ctx)}:{defaults.PORTS['multiadmin']['http']}"
    shard = f"{spec.database_name}/{spec.table_group_name}/{spec.shard_name}"
    return {"preStop": {"exec": {"command": pre_stop_command(admin, shard, service_host, WAIT_SECONDS)}}}


def pre_stop_command(admin: str, shard: str, service_host: str, budget: int) -> list[str]:
    """The hook's command: the script, multiadmin's host:port, `db/tg/shard` and the pod's domain."""
    return ["/bin/bash", "-c", SCRIPT.replace("@BUDGET@", str(budget)), "handover", admin, shard, service_host]
