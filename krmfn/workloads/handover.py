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

multiorch appoints the successor of a resigned leader only after its failover grace period, as for
a failed one (go/services/multiorch/recovery/actions/appoint_leader.go, GracePeriod): 2-4 s of
the handover's write gap. Its gRPC TriggerRecoveryNow expires every grace period it tracks and runs
a recovery cycle (go/services/multiorch/recovery/engine.go; multiorch's only way to act at once,
proto/multiorchservice.proto). So from the moment it asks for the switch until it returns, the
hook sends that request (max_cycles = 1: it returns after multiorch's next full cycle) every
0.15 s, at most 3 in flight, to each multiorch of its table group in its cell, found through
multiadmin's `GET /api/v1/orchs`; when its cell has none registered (a drain evicts the cell's
multiorch with the primary), to those of the next cell of the table group that has one: one cell
only, so that multiorchs of several cells do not all end their grace period at once and race to
appoint. The request is an optimisation: unanswered or refused, the grace period runs out as
before. With internal gRPC TLS multiorch wants a client certificate, which bash over
/dev/tcp cannot present, and the hook sends no request.

The script is bash over /dev/tcp (the multigres image is Debian with bash and coreutils, and has no
HTTP client); replies are JSON read with plain pattern matching, spaces removed first (protojson
may insert them). The gRPC request is cleartext HTTP/2 written frame by frame (RFC 9113: the
client preface, SETTINGS, one HEADERS frame of HPACK literals, one DATA frame), built once per
multiorch; its reply is read a byte at a time with bash's `read`, so that a request starts two
processes (`timeout`, `bash`) instead of ~50: the requests run while the primary's postgres restarts
and a successor is promoted, the moments when the node's CPU is most needed.
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
admin=$1 me="$POD_NAME.$3" budget=@BUDGET@ orchs=${4:-}
IFS=/ read -r db tg shard <<<"$2"
admin_host=${admin%:*} admin_port=${admin##*:}
# Into the container's log (PID 1's stdout); a hook's own output is shown only when it fails.
say() { echo "handover: $*" >>"${HANDOVER_LOG:-/proc/1/fd/1}" 2>/dev/null || echo "handover: $*"; }
# One HTTP/1.0 exchange (no chunked replies): prints the body of a 200 reply, else fails.
HTTP=$(cat <<'END'
exec 3<>"/dev/tcp/$1/$2" || exit 1
printf '%s %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
  "$3" "$4" "$1" "${#5}" "$5" >&3
IFS= read -r -d '' reply <&3
status=${reply%%$'\r'*}
case $status in *' 200 '*) ;; *) echo "$3 $4: $status" >&2; exit 1;; esac
printf '%s' "${reply#*$'\r\n\r\n'}"
END
)
http() { timeout 10 bash -c "$HTTP" http "$admin_host" "$admin_port" "$1" "$2" "${3:-}"; }
# One gRPC call over cleartext HTTP/2 (prior knowledge): multiorch's
# /multiorch.MultiorchService/TriggerRecoveryNow, its request bytes ready-made in $3 (printf %b
# escapes, grpc_request). The reply is read frame by frame, a byte at a time, with bash's own `read`:
# no process per frame, since the hook runs while the node is busiest (one request used to cost ~50
# processes, at ~7 requests a second). Succeeds when a reply message (a DATA frame) came before the
# stream's end, which a gRPC error never sends.
GRPC=$(cat <<'END'
export LC_ALL=C
exec 3<>"/dev/tcp/$1/$2" || exit 1
printf '%b' "$3" >&3
# The next $1 bytes of the reply, as numbers, into b; fails at the end of the stream. A NUL byte is
# read's delimiter: it ends the read with nothing read and success.
take() {
  local i c
  b=()
  for ((i = 0; i < $1; i++)); do
    IFS= read -r -d '' -n 1 -u 3 c || [ -n "$c" ] || return 1
    if [ -z "$c" ]; then b[i]=0; else printf -v 'b[i]' '%d' "'$c"; fi
  done
}
data=0
while take 9; do
  len=$((b[0] << 16 | b[1] << 8 | b[2])) type=${b[3]} flags=${b[4]} stream=${b[8]}
  take "$len" || exit 1
  case $type in
    0) [ "$stream" -ne 1 ] || data=1 ;;
    1) [ "$stream" -eq 1 ] && ((flags & 1)) && exit $((1 - data)) ;;
    3|7) exit 1 ;;
    4) ((flags & 1)) || printf '\x00\x00\x00\x04\x01\x00\x00\x00\x00' >&3 ;;
  esac
