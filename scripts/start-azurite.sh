#!/usr/bin/env bash
# Azurite, the Azure Storage emulator, for the Blob tier's tests and local
# runs. Installs it once with npm into .azurite/ (project-local; Debian's
# nodejs and npm are installed first when missing), with Azure's JavaScript
# SDK beside it (the real client of the Blob-compatible endpoint's tests),
# then runs the Blob service in the foreground on 127.0.0.1, keeping its
# data in DIR.
#
# Usage: scripts/start-azurite.sh --install-only
#        scripts/start-azurite.sh PORT DIR [AZURITE OPTIONS...]
#          PORT 0: Azurite picks one and prints the address it listens on;
#          options such as --cert FILE --key FILE (https) go to Azurite.
# Account devstoreaccount1 with the emulator's well-known key.
set -euo pipefail
cd "$(dirname "$0")/.."

AZURITE_VERSION=3.35.0
STORAGE_BLOB_VERSION=12.34.0
prefix="$PWD/.azurite"
azurite="$prefix/node_modules/.bin/azurite-blob"
sdk="$prefix/node_modules/@azure/storage-blob/package.json"

if [[ ! -x "$azurite" || ! -f "$sdk" ]]; then
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  echo "start-azurite: installing azurite@$AZURITE_VERSION and" \
    "@azure/storage-blob@$STORAGE_BLOB_VERSION into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" "@azure/storage-blob@$STORAGE_BLOB_VERSION" >&2
fi

if [[ "${1:-}" == "--install-only" ]]; then exit 0; fi
if [[ $# -lt 2 ]]; then
  echo "usage: $0 --install-only | PORT DIR [AZURITE OPTIONS...]" >&2
  exit 2
fi
port=$1
dir=$2
shift 2
mkdir -p "$dir"
exec "$azurite" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" \
  --disableTelemetry --skipApiVersionCheck --loose "$@"
