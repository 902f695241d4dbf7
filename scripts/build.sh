#!/usr/bin/env bash
# Configures and builds kvtier. Usage: scripts/build.sh [--sanitize]
#   default:     RelWithDebInfo into build/
#   --sanitize:  ASan+UBSan into build-sanitize/
# Re-running only rebuilds what changed. Build output goes to stderr; the
# build directory is printed on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${1:-}" == "--sanitize" ]]; then
  build_dir=build-sanitize
  cmake_args+=(-DKVTIER_SANITIZE=ON)
fi

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" >&2
fi
cmake --build "$build_dir" --parallel "$(nproc)" >&2
echo "$build_dir"
