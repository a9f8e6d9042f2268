# shellcheck shell=bash
# Sourced by scripts/make-pgbackrest-tls.sh and scripts/make-topo-tls.sh: the CA kept in a folder
# and one server+client certificate signed by it, printed as a kubernetes.io/tls Secret.
#
#   tls_secret DIR DAYS CA_CN CN SANS SECRET NAMESPACE
#
# DIR keeps ca.key/ca.crt (ca.key never goes into the Secret) and reuses them on the next run, so a
# re-made certificate is trusted by pods still holding the old one. SANS is openssl's
# subjectAltName value (`DNS:a,DNS:b`). The key usages are server and client auth: every pod that
# mounts these Secrets both serves and dials with the one key pair.
tls_secret() {
  local dir="$1" days="$2" ca_cn="$3" cn="$4" sans="$5" secret="$6" namespace="$7"
  umask 077
  mkdir -p "$dir"
  if [[ ! -s "$dir/ca.key" || ! -s "$dir/ca.crt" ]]; then
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days "$days" \
      -subj "/CN=$ca_cn" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2> /dev/null
  fi
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$cn" \
    -keyout "$dir/tls.key" -out "$dir/tls.csr" 2> /dev/null
  openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$days" \
    -out "$dir/tls.crt" -extfile <(printf '%s\n' \
      "subjectAltName=$sans" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth,clientAuth" \
      "basicConstraints=critical,CA:FALSE") 2> /dev/null
  cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $secret
  namespace: $namespace
type: kubernetes.io/tls
data:
  ca.crt: $(base64 -w0 < "$dir/ca.crt")
  tls.crt: $(base64 -w0 < "$dir/tls.crt")
  tls.key: $(base64 -w0 < "$dir/tls.key")
YAML
}