done
exit 1
END
)
hex() {
  local LC_ALL=C s=$1 out='' i
  for ((i = 0; i < ${#s}; i++)); do printf -v out '%s\\x%02x' "$out" "'${s:i:1}"; done
  printf '%s' "$out"
}
str() { printf '\\x%02x%s' "${#1}" "$(hex "$1")"; }
# A frame's 9-byte header (length, type, flags, stream) as printf %b escapes.
frame() {
  printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x%02x' \
    $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)) "$2" "$3" "$4"
}
# The request to multiorch at $1:$2 as printf %b escapes, built once per multiorch (RFC 9113): the
# client preface, an empty SETTINGS frame, one HEADERS frame of HPACK literals without Huffman
# coding, one DATA frame with max_cycles = 1 (proto field 1, varint: 08 01). Every byte of the
# block is one 4-character \xHH escape.
grpc_request() {
  local block
  block="\\x83\\x86\\x04$(str /multiorch.MultiorchService/TriggerRecoveryNow)\\x01$(str "$1:$2")"
  block+="\\x0f\\x10$(str application/grpc)\\x00$(str te)$(str trailers)\\x00$(str grpc-timeout)$(str 3S)"
  printf '%s%s' 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' "$(frame 0 4 0 0)"
  printf '%s%s' "$(frame $((${#block} / 4)) 1 4 1)" "$block"
  printf '%s%s' "$(frame 7 0 1 1)" '\x00\x00\x00\x00\x02\x08\x01'
}
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
# "address port" of the gRPC server of every multiorch of this table group in the first cell of
# $orchs (`cell=Deployment` pairs, this pod's cell first) that has one registered: the records
# multiorch registers (name = its pod's name, `<Deployment>-<hash>-<suffix>`; hostname = its pod
# IP; port map "grpc"), from multiadmin's GET /api/v1/orchs. A drain evicts the pod's own cell's
# multiorch with it (it deregisters as it stops): another cell's then gets the requests.
orchestrators() {
  local pair cell orch body chunk name rest host port found
  for pair in $orchs; do
    cell=${pair%%=*} orch=${pair#*=} found=
    body=$(http GET "/api/v1/orchs?cells=$cell") || continue
    body=${body//[[:space:]]/}
    while IFS= read -r chunk; do
      name=${chunk#*'"name":"'} name=${name%%'"'*} rest=${name#"$orch"-}
      [[ $rest != "$name" && $rest =~ ^[a-z0-9]+-[a-z0-9]+$ ]] || continue
      host=${chunk#*'"hostname":"'} host=${host%%'"'*}
      port=${chunk#*'"grpc":'} port=${port%%[!0-9]*}
      [[ -n $host && -n $port ]] && echo "$host $port" && found=1
    done <<<"${body//'{"id":{'/$'\n'}"
    [ -z "$found" ] || return 0
  done
}
# Asks one orchestrator for a recovery cycle every 0.15 s, at most 3 requests in flight (each
# bounded by 4 s): multiorch appoints the successor of a resigned leader only after its failover
# grace period, which a request expires (go/services/multiorch/recovery/engine.go,
# TriggerRecoveryNow) once it has polled every pooler for a fresh health snapshot, which may take
# up to 0.5 s while the resigning pooler restarts postgres; overlapping requests let the first
# expiry after multiorch has seen the resignation come soon after it.
requests() {
  local n=0
  while :; do
    if [ "$n" -ge 3 ]; then wait -n; n=$((n - 1)); fi
    { timeout 4 bash -c "$GRPC" grpc "$1" "$2" "$3" && echo x >>"$asked"; } &
    n=$((n + 1))
    sleep 0.15
  done
}
# One loop per orchestrator, in the background, from the moment the switch is asked for: the pooler
# publishes its resignation before the switch returns (it then restarts postgres as a standby) and
# multiorch starts the grace period on its next cycle; the first request after that expires it.
start_requests() {
  local host port
  while read -r host port; do
    [ -z "$host" ] || requests "$host" "$port" "$(grpc_request "$host" "$port")" </dev/null >/dev/null 2>&1 &
  done <<<"$targets"
}
stop_requests() {
  local pids
  mapfile -t pids < <(jobs -p)
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null
}
start=$SECONDS
list=$(primaries) || { say "multiadmin unreachable; stopping without handover"; exit 0; }
grep -qxF "$me" <<<"$list" || exit 0
say "$me is the primary of $db/$tg/$shard: switching over"
targets=$(orchestrators) asked=$(mktemp 2>/dev/null || echo /dev/null)
trap 'stop_requests; [ "$asked" = /dev/null ] || rm -f "$asked"' EXIT
start_requests
# A refused switch changed nothing (multiadmin resigns the primary or fails): asked again within
# the budget. One cause seen on the node: multiadmin still dials a pod's address from before its
# restart (its gRPC resolver asks DNS again only every ~30 s) and answers 500 "no route to host".
until http POST "/api/v1/shards/$db/$tg/$shard/switch-primary" "{\"reason\":\"pod $POD_NAME stopping\"}" >/dev/null; do
  stop_requests
  other=$(primaries | grep -vxF "$me" | head -n1)
  [ -z "$other" ] || { say "new primary $other after $((SECONDS - start)) s"; exit 0; }
  [ $((SECONDS - start)) -lt "$budget" ] ||
    { say "switch-primary failed for $budget s; stopping without handover"; exit 0; }
  say "switch-primary failed; asking again"
  sleep 2
  start_requests
done
while [ $((SECONDS - start)) -lt "$budget" ]; do
  other=$(primaries | grep -vxF "$me" | head -n1)
  if [ -n "$other" ]; then
    say "new primary $other after $((SECONDS - start)) s (multiorch answered $(wc -l <"$asked") recovery requests)"
    exit 0
  fi
  sleep 0.25
done
say "no new primary within $budget s; stopping anyway"
"""


def admin_host(ctx: ClusterContext) -> str:
    """multiadmin's Service, as a pod of the cluster reaches it."""
    return objects.service_host(naming.multiadmin_name(ctx.name), ctx.namespace, ctx.cluster_domain)


def orchestrators(spec: MultiShardSpec, ctx: ClusterContext, cell: str) -> str:
    """`cell=Deployment` pairs, space-separated: the multiorch Deployments of the shard's table
    group (one per cell of its pools, tablegroup.py, objects.pool_cells), the pod's own cell first, then the others in
    the spec's order; the hook asks the first cell that has a multiorch registered. Empty with
    internal gRPC TLS: multiorch then wants a client certificate over TLS, which the hook's bash
    cannot speak, so the handover waits out multiorch's grace period."""
    if spec.internal_tls is not None:
        return ""
    table_group = naming.table_group_name(ctx.name, spec.database_name, spec.table_group_name)
    cells = [cell, *(c for c in objects.pool_cells(spec.pools) if c != cell)]
    return " ".join(f"{c}={naming.multiorch_deployment(table_group, c)}" for c in cells)


def pre_stop(spec: MultiShardSpec, ctx: ClusterContext, service_host: str, cell: str) -> dict[str, Any]:
    """The lifecycle block of the multipooler container. Its `--hostname` is `<pod>.<service_host>`;
    a hook's command gets no `$(VAR)` expansion, so the script reads $POD_NAME from the container's
    environment (the downward API puts it there for the `--hostname` flag)."""
    admin = f"{admin_host(ctx)}:{defaults.PORTS['multiadmin']['http']}"
    shard = f"{spec.database_name}/{spec.table_group_name}/{spec.shard_name}"
    command = pre_stop_command(admin, shard, service_host, WAIT_SECONDS, orchestrators(spec, ctx, cell))
    return {"preStop": {"exec": {"command": command}}}


def pre_stop_command(admin: str, shard: str, service_host: str, budget: int, orchs: str = "") -> list[str]:
    """The hook's command: the script, multiadmin's host:port, `db/tg/shard`, the pod's domain and
    the multiorch Deployments to ask for a recovery cycle (orchestrators(); empty: none)."""
    return ["/bin/bash", "-c", SCRIPT.replace("@BUDGET@", str(budget)), "handover", admin, shard, service_host,
            orchs]
