#!/usr/bin/env bash
# Installs what is missing, builds, and runs kvtierd in the foreground on
# configs/kvtier.yaml (127.0.0.1:7400, 1 GiB DRAM over 8 GiB of NVMe under
# ./var/kvtier, which this creates). Extra arguments go
# to kvtierd, e.g. scripts/run.sh --port 7500. Ctrl-C drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
mkdir -p var/kvtier
exec build/bin/kvtierd --config configs/kvtier.yaml "$@"
