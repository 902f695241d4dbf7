# Sourced by the bench scripts that run kvtierd beside Azurite (bash).
#
# bench_build TARGET...    builds Release into build-release/ (or uses
#                          KVTIER_BENCH_BUILD=DIR); sets `bin`
# bench_workdir NAME       a work folder on the project's disk (like NVMe);
#                          sets `work`; on exit, unmounts $work/mnt*, stops
#                          the processes in `bench_pids` and removes it
# bench_start_azurite      starts Azurite in $work/azurite; sets `blob_url`,
#                          `sas` (rwdlc) and exports KVTIER_BLOB_ACCOUNT and
#                          KVTIER_BLOB_KEY (the emulator's well-known key)

bench_pids=()

bench_build() {
  local build_dir=${KVTIER_BENCH_BUILD:-build-release}
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVTIER_BUILD_TESTS=OFF >&2
  fi
  cmake --build "$build_dir" --parallel "$(nproc)" --target "$@" >&2
  bin="$PWD/$build_dir/bin"
}

bench_cleanup() {
  local mount
  for mount in "$work"/mnt*; do fusermount3 -u "$mount" 2>/dev/null || true; done
  local pid
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

bench_workdir() {
  work=$(mktemp -d "$PWD/.bench-$1-XXXXXX")
  trap bench_cleanup EXIT
}

bench_start_azurite() {
  mkdir -p "$work/azurite"
  scripts/start-azurite.sh 0 "$work/azurite" >"$work/azurite.log" 2>&1 &
  bench_pids+=($!)
  for _ in $(seq 300); do grep -q 'listens on' "$work/azurite.log" && break; sleep 0.1; done
  local port
  port=$(grep -o 'listens on http://127.0.0.1:[0-9]*' "$work/azurite.log" | cut -d: -f3)
  export KVTIER_BLOB_ACCOUNT=devstoreaccount1
  export KVTIER_BLOB_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
  blob_url="http://127.0.0.1:$port/devstoreaccount1"
  sas=$("$bin/kvtier-blob-bench" --print-sas rwdlc)
}
