#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/) for a bounded time each.
# Builds them with clang, AddressSanitizer and UBSan into build-fuzz/, seeds
# each target's corpus (build-fuzz/corpus/<target>, kept between runs) with
# kvtier-fuzz-seeds, and fuzzes with the protocol dictionary. An input that
# crashes is copied into tests/fuzz/regressions/<target>/, which every
# ordinary build replays, and the script fails.
#
# Usage: scripts/fuzz.sh [--seconds N] [--target frames|service|resp|blob_http|all]
#                        [--no-build | --build-only]
#   --seconds N   per target (default 600)
#   --no-build    use build-fuzz/ as it is; exit 77 (skip) when it is absent
#   --build-only  build the targets and stop
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=(frames service resp blob_http)
build=1
run=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --target) [[ "$2" == all ]] || targets=("$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    --build-only) run=0; shift ;;
    *) echo "usage: $0 [--seconds N] [--target frames|service|resp|blob_http|all] [--no-build|--build-only]" >&2
       exit 2 ;;
  esac
done

dir=build-fuzz
if ((build)); then
  if ! command -v clang++ >/dev/null; then
    echo "fuzz: clang++ is missing (scripts/setup.sh installs it)" >&2
    exit 1
  fi
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then
    generator=()
    if command -v ninja >/dev/null; then generator=(-G Ninja); fi
    CC=clang CXX=clang++ cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKVTIER_FUZZ=ON >&2
  fi
  cmake --build "$dir" --parallel "$(nproc)" --target kvtier-fuzz-seeds \
    "${targets[@]/#/fuzz_}" >&2
fi
((run)) || exit 0
if ((seconds < 1)); then
  echo "fuzz: --seconds must be at least 1" >&2
  exit 2
fi

for target in "${targets[@]}"; do
  if [[ ! -x "$dir/bin/fuzz_$target" || ! -x "$dir/bin/kvtier-fuzz-seeds" ]]; then
    echo "fuzz: $dir/bin/fuzz_$target is not built (scripts/fuzz.sh builds it); skipped"
    exit 77
  fi
done

status=0
for target in "${targets[@]}"; do
  corpus="$dir/corpus/$target"
  artifacts="$dir/artifacts/$target"
  seeds="$dir/seeds/$target"
  mkdir -p "$corpus" "$artifacts" "$seeds" "tests/fuzz/regressions/$target"
  "$dir/bin/kvtier-fuzz-seeds" "$seeds" >/dev/null
  echo "fuzz: $target for ${seconds}s (corpus $corpus)"
  # Inputs up to 64 KiB: a few frames with values; 2 GiB of RSS at most.
  dict=tests/fuzz/protocol.dict
  [[ -f "tests/fuzz/$target.dict" ]] && dict="tests/fuzz/$target.dict"
  if ! "$dir/bin/fuzz_$target" "$corpus" "$seeds" tests/fuzz/regressions/"$target" \
      -dict="$dict" -max_total_time="$seconds" -max_len=65536 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" 2>"$artifacts/log"; then
    status=1
    tail -n 40 "$artifacts/log" >&2
    for crash in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
      [[ -f "$crash" ]] || continue
      cp "$crash" "tests/fuzz/regressions/$target/"
      echo "fuzz: $target: kept $(basename "$crash") in tests/fuzz/regressions/$target/" >&2
    done
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$artifacts/log" | tail -n 3
  fi
done
exit "$status"
