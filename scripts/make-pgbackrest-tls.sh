#!/usr/bin/env bash
# Make the pgBackRest TLS Secret `<CLUSTER>-pgbackrest-tls` (type kubernetes.io/tls, keys ca.crt,
# tls.crt, tls.key) that every pooler pod of CLUSTER mounts, and print it as a manifest:
#
#   multigres-krmfn render ... | scripts/make-pgbackrest-tls.sh CLUSTER NAMESPACE [DOMAIN] | kubectl apply -f -
#
# Reads the rendered objects of CLUSTER on stdin (any YAML stream: the function's output, the
# package after `kpt fn render`, `kustomize build`; pipe one cluster, or the certificate also covers
# the other clusters' poolers of that namespace) and puts one wildcard DNS name per pooler headless
# Service in the certificate,
# `*.<service>.<NAMESPACE>.svc.<DOMAIN>`: a replica's backup dials the primary's pgBackRest server at
# the hostname the primary registered (multipooler --hostname) and verifies it. The CN is
# `pgbackrest`, the client name the server accepts (tls-server-auth=pgbackrest=*), and the key
# usages are server and client auth, since every pod is both. README "pgBackRest TLS".
#
# The CA is kept in ${PGBACKREST_TLS_DIR:-./pgbackrest-tls-CLUSTER} (ca.key stays there, never in
# the Secret) and reused on the next run, so a certificate re-made for new pools is trusted by the
# pods that still hold the old one. DOMAIN defaults to cluster.local.
set -euo pipefail
# shellcheck source=scripts/tls-secret.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls-secret.sh"

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 CLUSTER NAMESPACE [DOMAIN] < rendered.yaml" >&2
  exit 2
fi
cluster="$1" namespace="$2" domain="${3:-cluster.local}"
dir="${PGBACKREST_TLS_DIR:-./pgbackrest-tls-$cluster}"
days="${PGBACKREST_TLS_DAYS:-3650}"

# The pooler hostnames: --hostname=$(POD_NAME).<service>.<namespace>.svc.<domain> (names of long
# services are shortened with a hash, so they need not start with the cluster's name).
services=()
while read -r host; do
  svc="${host%%.*}" rest="${host#*.}"
  if [[ "$rest" == "$namespace.svc.$domain" ]]; then
    services+=("$svc")
  fi
done < <(grep -oE -- '--hostname=[$][(]POD_NAME[)][.][a-z0-9.-]+' | cut -d. -f2- | sort -u)
if [[ ${#services[@]} -eq 0 ]]; then
  echo "$0: no pooler hostname in namespace $namespace (domain $domain) on stdin;" \
       "pipe the rendered objects of cluster $cluster in" >&2
  exit 1
fi

sans=""
for svc in "${services[@]}"; do
  sans+="${sans:+,}DNS:*.$svc.$namespace.svc.$domain"
done
tls_secret "$dir" "$days" "$cluster pgBackRest CA" "pgbackrest" "$sans" "$cluster-pgbackrest-tls" "$namespace"
