#!/usr/bin/env bash
# Sequential reads of one dataset object through kvtier-fuse mounts, side by
# side in one run (docs/training.md):
#   - cold: the first dd of the object through a mount (every block read from
#     Azurite, the origin) against curl reading the same blob from Azurite;
#   - warm: dd through a second mount (blocks from the server's DRAM, not
#     this node's page cache) against
#     `kvtier cat` (the C++ client's ReadRange, one connection) of the object;
#   - fan-out: 8 readers on 2 mounts reading a second object at once; the
#     origin's read counter must equal the object's block count exactly.
# Builds Release into build-release/; needs /dev/fuse, fuse3 and Azurite
# (scripts/setup.sh). Usage: scripts/bench-mount-read.sh [SIZE_MIB] [BLOCK]
# (defaults 1024 and 4MiB). KVTIER_BENCH_BUILD=DIR uses binaries already
# built in DIR instead.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-1024}
block=${2:-4MiB}
source scripts/bench-common.sh
bench_build kvtierd kvtier kvtier-fuse kvtier-blob-bench
bench_workdir mount-read
bench_start_azurite
mkdir -p "$work/mnt1" "$work/mnt2"
"$bin/kvtier-blob-bench" --endpoint "$blob_url" --container dataset --count 1 >/dev/null
head -c $((size_mib << 20)) /dev/urandom >"$work/shard.bin"
for name in shard-0.bin shard-1.bin; do
  curl -sf -H 'x-ms-blob-type: BlockBlob' -T "$work/shard.bin" "$blob_url/dataset/$name?$sas"
done

cat >"$work/kvtierd.yaml" <<YAML
server: {listen: 127.0.0.1:0, metrics_listen: 127.0.0.1:0}
tiers:
  dram: {capacity: $(( size_mib * 2 + 512 ))MiB}
  blob: {endpoint: '$blob_url', account: devstoreaccount1, key_env: KVTIER_BLOB_KEY}
namespaces:
  - {name: data, kind: dataset, origin: {container: dataset, block_bytes: $block}}
YAML
"$bin/kvtierd" --config "$work/kvtierd.yaml" --no-nvme --port-file "$work/port" \
  >"$work/kvtierd.log" 2>&1 &
bench_pids+=($!)
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port=$(sed -n 1p "$work/port")
metrics_port=$(sed -n 2p "$work/port")
"$bin/kvtier-fuse" --server "127.0.0.1:$port" "$work/mnt1"
"$bin/kvtier-fuse" --server "127.0.0.1:$port" "$work/mnt2"

seconds() { local start=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $start" | bc -l; }
origin_counter() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" |
    sed -n "s/^kvtier_tier_$1_total{tier=\"origin\/data\"} \([0-9]*\)\$/\1/p"
}
origin_reads() { origin_counter reads; }

# The setup wrote gigabytes (the source file, Azurite's copies): write them
# back now, not while the reads are timed.
sync
curl_cold=$(seconds curl -sf -o /dev/null "$blob_url/dataset/shard-0.bin?$sas")
mount_cold=$(seconds dd if="$work/mnt1/data/shard-0.bin" of=/dev/null bs=4M)
cold_requests=$(origin_counter requests)
# Warm through the second mount: its page cache is empty, so the blocks
# come from the server's DRAM, not from this node's kernel.
mount_warm=$(seconds dd if="$work/mnt2/data/shard-0.bin" of=/dev/null bs=4M)
cat_warm=$(seconds "$bin/kvtier" --server "127.0.0.1:$port" cat data shard-0.bin)
cmp "$work/shard.bin" "$work/mnt1/data/shard-0.bin"

before=$(origin_reads)
start=$(date +%s.%N)
readers=()
for i in 1 2 3 4; do
  dd if="$work/mnt1/data/shard-1.bin" of=/dev/null bs=4M 2>/dev/null &
  readers+=($!)
  dd if="$work/mnt2/data/shard-1.bin" of=/dev/null bs=4M 2>/dev/null &
  readers+=($!)
done
for pid in "${readers[@]}"; do wait "$pid"; done
fan_out=$(echo "$(date +%s.%N) - $start" | bc -l)
after=$(origin_reads)
blocks=$("$bin/kvtier" --server "127.0.0.1:$port" stat data shard-1.bin | awk '$1 == "blocks" {print $2}')

mibps() { echo "scale=0; $size_mib / $1" | bc -l; }
echo "| read of $size_mib MiB ($block blocks) | seconds | MiB/s | ratio |"
echo "|---|---:|---:|---:|"
echo "| curl GET of the blob from Azurite | $(printf %.2f "$curl_cold") | $(mibps "$curl_cold") | |"
echo "| cold: dd through the mount (blocks from Azurite) | $(printf %.2f "$mount_cold") | $(mibps "$mount_cold") | $(echo "scale=2; $curl_cold / $mount_cold" | bc -l)x of curl ($cold_requests ranged GETs) |"
echo "| kvtier cat (ReadRange, one connection), warm | $(printf %.2f "$cat_warm") | $(mibps "$cat_warm") | |"
echo "| warm: dd through the mount (blocks from DRAM) | $(printf %.2f "$mount_warm") | $(mibps "$mount_warm") | $(echo "scale=2; $cat_warm / $mount_warm" | bc -l)x of kvtier cat |"
echo "| 8 readers on 2 mounts, a fresh object | $(printf %.2f "$fan_out") | $(echo "scale=0; 8 * $size_mib / $fan_out" | bc -l) in all | origin reads $((after - before)) for $blocks blocks |"
