#!/usr/bin/env bash
# Crash loop: mixed load on a write-through namespace (`durable`) and a
# write-back one (`cache`), values of 16 KiB to 2 MiB, while kvtierd is
# killed with SIGKILL at random times and restarted. After every restart
# every key the journal names is read back: zero reads of bytes that were
# never written for that key, and every acknowledged write-through put
# (with nothing attempted after it) present (kvtier-crash-check).
#
# Usage: scripts/crash-test.sh [--cycles N | --seconds S] [--seed N] [--bin-dir DIR]
# Prints its seed; the same seed replays the same operations and kill times
# (the timing of the kill against the load still varies).
set -euo pipefail
cd "$(dirname "$0")/.."

cycles=3
seconds=0
seed=$((RANDOM * 32768 + RANDOM))
bin=build/bin
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cycles) cycles=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --bin-dir) bin=$2; shift 2 ;;
    *) echo "usage: $0 [--cycles N | --seconds S] [--seed N] [--bin-dir DIR]" >&2; exit 2 ;;
  esac
done
echo "crash-test: seed $seed"
RANDOM=$seed

work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill -9 "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# NVMe far larger than what the load writes, so no durable block is evicted
# for room; DRAM small, so write-back blocks demote and evict.
cat >"$work/kvtier.yaml" <<YAML
server: {listen: 127.0.0.1:0, metrics_listen: 'off'}
tiers:
  dram: {capacity: 64MiB}
  nvme: {directory: $work/nvme, capacity: 16GiB}
namespaces:
  - {name: durable, tiers: [dram, nvme], write_mode: write_through}
  - {name: cache, tiers: [dram, nvme], write_mode: write_back}
YAML

start_server() {
  rm -f "$work/port"
  "$bin/kvtierd" --config "$work/kvtier.yaml" --port-file "$work/port" --log-level warn \
    >>"$work/kvtierd.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    [[ -s "$work/port" ]] && break
    sleep 0.05
  done
  port=$(head -1 "$work/port" 2>/dev/null || true)
  if [[ -z "$port" ]]; then
    echo "crash-test: kvtierd did not start" >&2
    cat "$work/kvtierd.log" >&2
    exit 1
  fi
}

check() {
  if ! "$bin/kvtier-crash-check" check --port "$port" --journal "$work/journal"; then
    echo "crash-test: FAILED after cycle $1 (seed $seed)" >&2
    tail -20 "$work/kvtierd.log" >&2
    exit 1
  fi
}

start=$(date +%s)
cycle=0
while :; do
  cycle=$((cycle + 1))
  if [[ $seconds -gt 0 ]]; then
    (($(date +%s) - start >= seconds)) && break
  elif ((cycle > cycles)); then
    break
  fi
  start_server
  [[ $cycle -gt 1 ]] && check $((cycle - 1))
  "$bin/kvtier-crash-check" load --port "$port" --journal "$work/journal" \
    --seed $((seed + cycle)) --seconds 60 &
  load_pid=$!
  # Kill somewhere between 0.3 s and 2.3 s into the load.
  sleep "$(awk -v r=$((RANDOM % 2000)) 'BEGIN {printf "%.3f", 0.3 + r / 1000}')"
  kill -9 "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  wait "$load_pid" || true
  echo "crash-test: cycle $cycle killed"
done
start_server
check "$((cycle - 1))"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
echo "crash-test: $((cycle - 1)) kill -9 cycles, no wrong bytes, no lost durable write (seed $seed)"
