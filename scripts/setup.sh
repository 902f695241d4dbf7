#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of kvtier from Debian 12
# packages (redis-server and iperf3 are the yardsticks of bench-compare.sh),
# then Azurite (the Blob tier's test service) into .azurite/ with npm.
# Idempotent: packages already present are not touched, and apt-get runs only
# when something is missing. Safe to run as root or through sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev
  libflatbuffers-dev flatbuffers-compiler
  librocksdb-dev libibverbs-dev libjemalloc-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev
  liburing-dev libxxhash-dev libssl-dev openssl libfuse3-dev fuse3
  libgtest-dev libgmock-dev libbenchmark-dev
  netcat-openbsd clang-format clang libclang-rt-14-dev
  python3 python3-dev python3-venv python3-pip python3-cbor2 python3-xxhash python3-numpy python3-pytest pybind11-dev
  python3-fsspec python3-torch python3-redis
  redis-server iperf3
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

"$(dirname "$0")/start-azurite.sh" --install-only
