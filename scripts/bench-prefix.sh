#!/usr/bin/env bash
# Prefix hit ratios of kvtierd's eviction policies on generated trace shapes,
# through a real kvtierd (the embedded default but for the capacity and the
# policy), beside a textbook prefix-LRU and the offline Belady ceiling of the
# same capacity in blocks, DRAM only and DRAM over NVMe (10x DRAM). Writes
# the table into bench/RESULTS.md between its prefix-table markers.
#
# Usage: scripts/bench-prefix.sh [--requests N] [--capacities "B1 B2 ..."] [--quick]
#   --requests N    requests per trace shape [20000]
#   --capacities    DRAM capacities in blocks of 512 tokens [1953 5859 19531 97656]
#                   (1M, 3M, 10M and 50M tokens)
#   --nvme-policies policies also measured over NVMe ["density lru"]
#   --trace FILE    measure this trace (Mooncake JSONL, 512-token blocks) instead
#                   of the generated shapes, DRAM only, with the default policy and
#                   lru; repeatable. Prints the rows and writes nothing to RESULTS.
# Blocks are 4 KiB on the wire: the hit ratio depends on blocks, not bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=20000
capacities="1953 5859 19531 97656"
nvme_policies="density lru"
traces=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --capacities) capacities=$2; shift 2 ;;
    --nvme-policies) nvme_policies=$2; shift 2 ;;
    --trace) traces+=("$(realpath "$2")"); shift 2 ;;
    *) echo "usage: $0 [--requests N] [--capacities \"B ...\"] [--nvme-policies \"P ...\"] [--trace FILE]..." >&2; exit 2 ;;
  esac
done

