#!/usr/bin/env bash
# Side-by-side comparison of kvtier with redis-server and the machine's
# limits, on loopback. Builds Release into build-release/, starts kvtierd and
# redis-server with the same memory budget, measures the loopback ceiling
# (iperf3, one stream) and single-thread memcpy, runs each workload against
# both targets RUNS times, and rewrites bench/RESULTS.md with the medians and
# the ratios kvtier/redis and kvtier/ceiling.
#
# Usage: scripts/bench-compare.sh [--runs N] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
duration=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--duration SECONDS]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh >&2
if [[ ! -f build-release/CMakeCache.txt ]]; then
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVTIER_BUILD_TESTS=OFF >&2
fi
cmake --build build-release --parallel "$(nproc)" >&2
# Absolute: the tier run starts kvtierd from a directory of its own.
bin="$PWD/build-release/bin"

memory=3GiB
redis_memory=3gb
kvtier_port=17400
redis_port=17479
iperf_port=17520
work=$(mktemp -d)
cleanup() {
  [[ -n "${kvtier_pid:-}" ]] && kill "$kvtier_pid" 2>/dev/null || true
  [[ -n "${redis_pid:-}" ]] && kill "$redis_pid" 2>/dev/null || true
  [[ -n "${azurite_pid:-}" ]] && kill "$azurite_pid" 2>/dev/null || true
  [[ -n "${dataset_pid:-}" ]] && kill "$dataset_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# DRAM only, like redis: the NVMe tier is measured on its own below.
"$bin/kvtierd" --port "$kvtier_port" --dram-capacity "$memory" --no-nvme --log-level warn \
  --unix "$work/kvtierd.sock" >"$work/kvtierd.log" 2>&1 &
kvtier_pid=$!
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --maxmemory "$redis_memory" --maxmemory-policy allkeys-lru --dir "$work" \
  >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do
  if nc -z 127.0.0.1 "$kvtier_port" && nc -z 127.0.0.1 "$redis_port"; then break; fi
  sleep 0.1
done

# kvtierd's resident memory: the idle figure is its fixed overhead; the peak
# is sampled every 0.2 s for the whole run.
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss_idle=$(rss_kib "$kvtier_pid")
(
  peak=0
  while kill -0 "$kvtier_pid" 2>/dev/null; do
    now=$(rss_kib "$kvtier_pid" 2>/dev/null || echo 0)
    if [[ "${now:-0}" -gt "$peak" ]]; then peak=$now; echo "$peak" >"$work/rss_peak"; fi
    sleep 0.2
  done
) &

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
# field NAME FROM-JSON-LINE [OP]: the numeric field of operation OP (default: the first).
field() {
  local json=$2 op=${3:-}
  if [[ -n "$op" ]]; then json=$(grep -o "\"$op\": {[^}]*}" <<<"$json"); fi
  grep -o "\"$1\": [0-9.]*" <<<"$json" | head -1 | awk '{print $2}'
}

echo "measuring ceilings" >&2
iperf=$(for _ in $(seq "$runs"); do
  iperf3 -s -1 -B 127.0.0.1 -p "$iperf_port" >/dev/null 2>&1 &
  sleep 0.3
  iperf3 -c 127.0.0.1 -p "$iperf_port" -t "$duration" -J |
    grep -o '"bits_per_second":[[:space:]]*[0-9.e+]*' | tail -1 | awk -F: '{printf "%.3f\n", $2 / 8e9}'
  wait
done | median)
memcpy=$("$bin/kvtier-memcpy")

rows=()
# run NAME METRIC(gb_per_s|p50_us) OP ARGS...: median of RUNS runs on each
# target. The runs alternate between the targets, so that drift in the
# machine (a noisy neighbour, frequency changes) falls on both alike.
run() {
  local name=$1 metric=$2 op=$3
  shift 3
  local kvtier_runs=() redis_runs=() k r i
  for i in $(seq "$runs"); do
    kvtier_runs+=("$(field "$metric" "$("$bin/kvtier-bench" --server "127.0.0.1:$kvtier_port" --json \
      --duration "$duration" "$@")" "$op")")
    redis_runs+=("$(field "$metric" "$("$bin/kvtier-bench" --redis "127.0.0.1:$redis_port" --json \
      --duration "$duration" "$@")" "$op")")
  done
  k=$(printf '%s\n' "${kvtier_runs[@]}" | median)
  r=$(printf '%s\n' "${redis_runs[@]}" | median)
  echo "$name: kvtier $k redis $r ($metric)" >&2
  rows+=("$name|$metric|$k|$r|$*")
}

common=(--connections 2 --depth 4 --warmup 1)
run "put 2 MiB" gb_per_s put --workload put --value-size 2097152 --keys 512 "${common[@]}"
run "get 2 MiB" gb_per_s get --workload get --value-size 2097152 --keys 512 "${common[@]}"
run "put 256 KiB" gb_per_s put --workload put --value-size 262144 --keys 4096 "${common[@]}"
run "get 256 KiB" gb_per_s get --workload get --value-size 262144 --keys 4096 "${common[@]}"
run "batch get 32 x 256 KiB" gb_per_s get --workload get --value-size 262144 --keys 4096 \
  --batch 32 --connections 2 --depth 1 --warmup 1
run "match 128 keys, p50" p50_us match --workload match --match-keys 128 --connections 1 \
  --depth 1 --warmup 1
run "match 1 key, p50" p50_us match --workload match --match-keys 1 --connections 1 --depth 1 \
  --warmup 1
run "fanout 256 KiB" gb_per_s get --workload fanout --value-size 262144 --keys 64 "${common[@]}"

# The same kvtierd through its Unix socket with a shared region (copying
# client API, and values built in the region with --in-place) beside TCP,
# interleaved per run; medians.
shm_rows=()
for size in 262144 2097152; do
  keys=$(((1 << 30) / size))
  for op in put get; do
    tcp_runs=() shm_runs=() inplace_runs=()
    for i in $(seq "$runs"); do
      args=(--workload "$op" --value-size "$size" --keys "$keys" "${common[@]}" --duration "$duration" --json)
      tcp_runs+=("$(field gb_per_s "$("$bin/kvtier-bench" --server "127.0.0.1:$kvtier_port" "${args[@]}")" "$op")")
      shm_runs+=("$(field gb_per_s "$("$bin/kvtier-bench" --unix "$work/kvtierd.sock" "${args[@]}")" "$op")")
      inplace_runs+=("$(field gb_per_s "$("$bin/kvtier-bench" --unix "$work/kvtierd.sock" --in-place "${args[@]}")" "$op")")
    done
    t=$(printf '%s\n' "${tcp_runs[@]}" | median)
    s=$(printf '%s\n' "${shm_runs[@]}" | median)
    p=$(printf '%s\n' "${inplace_runs[@]}" | median)
    echo "shm $op $size: tcp $t shm $s in-place $p" >&2
    shm_rows+=("$((size / 1024)) KiB|$op|$t|$s|$p")
  done
done

# Writes of twice the DRAM capacity: eviction keeps up and memory stays bounded.
"$bin/kvtier-bench" --server "127.0.0.1:$kvtier_port" --workload put --value-size 262144 \
  --keys 24576 --ops 12288 --connections 2 --depth 4 --warmup 0 >/dev/null

# Prefix hit ratio on a synthetic multi-turn trace, on a dedicated 256 MiB
# kvtierd per eviction policy, against a textbook prefix-LRU simulation of the
# same capacity in blocks (derived from the server's budget).
"$bin/kvtier-tracegen" --requests 4000 --seed 11 >"$work/trace.jsonl"
trace_port=17401
for policy in prefix lru; do
  "$bin/kvtierd" --metrics-listen off --port "$trace_port" --dram-capacity 256MiB --dram-policy "$policy" \
    --no-nvme --log-level warn >"$work/trace-$policy.log" 2>&1 &
  trace_pid=$!
  for _ in $(seq 100); do nc -z 127.0.0.1 "$trace_port" && break; sleep 0.1; done
  trace_json=$("$bin/kvtier-bench" --server "127.0.0.1:$trace_port" --workload trace \
    --trace "$work/trace.jsonl" --block-bytes 65536 --json)
  kill "$trace_pid"
  wait "$trace_pid" || true
  printf -v "trace_$policy" '%s' "$(field block_hit_ratio "$trace_json")"
  trace_lru_sim=$(field lru_block_hit_ratio "$trace_json")
  trace_blocks=$(field lru_capacity_blocks "$trace_json")
done
rss_peak=$(cat "$work/rss_peak" 2>/dev/null || echo 0)

# The NVMe tier's layout against values inside RocksDB, same workload.
nvme_compare=$("$bin/kvtier-nvme-compare" --dir "$work/nvme-compare" --value-size 2MiB --write 2GiB)

# The tier stack with the embedded default (DRAM 1 GiB over NVMe 8 GiB under
# ./var/kvtier): 3 GiB of distinct 2 MiB blocks, read back, kill -9, restart,
# read back again.
tiers_port=17402
mkdir -p "$work/tiers"
start_default() {
  (cd "$work/tiers" && exec "$bin/kvtierd" --metrics-listen off --port "$tiers_port" --log-level warn \
    >>"$work/tiers/kvtierd.log" 2>&1) &
  tiers_pid=$!
  for _ in $(seq 100); do nc -z 127.0.0.1 "$tiers_port" && break; sleep 0.1; done
}
tier_bench() {
  "$bin/kvtier-bench" --server "127.0.0.1:$tiers_port" --namespace demo --workload "$1" \
    --value-size 2097152 --keys 1536 --ops 1536 --warmup 0 --verify --json
}
start_default
tiers_rss_idle=$(rss_kib "$tiers_pid")
tiers_put=$(tier_bench put)
tiers_scan=$(tier_bench scan)
tiers_rss_peak=$(awk '/VmHWM/ {print $2}' "/proc/$tiers_pid/status")
kill -9 "$tiers_pid"
wait "$tiers_pid" 2>/dev/null || true
start_default
tiers_restart=$(tier_bench scan)
kill "$tiers_pid"
wait "$tiers_pid" || true

# The Blob tier against curl on one Azurite, 4 MiB blocks, one stream each,
# RUNS rounds interleaved; curl reuses one connection for all blobs of a step.
mkdir -p "$work/azurite"
scripts/start-azurite.sh 0 "$work/azurite" >"$work/azurite.log" 2>&1 &
azurite_pid=$!
azurite_version=$(awk -F'"' '/"version"/ {print $4; exit}' .azurite/node_modules/azurite/package.json)
for _ in $(seq 300); do grep -q 'listens on' "$work/azurite.log" && break; sleep 0.1; done
azurite_port=$(grep -o 'listens on http://127.0.0.1:[0-9]*' "$work/azurite.log" | cut -d: -f3)
export KVTIER_BLOB_ACCOUNT=devstoreaccount1
export KVTIER_BLOB_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
blob_url="http://127.0.0.1:$azurite_port/devstoreaccount1"
blob_count=32
sas=$("$bin/kvtier-blob-bench" --print-sas rwdlc)
head -c $((4 << 20)) /dev/urandom >"$work/block.bin"
curl_gbps() {  # STEP(put|get): GB/s of one curl process over blob_count blobs
  local args=() start end
  for i in $(seq 0 $((blob_count - 1))); do
    if [[ $1 == put ]]; then
      args+=(-T "$work/block.bin" "$blob_url/curlbench/b-$i?$sas")
    else
      args+=("$blob_url/curlbench/b-$i?$sas" -o /dev/null)
    fi
  done
  start=$(date +%s.%N)
  if [[ $1 == put ]]; then
    curl -sf -H 'x-ms-blob-type: BlockBlob' "${args[@]}" -o /dev/null
  else
    curl -sf "${args[@]}"
  fi
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$blob_count" 'BEGIN {printf "%.3f\n", n * 4194304 / (e - s) / 1e9}'
}
"$bin/kvtier-blob-bench" --endpoint "$blob_url" --container curlbench --count 1 >/dev/null  # creates the container
blob_put_runs=() blob_get_runs=() curl_put_runs=() curl_get_runs=()
for _ in $(seq "$runs"); do
  out=$("$bin/kvtier-blob-bench" --endpoint "$blob_url" --container tierbench --value-size 4MiB \
    --count "$blob_count")
  blob_put_runs+=("$(awk '$1 == "put" {print $5}' <<<"$out")")
  blob_get_runs+=("$(awk '$1 == "get" {print $5}' <<<"$out")")
  curl_put_runs+=("$(curl_gbps put)")
  curl_get_runs+=("$(curl_gbps get)")
done

# Dataset read-through: 32 clients read one block of an object that is only
# in the origin container, all at once; the server counts origin reads.
head -c $((64 << 20)) /dev/urandom >"$work/object.bin"
"$bin/kvtier-blob-bench" --endpoint "$blob_url" --container training --count 1 >/dev/null
curl -sf -H 'x-ms-blob-type: BlockBlob' -T "$work/object.bin" \
  "$blob_url/training/shards/train-0001.bin?$sas" -o /dev/null
# The cold objects of the mount runs below, written before the server
# starts: it lists the container once and answers from that listing.
for i in $(seq "$runs"); do
  curl -sf -H 'x-ms-blob-type: BlockBlob' -T "$work/object.bin" \
    "$blob_url/training/shards/cold-$i.bin?$sas" -o /dev/null
done
cat >"$work/dataset.yaml" <<YAML
tiers:
  dram: {capacity: 1GiB}
  blob: {endpoint: '$blob_url', account: devstoreaccount1, key_env: KVTIER_BLOB_KEY}
namespaces:
  - {name: dataset, kind: dataset, tiers: [dram], origin: {container: training, prefix: shards/, block_bytes: 4MiB}}
YAML
dataset_port=17403
"$bin/kvtierd" --config "$work/dataset.yaml" --metrics-listen off --port "$dataset_port" --log-level warn \
  >"$work/dataset-kvtierd.log" 2>&1 &
dataset_pid=$!
for _ in $(seq 100); do nc -z 127.0.0.1 "$dataset_port" && break; sleep 0.1; done
dataset_readers=$("$bin/kvtier-dataset-readers" --server "127.0.0.1:$dataset_port" \
  --namespace dataset --object train-0001.bin --block 5 --readers 32 --expect "$work/object.bin")

# Files: the 64 MiB object read with cat through a kvtier-fuse mount, each
# run on a new mount (its own page cache), against curl from Blob. Cold: a
# new object per run, so every block comes from the origin; warm: the
# object the server holds in DRAM (what every other node of the rack sees).
mount_cat_gbps() {  # FILE -> GB/s of one cat through a new mount
  local dir="$work/mnt" start end
  mkdir -p "$dir"
  "$bin/kvtier-fuse" --server "127.0.0.1:$dataset_port" "$dir"
  start=$(date +%s.%N)
  cat "$dir/dataset/$1" >/dev/null || { fusermount3 -u "$dir"; echo "mount read of $1 failed" >&2; exit 1; }
  end=$(date +%s.%N)
  fusermount3 -u "$dir"
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f\n", 67108864 / (e - s) / 1e9}'
}
curl_object_gbps() {  # BLOB -> GB/s of one curl of it
  local start end
  start=$(date +%s.%N)
  curl -sf "$blob_url/training/shards/$1?$sas" -o /dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f\n", 67108864 / (e - s) / 1e9}'
}
mount_cold_runs=() mount_warm_runs=() curl_object_runs=()
for i in $(seq "$runs"); do
  curl_object_runs+=("$(curl_object_gbps "cold-$i.bin")")
  mount_cold_runs+=("$(mount_cat_gbps "cold-$i.bin")")
  mount_warm_runs+=("$(mount_cat_gbps train-0001.bin)")
done
mount_cold=$(printf '%s\n' "${mount_cold_runs[@]}" | median)
mount_warm=$(printf '%s\n' "${mount_warm_runs[@]}" | median)
curl_object=$(printf '%s\n' "${curl_object_runs[@]}" | median)
kill "$dataset_pid" 2>/dev/null || true
kill "$azurite_pid" 2>/dev/null || true
# Request classes: KV reads beside a bulk stream, once with the bulk
# namespace in the bulk class and once with everything in the latency class.
fairness() {  # CLASS(bulk|latency) -> kvtier-fairness output
  local cls=$1 port=17404 dir="$work/fairness-$1"
  mkdir -p "$dir"
  cat >"$dir/kvtier.yaml" <<YAML
tiers:
  dram: {capacity: 32MiB}
  nvme: {directory: $dir/nvme, capacity: 512MiB}
  workers: {threads: 2}
namespaces:
  - {name: kv}
  - {name: data, class: $cls}
YAML
  "$bin/kvtierd" --config "$dir/kvtier.yaml" --metrics-listen off --port "$port" --log-level warn >"$dir/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do nc -z 127.0.0.1 "$port" && break; sleep 0.1; done
  "$bin/kvtier-fairness" --server "127.0.0.1:$port" --kv-namespace kv --bulk-namespace data \
    --blocks 256 --kv-reads 2000 --bulk-streams 4 --bulk-client "$([[ $cls == bulk ]] && echo 1 || echo 0)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
fairness_bulk=$(fairness bulk)
fairness_latency=$(fairness latency)

blob_put=$(printf '%s\n' "${blob_put_runs[@]}" | median)
blob_get=$(printf '%s\n' "${blob_get_runs[@]}" | median)
curl_put=$(printf '%s\n' "${curl_put_runs[@]}" | median)
curl_get=$(printf '%s\n' "${curl_get_runs[@]}" | median)

machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
{
  echo "# Benchmark results"
  echo
  echo "Written by \`scripts/bench-compare.sh --runs $runs --duration $duration\`; do not edit by hand."
  echo
  echo "- Machine: $machine"
  echo "- Date: $(date -u +%Y-%m-%d), kvtier $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- Targets on loopback, each with a $memory memory budget: kvtierd (DRAM tier) and"
  echo "  $(redis-server --version | awk '{print $3}' | tr -d 'v=') (\`--save '' --appendonly no --maxmemory $redis_memory\`)."
  echo "- Ceilings: iperf3 one stream $iperf GB/s; single-thread memcpy $memcpy GB/s."
  echo "- Figures are medians of $runs runs of $duration s. For redis, match of N keys is N"
  echo "  pipelined EXISTS in one round trip; batch get is MGET."
  echo "- kvtierd memory: idle RSS $((rss_idle / 1024)) MiB (its fixed overhead); peak RSS over the whole"
  echo "  run, which ends with writes of twice the capacity, $((rss_peak / 1024)) MiB; bound"
  echo "  capacity x 1.05 + idle = $(awk -v i="$rss_idle" 'BEGIN {printf "%d", 3 * 1024 * 1.05 + i / 1024}') MiB."
  echo "- Trace replay (\`kvtier-tracegen --requests 4000 --seed 11\`, 64 KiB"
  echo "  blocks, a dedicated kvtierd with a 256 MiB DRAM tier): prefix hit ratio by blocks"
  echo "  $trace_prefix with the prefix policy, $trace_lru with lru; a textbook prefix-LRU of the"
  echo "  same $trace_blocks blocks: $trace_lru_sim."
  echo
  echo "| workload | metric | kvtier | redis | kvtier/redis | kvtier/iperf3 | kvtier-bench arguments |"
  echo "|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    IFS='|' read -r name metric k r args <<<"$row"
    if [[ "$metric" == p50_us ]]; then
      ratio=$(awk -v k="$k" -v r="$r" 'BEGIN {printf "%.2f", k / r}')
      ceiling="-"
      unit="p50 us (lower is better)"
    else
      ratio=$(awk -v k="$k" -v r="$r" 'BEGIN {printf "%.2f", k / r}')
      ceiling=$(awk -v k="$k" -v c="$iperf" 'BEGIN {printf "%.2f", k / c}')
      unit="GB/s"
    fi
    echo "| $name | $unit | $k | $r | $ratio | $ceiling | \`$args\` |"
  done
  echo
  echo "## Shared memory (same host)"
  echo
  echo "The same kvtierd through its Unix socket (\`--unix\`), each client with a 256 MiB shared region,"
  echo "beside TCP; \`--connections 2 --depth 4 --warmup 1\`, working set 1 GiB, medians of $runs runs"
  echo "of $duration s, interleaved. *shm* is the copying client API (values copied into the region);"
  echo "*in place* builds put values in the region (\`Client::AllocateShared\`, \`kvtier-bench --in-place\`)."
  echo "Gets use the same path in both (the server copies into the region; the client reads the"
  echo "values where they lie). Single-thread memcpy: $memcpy GB/s."
  echo
  echo "| value | op | TCP GB/s | shm GB/s | in place GB/s | shm/TCP | in place/TCP | in place/memcpy |"
  echo "|---|---|---|---|---|---|---|---|"
  for row in "${shm_rows[@]}"; do
    IFS='|' read -r size op t s p <<<"$row"
    echo "| $size | $op | $t | $s | $p | $(awk -v a="$s" -v b="$t" 'BEGIN {printf "%.2f", a / b}') | $(awk -v a="$p" -v b="$t" 'BEGIN {printf "%.2f", a / b}') | $(awk -v a="$p" -v b="$memcpy" 'BEGIN {printf "%.2f", a / b}') |"
  done
  echo
  echo "## Tiers: DRAM over NVMe"
  echo
  echo "kvtierd with the embedded default (DRAM 1 GiB, NVMe 8 GiB, demotion queue 128 MiB),"
  echo "one connection, depth 1, \`kvtier-bench --namespace demo --value-size 2097152 --keys 1536"
  echo "--ops 1536 --warmup 0 --verify\`:"
  echo
  echo "| step | GB/s | hit ratio | verify failures |"
  echo "|---|---|---|---|"
  for step in put scan restart; do
    json_var="tiers_$step"
    json="${!json_var}"
    kind=get
    hit_ratio=-
    if [[ $step == put ]]; then kind=put; else hit_ratio=$(field hit_ratio "$json" get); fi
    echo "| $step (\`--workload ${step/restart/scan}\`$([[ $step == restart ]] && echo ' after kill -9')) | $(field gb_per_s "$json" "$kind") | $hit_ratio | $(field verify_failures "$json" "$kind") |"
  done
  echo
  echo "- Peak RSS while writing 3 GiB and reading it back: $((tiers_rss_peak / 1024)) MiB; idle"
  echo "  $((tiers_rss_idle / 1024)) MiB; bound DRAM 1024 MiB + demotion queue 128 MiB + idle ="
  echo "  $((1152 + tiers_rss_idle / 1024)) MiB."
  echo "- After kill -9 the blocks NVMe held read back; those only in DRAM are gone."
  echo
  echo "NVMe layout (\`kvtier-nvme-compare --value-size 2MiB --write 2GiB\`, 256 MiB capacity,"
  echo "FIFO): write amplification is bytes the process wrote to storage (/proc/self/io,"
  echo "compaction threads included) over user bytes."
  echo
  echo '```'
  echo "$nvme_compare"
  echo '```'
  echo
  echo "## Blob tier against curl"
  echo
  echo "One Azurite $azurite_version on loopback, $blob_count blobs of 4 MiB, one stream each, median of"
  echo "$runs rounds. kvtier: \`KVTIER_BLOB_ACCOUNT=... KVTIER_BLOB_KEY=... kvtier-blob-bench --endpoint URL"
  echo "--container tierbench --value-size 4MiB --count $blob_count\` (BlobTier::Put, then Get with the checksum"
  echo "verified). curl: one process per step over the same blob count with an account SAS,"
  echo "\`curl -T block.bin URL1?SAS -T block.bin URL2?SAS ...\` and \`curl URL1?SAS -o /dev/null ...\`."
  echo
  echo "| step | kvtier GB/s | curl GB/s | kvtier/curl |"
  echo "|---|---|---|---|"
  echo "| put 4 MiB | $blob_put | $curl_put | $(awk -v a="$blob_put" -v b="$curl_put" 'BEGIN {printf "%.2f", a / b}') |"
  echo "| get 4 MiB | $blob_get | $curl_get | $(awk -v a="$blob_get" -v b="$curl_get" 'BEGIN {printf "%.2f", a / b}') |"
  echo
  echo "Dataset read-through: 32 clients, each on its own connection, read block 5 (4 MiB) of a"
  echo "64 MiB object that only the origin container holds, all at once (\`kvtier-dataset-readers"
  echo "--namespace dataset --object train-0001.bin --block 5 --readers 32 --expect object.bin\`"
  echo "against a kvtierd whose \`dataset\` namespace reads through to that container):"
  echo
  echo "    $dataset_readers"
  echo
  echo "Dataset files: \`cat\` of a 64 MiB object through a \`kvtier-fuse\` mount of that server (a new"
  echo "mount per run, so no page cache carries over), beside \`curl\` of the same bytes from Azurite"
  echo "with a SAS; median of $runs. Cold: an object no one has read (every 4 MiB block comes from the"
  echo "origin through the server); warm: the object the server already holds (what the other"
  echo "nodes of a rack see after the first one read it)."
  echo
  echo "| read | GB/s | /curl from Blob |"
  echo "|---|---|---|"
  echo "| curl from Blob | $curl_object | 1.00 |"
  echo "| mount, cold | $mount_cold | $(awk -v a="$mount_cold" -v b="$curl_object" 'BEGIN {printf "%.2f", a / b}') |"
  echo "| mount, warm | $mount_warm | $(awk -v a="$mount_warm" -v b="$curl_object" 'BEGIN {printf "%.2f", a / b}') |"
  echo
  echo "## Request classes: KV reads beside a bulk stream"
  echo
  echo "kvtierd with 32 MiB of DRAM over NVMe and 2 worker threads; 256 blocks of 256 KiB in each of"
  echo "two namespaces. One connection times 2000 random KV Gets alone, then while 4 connections read"
  echo "batches of 8 random blocks of the other namespace (\`kvtier-fairness --kv-namespace kv"
  echo "--bulk-namespace data --blocks 256 --kv-reads 2000 --bulk-streams 4\`). One run each: the bulk"
  echo "namespace in the bulk class (\`class: bulk\`, clients marked bulk), then in the latency class."
  echo
  echo "| bulk namespace class | KV p50 alone us | KV p99 alone us | KV p50 with bulk us | KV p99 with bulk us | bulk GB/s |"
  echo "|---|---|---|---|---|---|"
  for cls in bulk latency; do
    out=$fairness_bulk
    [[ $cls == latency ]] && out=$fairness_latency
    echo "| $cls | $(awk '$1 == "kv_alone" {print $3}' <<<"$out") | $(awk '$1 == "kv_alone" {print $5}' <<<"$out") | $(awk '$1 == "kv_with_bulk" {print $3}' <<<"$out") | $(awk '$1 == "kv_with_bulk" {print $5}' <<<"$out") | $(awk '$1 == "bulk_gbps" {print $2}' <<<"$out") |"
  done
} >bench/RESULTS.md.new
# The prefix hit ratio table is scripts/bench-prefix.sh's: kept as it is.
if [[ -f bench/RESULTS.md ]] && grep -q '<!-- prefix-table' bench/RESULTS.md; then
  { echo; sed -n '/<!-- prefix-table/,/<!-- \/prefix-table -->/p' bench/RESULTS.md; } >>bench/RESULTS.md.new
fi
# So is the checkpoint table (scripts/bench-checkpoint.sh, recorded by hand).
if [[ -f bench/RESULTS.md ]] && grep -q '<!-- checkpoint-table' bench/RESULTS.md; then
  { echo; sed -n '/<!-- checkpoint-table/,/<!-- \/checkpoint-table -->/p' bench/RESULTS.md; } >>bench/RESULTS.md.new
fi
mv bench/RESULTS.md.new bench/RESULTS.md
cat bench/RESULTS.md
