#!/usr/bin/env bash
# Sequential reads of dataset objects through kvtier-fuse mounts, side by
# side in one run (docs/training.md):
#   - cold: the first dd of an object through a mount (every block read from
#     Azurite, the origin) against curl reading the same blob from Azurite
#     just before, for KVTIER_BENCH_COLD_OBJECTS objects (default 3) in
#     turn, on a mount with --page-cache and on a mount with the defaults
#     (which reads a file of 64 MiB or more with direct I/O, on Linux 6.6
#     and later); the median pair of each is the result (this VM's speed
#     varies 2x from one minute to the next);
#   - warm: dd through a second --page-cache mount (blocks from the
#     server's DRAM, not this node's page cache, which is dropped before
#     each round: root) and through the default mount, three rounds each, against
#     `kvtier cat` (the C++ client's ReadRange, one connection) of the object;
#   - fan-out: 8 readers on 2 mounts reading a second object at once; the
#     origin's read counter must equal the object's block count exactly.
# kvtierd runs as configs/rack.yaml has it: tiers.dram.prefault on.
# Builds Release into build-release/; needs /dev/fuse, fuse3 and Azurite
# (scripts/setup.sh). Usage: scripts/bench-mount-read.sh [SIZE_MIB] [BLOCK]
# (defaults 1024 and 4MiB). KVTIER_BENCH_BUILD=DIR uses binaries already
# built in DIR instead.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-1024}
block=${2:-4MiB}
cold_objects=${KVTIER_BENCH_COLD_OBJECTS:-3}
source scripts/bench-common.sh
bench_build kvtierd kvtier kvtier-fuse kvtier-blob-bench
bench_workdir mount-read
bench_start_azurite
mkdir -p "$work/mnt1" "$work/mnt2" "$work/mnt3"
"$bin/kvtier-blob-bench" --endpoint "$blob_url" --container dataset --count 1 >/dev/null
head -c $((size_mib << 20)) /dev/urandom >"$work/shard.bin"
objects=(shard-0.bin shard-1.bin $(seq -f 'cold-%g.bin' 1 "$cold_objects")
  $(seq -f 'cold-direct-%g.bin' 1 "$cold_objects"))
for name in "${objects[@]}"; do
  curl -sf -H 'x-ms-blob-type: BlockBlob' -T "$work/shard.bin" "$blob_url/dataset/$name?$sas"
done

# Room for every object: the fan-out's count must not see an eviction.
cat >"$work/kvtierd.yaml" <<YAML
server: {listen: 127.0.0.1:0, metrics_listen: 127.0.0.1:0}
tiers:
  dram: {capacity: $((size_mib * ${#objects[@]} + 512))MiB, prefault: true}
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
"$bin/kvtier-fuse" --server "127.0.0.1:$port" --page-cache "$work/mnt1"
"$bin/kvtier-fuse" --server "127.0.0.1:$port" --page-cache "$work/mnt2"
"$bin/kvtier-fuse" --server "127.0.0.1:$port" "$work/mnt3"

mibps() { echo "scale=0; $size_mib / $1" | bc -l; }
seconds() { local start=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $start" | bc -l; }
origin_counter() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" |
    sed -n "s/^kvtier_tier_$1_total{tier=\"origin\/data\"} \([0-9]*\)\$/\1/p"
}
origin_reads() { origin_counter reads; }

# The setup wrote gigabytes (the source file, Azurite's copies) and the
# server made its memory resident: let both finish before anything is timed.
sync
for _ in $(seq 600); do grep -q 'resident in' "$work/kvtierd.log" && break; sleep 0.1; done

# Cold pairs: curl reads an object from Azurite, then dd reads it through
# a mount (every block from Azurite), one object after the other, so each
# pair shares this VM's conditions of the moment.
cold_rows=()
# cold_pairs MOUNT PREFIX LABEL: sets `median` (of the ratios), adds to cold_rows.
cold_pairs() {
  local ratios=() i requests_before curl_s mount_s requests
  for i in $(seq 1 "$cold_objects"); do
    requests_before=$(origin_counter requests)
    curl_s=$(seconds curl -sf -o /dev/null "$blob_url/dataset/$2-$i.bin?$sas")
    mount_s=$(seconds dd if="$work/$1/data/$2-$i.bin" of=/dev/null bs=4M)
    requests=$(($(origin_counter requests) - requests_before))
    ratios+=("$(echo "scale=2; $curl_s / $mount_s" | bc -l)")
    cold_rows+=("| cold pair $i, $3: curl GET from Azurite, then dd through the mount | $(printf %.2f "$curl_s") / $(printf %.2f "$mount_s") | $(mibps "$curl_s") / $(mibps "$mount_s") | ${ratios[-1]}x of curl ($requests ranged GETs) |")
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((cold_objects + 1) / 2))p")
}
cold_pairs mnt1 cold "--page-cache"
median_cached=$median
cold_pairs mnt3 cold-direct "default (direct I/O)"
median_direct=$median
cmp "$work/shard.bin" "$work/mnt1/data/cold-1.bin"
cmp "$work/shard.bin" "$work/mnt3/data/cold-direct-1.bin"
# The object the warm rows read, first made warm by a read through mount 1.
dd if="$work/mnt1/data/shard-0.bin" of=/dev/null bs=4M 2>/dev/null
# Warm, three rounds of: kvtier cat, dd through the second mount (its page
# cache emptied first, so the blocks come from the server's DRAM, not from
# this node's kernel), dd through the default mount. Medians count.
cat_times=() mount_times=() direct_times=()
for _ in 1 2 3; do
  cat_times+=("$(seconds "$bin/kvtier" --server "127.0.0.1:$port" cat data shard-0.bin)")
  sync
  echo 1 >/proc/sys/vm/drop_caches
  mount_times+=("$(seconds dd if="$work/mnt2/data/shard-0.bin" of=/dev/null bs=4M)")
  direct_times+=("$(seconds dd if="$work/mnt3/data/shard-0.bin" of=/dev/null bs=4M)")
done
median_of() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
cat_warm=$(median_of "${cat_times[@]}")
mount_warm=$(median_of "${mount_times[@]}")
direct_warm=$(median_of "${direct_times[@]}")

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

echo "| read of $size_mib MiB ($block blocks) | seconds | MiB/s | ratio |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${cold_rows[@]}"
echo "| cold, --page-cache mount: median of the $cold_objects pairs | | | ${median_cached}x of curl |"
echo "| cold, default mount (direct I/O): median of the $cold_objects pairs | | | ${median_direct}x of curl |"
echo "| kvtier cat (ReadRange, one connection), warm, median of 3 | $(printf %.2f "$cat_warm") | $(mibps "$cat_warm") | |"
echo "| warm: dd through the --page-cache mount (blocks from DRAM), median of 3 | $(printf %.2f "$mount_warm") | $(mibps "$mount_warm") | $(echo "scale=2; $cat_warm / $mount_warm" | bc -l)x of kvtier cat |"
echo "| warm: dd through the default mount (direct I/O), median of 3 | $(printf %.2f "$direct_warm") | $(mibps "$direct_warm") | $(echo "scale=2; $cat_warm / $direct_warm" | bc -l)x of kvtier cat |"
echo "| 8 readers on 2 mounts, a fresh object | $(printf %.2f "$fan_out") | $(echo "scale=0; 8 * $size_mib / $fan_out" | bc -l) in all | origin reads $((after - before)) for $blocks blocks |"
