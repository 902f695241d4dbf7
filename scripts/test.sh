#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
# Usage: scripts/test.sh [--sanitize] [extra ctest arguments]
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

build_args=()
if [[ "${1:-}" == "--sanitize" ]]; then
  build_args=(--sanitize)
  shift
fi
build_dir=$(scripts/build.sh "${build_args[@]}" | tail -n 1)
# The libFuzzer targets, for ctest's bounded fuzz runs (fuzz_run_*).
scripts/fuzz.sh --build-only
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
