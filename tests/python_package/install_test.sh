#!/usr/bin/env bash
# `pip install ./client/python` as a user runs it, offline (--no-index: the
# in-tree build backend needs nothing from an index), into every kind of
# interpreter a machine has: a venv of Debian's python3, Debian's python3
# itself (PEP 668 asks for --break-system-packages; --target keeps the test
# out of the system's site-packages), and the python3 on PATH when it is
# another one (pyenv's here). Each installed module must import, report the
# project's version, carry its type stubs, and put and get through a real
# kvtierd. Run by ctest; KVTIER_BIN_DIR names the folder of kvtierd.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${KVTIER_BIN_DIR:-build/bin}
work=$(mktemp -d)
cleanup() {
  [[ -n "${kvtier_pid:-}" ]] && kill "$kvtier_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's/^project(kvtier VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
"$bin/kvtierd" --port 0 --metrics-listen off --no-nvme --port-file "$work/port" \
  >"$work/kvtierd.log" 2>&1 &
kvtier_pid=$!
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port=$(sed -n 1p "$work/port")

# check PYTHON [PYTHONPATH]: the installed module, used.
check() {
  local python=$1 path=${2:-}
  PYTHONPATH=$path "$python" - "$version" "$port" <<'PY'
import pathlib, sys
import kvtier
version, port = sys.argv[1], int(sys.argv[2])
assert kvtier.__version__ == version, (kvtier.__version__, version)
module = pathlib.Path(kvtier.__file__)
assert "site-packages" in str(module) or "target" in str(module), module
assert (module.parent / "kvtier.pyi").exists(), "type stubs missing beside " + str(module)
with kvtier.Client("127.0.0.1", port) as client:
    key = ("installed-" + sys.executable).encode()
    client.put("kv", [key], [b"from " + sys.executable.encode()])
    assert client.get("kv", [key]) == [b"from " + sys.executable.encode()]
print("ok:", sys.executable, module)
PY
}

echo "== venv of /usr/bin/python3"
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --no-index --quiet ./client/python
check "$work/venv/bin/python"

echo "== /usr/bin/python3 (Debian's, PEP 668)"
/usr/bin/python3 -m pip install --no-index --quiet --break-system-packages \
  --target "$work/system-target" ./client/python
check /usr/bin/python3 "$work/system-target"

path_python=$(command -v python3)
if [[ "$(readlink -f "$path_python")" != "$(readlink -f /usr/bin/python3)" ]] &&
   "$path_python" -m pip --version >/dev/null 2>&1; then
  echo "== $path_python ($("$path_python" --version))"
  "$path_python" -m pip install --no-index --quiet --target "$work/path-target" ./client/python
  check "$path_python" "$work/path-target"
fi
echo "pip install ./client/python: every interpreter passed"
