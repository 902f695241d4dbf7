#!/usr/bin/env bash
# Writes a new certificate authority and two certificates it signs into DIR,
# for trying the TLS listener (server.tls) and for the TLS tests:
#   ca.crt, ca.key          the CA: clients trust ca.crt (--tls-ca), and a
#                           server with client_ca_file: ca.crt requires
#                           client certificates it signed
#   server.crt, server.key  for server.tls.cert_file / key_file; names
#                           localhost, 127.0.0.1 and every --name
#   client.crt, client.key  a client certificate (CN kvtier-client)
# Keys are ECDSA P-256, unencrypted; certificates last --days (default 30).
# For production, use certificates from your own CA or cert-manager.
#
# Usage: scripts/tls-certs.sh DIR [--name DNS-NAME-OR-IP]... [--days N]
set -euo pipefail

usage() { echo "usage: $0 DIR [--name DNS-NAME-OR-IP]... [--days N]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
dir=$1
shift
days=30
names=(DNS:localhost IP:127.0.0.1)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name)
      [[ $# -ge 2 ]] || usage
      if [[ $2 =~ ^[0-9.]+$ || $2 == *:* ]]; then names+=("IP:$2"); else names+=("DNS:$2"); fi
      shift 2 ;;
    --days) [[ $# -ge 2 ]] || usage; days=$2; shift 2 ;;
    *) usage ;;
  esac
done
command -v openssl >/dev/null || { echo "$0: openssl is not installed (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$dir"
cd "$dir"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=kvtier test CA" -days "$days" -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# sign NAME CN EXTENSIONS: NAME.csr from NAME.key, signed into NAME.crt.
sign() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
san=$(IFS=,; echo "${names[*]}")
sign server localhost "subjectAltName=$san
extendedKeyUsage=serverAuth"
sign client kvtier-client "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ca.crt server.crt client.crt
echo "tls-certs: wrote ca, server ($san) and client certificates to $dir"
