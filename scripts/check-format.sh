#!/usr/bin/env bash
# Fails, naming the files, when a C++ source under the project's folders is
# not clang-formatted. Fix with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(find common protocol tiers server client tests bench \
  \( -name '*.cc' -o -name '*.h' \) -type f | sort)
bad=()
for f in "${files[@]}"; do
  "$clang_format" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} > 0)); then
  echo "not clang-formatted: ${bad[*]}" >&2
  exit 1
fi
echo "${#files[@]} files clang-formatted"
