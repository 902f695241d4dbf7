#!/usr/bin/env bash
# Azure SDK and curl downloads through kvtier's Blob-compatible endpoint
# (warm: the blob's blocks in DRAM) beside the same downloads straight from
# Azurite, in one run on this machine's loopback (bench/blob_endpoint_bench.cjs).
# Prints a Markdown table of MiB/s and kvtier / origin.
# Builds Release into build-release/ (KVTIER_BENCH_BUILD=DIR uses binaries
# already built in DIR). Needs node and .azurite/ (scripts/setup.sh).
# Usage: scripts/bench-blob-endpoint.sh [SIZE_MIB] (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-256}
build_dir=${KVTIER_BENCH_BUILD:-build-release}
if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVTIER_BUILD_TESTS=OFF >&2
fi
cmake --build "$build_dir" --parallel "$(nproc)" --target kvtierd >&2
bin="$PWD/$build_dir/bin"
scripts/start-azurite.sh --install-only

work=$(mktemp -d)
cleanup() {
  [[ -n "${kvtier_pid:-}" ]] && kill "$kvtier_pid" 2>/dev/null || true
  [[ -n "${azurite_pid:-}" ]] && kill "$azurite_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

scripts/start-azurite.sh 0 "$work/azurite" >"$work/azurite.log" 2>&1 &
azurite_pid=$!
for _ in $(seq 600); do grep -q "listens on http" "$work/azurite.log" && break; sleep 0.1; done
azurite_port=$(grep "listens on" "$work/azurite.log" | grep -o "127.0.0.1:[0-9]*" | head -1 | cut -d: -f2)
origin="http://127.0.0.1:$azurite_port/devstoreaccount1"
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
node -e '
const path = require("path");
const { BlobServiceClient, StorageSharedKeyCredential } =
  require(path.resolve(".azurite/node_modules/@azure/storage-blob"));
new BlobServiceClient(process.argv[1], new StorageSharedKeyCredential("devstoreaccount1", process.argv[2]))
  .getContainerClient("bench").createIfNotExists().catch((e) => { console.error(e); process.exit(1); });
' "$origin" "$key"

cat >"$work/kvtier.yaml" <<YAML
server: {blob_listen: "127.0.0.1:0", metrics_listen: "off"}
tiers:
  dram: {capacity: $((size_mib * 2 + 256))MiB}
  blob: {endpoint: "$origin", account: devstoreaccount1, key_env: KVTIER_BENCH_BLOB_KEY}
namespaces:
  - {name: bench, kind: dataset, origin: {container: bench, block_bytes: 4MiB}}
YAML
KVTIER_BENCH_BLOB_KEY=$key "$bin/kvtierd" --config "$work/kvtier.yaml" --port 0 --no-nvme \
  --port-file "$work/port" >"$work/kvtierd.log" 2>&1 &
kvtier_pid=$!
for _ in $(seq 300); do [[ -f "$work/port" && $(wc -l <"$work/port") -ge 5 ]] && break; sleep 0.1; done
kvtier="http://127.0.0.1:$(sed -n 5p "$work/port")/devstoreaccount1"
node bench/blob_endpoint_bench.cjs "$origin" "$kvtier" "$size_mib"
