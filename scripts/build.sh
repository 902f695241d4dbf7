#!/usr/bin/env bash
# Configures and builds kvtier. Usage: scripts/build.sh [--sanitize|--tsan] [--target NAME]
#   default:        RelWithDebInfo into build/
#   --sanitize:     ASan+UBSan into build-sanitize/
#   --tsan:         ThreadSanitizer into build-tsan/
#   --target NAME:  only NAME and what it needs (e.g. unit_tests)
# Re-running only rebuilds what changed. Build output goes to stderr; the
# build directory is printed on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
target=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) build_dir=build-sanitize; cmake_args+=(-DKVTIER_SANITIZE=ON); shift ;;
    --tsan) build_dir=build-tsan; cmake_args+=(-DKVTIER_TSAN=ON); shift ;;
    --target) target=(--target "$2"); shift 2 ;;
    *) echo "usage: $0 [--sanitize|--tsan] [--target NAME]" >&2; exit 2 ;;
  esac
done

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" >&2
fi
cmake --build "$build_dir" --parallel "$(nproc)" "${target[@]}" >&2
echo "$build_dir"