build_dir=$(scripts/build.sh | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The run takes long: it uses copies, so a rebuild meanwhile changes nothing.
bin=$work/bin
mkdir -p "$bin"
cp "$build_dir/bin/kvtierd" "$build_dir/bin/kvtier-bench" "$build_dir/bin/kvtier-tracegen" "$bin/"
block_bytes=4096
# What one 4 KiB block under a trace key charges the DRAM tier (value,
# header, index entry, key): capacities are set so the tier holds that many.
block_charge=4492

declare -A shapes=(
  [chat]="--seed 3"
  [agent]="--seed 4 --agent-share 0.3"
  [shared-prompts]="--seed 5 --system-share 0.9 --system-blocks 4:32"
  [long-gaps]="--seed 6 --follow-up 0.5 --follow-up-gap 3000 --system-share 0.3"
  [cold]="--seed 7 --follow-up 0.2 --follow-up-gap 1000 --system-share 0.2 --agent-share 0"
)
shape_order="chat agent shared-prompts long-gaps cold"

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" <<<"$2" | head -n 1; }

# run TRACE BLOCKS POLICY SHARDS NVME(0|1): prints the trace JSON.
run() {
  local trace=$1 blocks=$2 policy=$3 shards=$4 nvme=$5
  local port=$((18000 + RANDOM % 2000))
  local dram=$((blocks * block_charge))
  local cfg=$work/kvtierd.yaml
  local tiers="[dram]" nvme_tier=""
  if [[ $nvme == 1 ]]; then
    tiers="[dram, nvme]"
    nvme_tier=", nvme: {directory: $work/nvme, capacity: $((dram * 10)), segment_bytes: 8MiB}"
  fi
  cat >"$cfg" <<CFG
server: {listen: 127.0.0.1:$port, metrics_listen: off}
log: {level: warn}
tiers: {dram: {capacity: $dram, shards: $shards, policy: $policy}$nvme_tier}
namespaces: [{name: kv, kind: kv, tiers: $tiers}]
CFG
  rm -rf "$work/nvme"
  "$bin/kvtierd" --config "$cfg" >"$work/kvtierd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do nc -z 127.0.0.1 "$port" && break; sleep 0.1; done
  local json
  json=$("$bin/kvtier-bench" --server "127.0.0.1:$port" --workload trace --trace "$trace" \
    --block-bytes "$block_bytes" --capacity-blocks "$blocks" --batch 64 --json) || {
    echo "bench-prefix: the run ($trace, $blocks blocks, $policy) failed:" >&2
    cat "$work/kvtierd.log" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  }
  kill "$pid"
  wait "$pid" || true
  echo "$json"
}

if [[ ${#traces[@]} -gt 0 ]]; then
  echo "| trace | blocks | density (default) | lru | textbook LRU | Belady | density/LRU |"
  echo "|---|---|---|---|---|---|---|"
  for trace in "${traces[@]}"; do
    for blocks in $capacities; do
      density=$(run "$trace" "$blocks" density 64 0)
      lru=$(run "$trace" "$blocks" lru 64 0)
      textbook=$(field lru_token_hit_ratio "$density")
      ratio=$(awk -v a="$(field token_hit_ratio "$density")" -v b="$textbook" \
        'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
      echo "| $(basename "$trace" .jsonl) | $blocks | $(field token_hit_ratio "$density") |" \
        "$(field token_hit_ratio "$lru") | $textbook | $(field belady_token_hit_ratio "$density") | $ratio |"
    done
  done
  exit 0
fi

rows=()
for shape in $shape_order; do
  # shellcheck disable=SC2086
  "$bin/kvtier-tracegen" --requests "$requests" ${shapes[$shape]} >"$work/$shape.jsonl"
  for blocks in $capacities; do
    row="$shape|$blocks"
    lru_sim="" belady=""
    for policy in density prefix lru s3fifo arc; do
      json=$(run "$work/$shape.jsonl" "$blocks" "$policy" 64 0)
      row+="|$(field token_hit_ratio "$json")"
      lru_sim=$(field lru_token_hit_ratio "$json")
      belady=$(field belady_token_hit_ratio "$json")
    done
    row+="|$lru_sim|$belady"
    for policy in $nvme_policies; do
      json=$(run "$work/$shape.jsonl" "$blocks" "$policy" 64 1)
      row+="|$(field token_hit_ratio "$json")"
    done
    echo "$row" >&2
    rows+=("$row")
  done
done
# The shard count: one eviction order whatever the shards.
shard_row="chat|5859"
for shards in 1 16 64; do
  json=$(run "$work/chat.jsonl" 5859 density "$shards" 0)
  shard_row+="|$(field token_hit_ratio "$json")"
done

table=$work/table.md
{
  echo "<!-- prefix-table: written by scripts/bench-prefix.sh -->"
  echo "## Prefix hit ratio by eviction policy"
  echo
  echo "\`scripts/bench-prefix.sh --requests $requests\` at $(git rev-parse --short HEAD): token-weighted"
  echo "prefix hit ratio of \`kvtier-bench --workload trace\` through kvtierd (64 shards, the policy"
  echo "named), DRAM holding the capacity in blocks of 512 tokens; textbook prefix-LRU and the"
  echo "offline Belady ceiling of the same capacity; DRAM over NVMe of 10x DRAM for the last"
  echo "columns. Trace shapes are \`kvtier-tracegen --requests $requests\` with:"
  for shape in $shape_order; do echo "- $shape: \`${shapes[$shape]}\`"; done
  echo
  printf '| shape | blocks | density (default) | prefix | lru | s3fifo | arc | textbook LRU | Belady | density/LRU |'
  for policy in $nvme_policies; do printf ' %s +NVMe |' "$policy"; done
  echo
  printf '|---|---|---|---|---|---|---|---|---|---|'
  for _ in $nvme_policies; do printf -- '---|'; done
  echo
  for row in "${rows[@]}"; do
    IFS='|' read -r -a c <<<"$row"
    ratio=$(awk -v a="${c[2]}" -v b="${c[7]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "${c[0]}" "${c[1]}" "${c[2]}" \
      "${c[3]}" "${c[4]}" "${c[5]}" "${c[6]}" "${c[7]}" "${c[8]}" "$ratio"
    for ((i = 9; i < ${#c[@]}; i++)); do printf ' %s |' "${c[$i]}"; done
    echo
  done
  echo
  IFS='|' read -r -a s <<<"$shard_row"
  echo "Shard count, density policy, chat at 5859 blocks: 1 shard ${s[2]}, 16 shards ${s[3]}, 64 shards ${s[4]}."
  echo "<!-- /prefix-table -->"
} >"$table"

# Replace the marked section of RESULTS.md (or append it).
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read()
path = "bench/RESULTS.md"
text = open(path).read()
pattern = re.compile(r"<!-- prefix-table.*?<!-- /prefix-table -->\n?", re.S)
text = pattern.sub(lambda _: table, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + table
open(path, "w").write(text)
PY
cat "$table"
