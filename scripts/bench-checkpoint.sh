#!/usr/bin/env bash
# Checkpoint writes through a kvtier-fuse mount, side by side in one run:
#   - dd of SIZE_MIB MiB with conv=fsync through the mount of a checkpoint
#     namespace (close returns once the file is durable on the server's NVMe)
#     against dd of the same bytes to a file in the NVMe directory's file
#     system with conv=fsync;
#   - the time until `kvtier flush` returns (the file is in Blob as an
#     ordinary blob) against curl uploading the same bytes to the same
#     Azurite as one blob.
# Builds Release into build-release/; needs /dev/fuse, fuse3 and Azurite
# (scripts/setup.sh). Usage: scripts/bench-checkpoint.sh [SIZE_MIB] (default 2048)
# KVTIER_BENCH_BUILD=DIR uses binaries already built in DIR instead.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-2048}
source scripts/bench-common.sh
bench_build kvtierd kvtier kvtier-fuse kvtier-blob-bench
bench_workdir checkpoint
bench_start_azurite
mkdir -p "$work/mnt" "$work/nvme"
"$bin/kvtier-blob-bench" --endpoint "$blob_url" --container ckptbench --count 1 >/dev/null

cat >"$work/kvtierd.yaml" <<EOF
server: {listen: 127.0.0.1:0, metrics_listen: off}
tiers:
  dram: {capacity: 1GiB}
  nvme: {directory: $work/nvme, capacity: $(( size_mib * 3 ))MiB}
  blob: {endpoint: '$blob_url', account: devstoreaccount1, key_env: KVTIER_BLOB_KEY,
         container: ckptbench}
namespaces:
  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob], objects: {block_bytes: 8MiB}}
EOF
"$bin/kvtierd" --config "$work/kvtierd.yaml" --port-file "$work/port" >"$work/kvtierd.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port=$(head -1 "$work/port")
"$bin/kvtier-fuse" --server "127.0.0.1:$port" "$work/mnt"

head -c $((size_mib << 20)) /dev/urandom >"$work/source.bin"
seconds() { local start=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $start" | bc -l; }

dd_disk=$(seconds dd if="$work/source.bin" of="$work/nvme/dd.bin" bs=8M conv=fsync)
rm -f "$work/nvme/dd.bin"
dd_mount=$(seconds dd if="$work/source.bin" of="$work/mnt/ckpt/step.pt" bs=8M conv=fsync)
flush=$(seconds "$bin/kvtier" --server "127.0.0.1:$port" --timeout 600000 flush ckpt step.pt)
curl_put=$(seconds curl -sf -H 'x-ms-blob-type: BlockBlob' -T "$work/source.bin" \
  "$blob_url/ckptbench/curl.bin?$sas")
cmp "$work/source.bin" "$work/mnt/ckpt/step.pt"

gbps() { echo "scale=3; $size_mib * 1048576 / $1 / 1000000000" | bc -l; }
echo "| write of $size_mib MiB | seconds | GB/s |"
echo "|---|---|---|"
echo "| dd conv=fsync to the NVMe directory's file system | $(printf %.2f "$dd_disk") | $(gbps "$dd_disk") |"
echo "| dd conv=fsync through the kvtier-fuse mount (durable on NVMe) | $(printf %.2f "$dd_mount") | $(gbps "$dd_mount") |"
echo "| then kvtier flush (in Blob) | $(printf %.2f "$flush") | $(gbps "$flush") |"
echo "| curl upload of the same bytes to Azurite | $(printf %.2f "$curl_put") | $(gbps "$curl_put") |"
echo
echo "mount / dd: $(echo "scale=2; $dd_disk / $dd_mount" | bc -l)x; flush / curl: $(echo "scale=2; $curl_put / $flush" | bc -l)x (1.0 = as fast)"
