#!/usr/bin/env bash
# Make the etcd TLS Secret `<CLUSTER>-topo-tls` (type kubernetes.io/tls, keys ca.crt, tls.crt,
# tls.key) that the managed etcds and every component of CLUSTER mount with spec.topoTLS, and
# print it as a manifest:
#
#   multigres-krmfn render ... | scripts/make-topo-tls.sh CLUSTER NAMESPACE [DOMAIN] | kubectl apply -f -
#
# Reads the rendered objects of CLUSTER on stdin (spec.topoTLS on) and puts in the certificate the
# names clients verify: every etcd client Service the render dials (`<service>.<NAMESPACE>.svc.
# <DOMAIN>:2379`, with its short spellings `<service>`, `<service>.<NAMESPACE>`,
# `<service>.<NAMESPACE>.svc`) and a wildcard per etcd's headless peer Service for its members'
# advertised client URLs (`*.<peer>.<NAMESPACE>.svc.<DOMAIN>`). One key pair with server and client
# auth: etcd serves it and every client presents it (docs/security.md "etcd TLS").
#
# The CA is kept in ${TOPO_TLS_DIR:-./topo-tls-CLUSTER} (ca.key stays there, never in the Secret)
# and reused on the next run, so a re-made certificate is trusted by pods still holding the old
# one. DOMAIN defaults to cluster.local.
set -euo pipefail
# shellcheck source=scripts/tls-secret.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls-secret.sh"

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 CLUSTER NAMESPACE [DOMAIN] < rendered.yaml" >&2
  exit 2
fi
cluster="$1" namespace="$2" domain="${3:-cluster.local}"
dir="${TOPO_TLS_DIR:-./topo-tls-$cluster}"
days="${TOPO_TLS_DAYS:-3650}"

rendered="$(cat)"
# etcd's advertised client URLs: https://$(POD_NAME).<peer>.<namespace>.svc.<domain>:2379
peers=()
while read -r url; do
  host="${url#*//}" host="${host#*).}" host="${host%:2379}"  # drop the scheme and the pod's name
  [[ "$host" == *".$namespace.svc.$domain" ]] && peers+=("${host%%.*}")
done < <(grep -oE -- '--advertise-client-urls=https://[$][(]POD_NAME[)][.][a-z0-9.-]+:2379' <<< "$rendered" | sort -u)
# the client Services the components, the registration Job and the gateways' wait dial
clients=()
while read -r addr; do
  clients+=("${addr%%.*}")
done < <(grep -oE -- "(^|[^.a-z0-9)-])[a-z0-9-]+[.]${namespace}[.]svc[.]${domain}:2379" <<< "$rendered" \
           | grep -oE -- "[a-z0-9-]+[.]${namespace}[.]svc[.]${domain}:2379" | sort -u)
if [[ ${#peers[@]} -eq 0 || ${#clients[@]} -eq 0 ]]; then
  echo "$0: no https etcd of namespace $namespace (domain $domain) on stdin;" \
       "pipe the rendered objects of cluster $cluster, with spec.topoTLS on, in" >&2
  exit 1
fi

sans=""
for svc in "${clients[@]}"; do
  for name in "$svc" "$svc.$namespace" "$svc.$namespace.svc" "$svc.$namespace.svc.$domain"; do
    sans+="${sans:+,}DNS:$name"
  done
done
for peer in "${peers[@]}"; do
  sans+=",DNS:*.$peer.$namespace.svc.$domain"
done
tls_secret "$dir" "$days" "$cluster etcd CA" "$cluster etcd" "$sans" "$cluster-topo-tls" "$namespace"
