#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
# Usage: scripts/test.sh [--sanitize|--tsan] [extra ctest arguments]
#   default:     the whole suite in build/, then the unit tests and the fuzz
#                replays again under ASan+UBSan (build-sanitize/)
#   --sanitize:  the whole suite under ASan+UBSan, in build-sanitize/
#   --tsan:      the whole suite under ThreadSanitizer, in build-tsan/ (the
#                servers the tests start are instrumented too); not in CI,
#                whose time it would not fit
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

sanitize=0
build_args=()
if [[ "${1:-}" == "--sanitize" || "${1:-}" == "--tsan" ]]; then
  sanitize=1
  build_args=("$1")
  shift
fi
build_dir=$(scripts/build.sh "${build_args[@]}" | tail -n 1)
# Under ThreadSanitizer a report fails the process that made it (exit 66):
# the test, or the server a test started and stops.
if [[ "${build_args[*]}" == "--tsan" ]]; then
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
fi
# The libFuzzer targets, for ctest's bounded fuzz runs (fuzz_run_*).
scripts/fuzz.sh --build-only
(cd "$build_dir" && ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@")

if ((!sanitize)); then
  # The whole suite under the sanitizers takes `scripts/test.sh --sanitize`;
  # within CI's time the unit tests and fuzz replays run under them here.
  sanitize_dir=$(scripts/build.sh --sanitize --target unit_tests | tail -n 1)
  (cd "$sanitize_dir" && ctest --output-on-failure --timeout 600 -j "$(nproc)" -L "unit|fuzz" \
    -E "^fuzz_run_" "$@")
fi
