#!/usr/bin/env bash
# redis-benchmark against kvtier's RESP endpoint and against redis-server,
# side by side in one run, on this machine's loopback:
#   SET, GET, MSET (10 keys; redis-benchmark's own test) and MGET of 10 keys
#   (a custom command over the keys SET wrote), for 64 KiB and 1 MiB values,
#   at -P 16 -c 8. redis-server runs without persistence; kvtierd with its
#   embedded default apart from a DRAM tier large enough and no NVMe tier, so
#   both serve from memory.
# Prints a Markdown table of requests per second and kvtier / redis-server.
# Builds Release into build-release/ (KVTIER_BENCH_BUILD=DIR uses binaries
# already built in DIR). Needs redis-server and redis-tools (scripts/setup.sh).
# Usage: scripts/bench-resp.sh [REQUESTS_64K] [REQUESTS_1M] (default 20000 2000)
set -euo pipefail
cd "$(dirname "$0")/.."

requests_64k=${1:-20000}
requests_1m=${2:-2000}
build_dir=${KVTIER_BENCH_BUILD:-build-release}
if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVTIER_BUILD_TESTS=OFF >&2
fi
cmake --build "$build_dir" --parallel "$(nproc)" --target kvtierd >&2
bin="$PWD/$build_dir/bin"

work=$(mktemp -d)
cleanup() {
  [[ -n "${kvtier_pid:-}" ]] && kill "$kvtier_pid" 2>/dev/null || true
  [[ -n "${redis_pid:-}" ]] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port=$(( 20000 + RANDOM % 20000 ))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
"$bin/kvtierd" --port 0 --metrics-listen off --no-nvme --dram-capacity 8GiB \
  --resp-listen 127.0.0.1:0 --port-file "$work/port" >"$work/kvtierd.log" 2>&1 &
kvtier_pid=$!
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
kvtier_port=$(sed -n 4p "$work/port")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# requests per second of one redis-benchmark run: PORT SIZE REQUESTS ARGS...
rps() {
  local port=$1 size=$2 requests=$3
  shift 3
  redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -d "$size" -P 16 -c 8 --csv "$@" \
    2>/dev/null | tail -n 1 | cut -d'"' -f4
}

mget_args=(mget)
for _ in $(seq 10); do mget_args+=(key:__rand_int__); done

echo "| value | command | redis-server req/s | kvtier req/s | kvtier / redis-server |"
echo "|---|---|---:|---:|---:|"
for size in 65536 1048576; do
  requests=$requests_64k
  label="64 KiB"
  if ((size == 1048576)); then requests=$requests_1m; label="1 MiB"; fi
  for test in set get mset mget; do
    if [[ $test == mget ]]; then
      args=("${mget_args[@]}")
      name="MGET (10 keys)"
    else
      args=(-t "$test")
      name=$(echo "$test" | tr a-z A-Z)
      [[ $test == mset ]] && name="MSET (10 keys)"
    fi
    redis=$(rps "$redis_port" "$size" "$requests" "${args[@]}")
    kvtier=$(rps "$kvtier_port" "$size" "$requests" "${args[@]}")
    ratio=$(awk -v k="$kvtier" -v r="$redis" 'BEGIN { if (r > 0) printf "%.2fx", k / r; else print "-" }')
    echo "| $label | $name | $redis | $kvtier | $ratio |"
  done
done
