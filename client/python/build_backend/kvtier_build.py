"""A PEP 517 build backend for the kvtier extension module.

It configures the kvtier source tree (two folders up) with CMake for the
interpreter running it, builds the `kvtier_python` target, and packs the
module and its type stubs into a wheel. Standard library only, so that pip
needs nothing from an index (build isolation stays on and offline).

Environment:
  KVTIER_PYTHON_BUILD_DIR  the CMake build folder to use (default: one per
                           installation of Python under build/python/ in the
                           tree, kept between installs so a reinstall is quick)
  KVTIER_BUILD_JOBS        parallel compile jobs (default: the CPU count)
"""

import base64
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

_HERE = pathlib.Path(__file__).resolve().parent
_PACKAGE = _HERE.parent          # client/python
_SOURCE = _PACKAGE.parent.parent  # the kvtier source tree


def _version():
    text = (_SOURCE / "CMakeLists.txt").read_text()
    match = re.search(r"project\(kvtier VERSION ([0-9.]+)", text)
    if not match:
        raise RuntimeError("kvtier_build: no project version in " + str(_SOURCE / "CMakeLists.txt"))
    return match.group(1)


def _tags():
    implementation = sys.implementation.name
    prefix = {"cpython": "cp", "pypy": "pp"}.get(implementation, implementation)
    python = f"{prefix}{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return python, python, platform


def _build_module():
    if not (_SOURCE / "client" / "client.h").exists():
        raise RuntimeError(
            "kvtier_build: the kvtier source tree is not at " + str(_SOURCE) +
            "; install from a checkout: pip install ./client/python")
    python, _, _ = _tags()
    # One folder per installation of Python (venvs share their base's).
    base = hashlib.sha256(os.path.realpath(sys.base_prefix).encode()).hexdigest()[:8]
    build = pathlib.Path(os.environ.get("KVTIER_PYTHON_BUILD_DIR") or
                         _SOURCE / "build" / "python" / f"{python}-{base}")
    build.mkdir(parents=True, exist_ok=True)
    configure = ["cmake", "-S", str(_SOURCE), "-B", str(build),
                 "-DCMAKE_BUILD_TYPE=Release", "-DKVTIER_BUILD_TESTS=OFF",
                 f"-DPython_EXECUTABLE={sys.executable}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"] if not (build / "CMakeCache.txt").exists() else []
    subprocess.run(configure, check=True, stdout=sys.stderr)
    jobs = os.environ.get("KVTIER_BUILD_JOBS") or str(os.cpu_count() or 2)
    subprocess.run(["cmake", "--build", str(build), "--target", "kvtier_python",
                    "--parallel", jobs], check=True, stdout=sys.stderr)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    module = build / "client" / "python" / ("kvtier" + suffix)
    if not module.exists():
        found = sorted((build / "client" / "python").glob("kvtier*.so"))
        raise RuntimeError(f"kvtier_build: {module} was not built (found {found}); "
                           "is pybind11-dev installed, and this interpreter's headers?")
    return module


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    module = _build_module()
    version = _version()
    python, abi, platform = _tags()
    dist_info = f"kvtier-{version}.dist-info"
    files = {
        module.name: module.read_bytes(),
        "kvtier.pyi": (_PACKAGE / "kvtier.pyi").read_bytes(),
        f"{dist_info}/METADATA": (
            "Metadata-Version: 2.1\nName: kvtier\nVersion: " + version + "\n"
            "Summary: Client of kvtier, the per-rack cache server for AI clusters\n"
            "Requires-Python: >=3.9\n").encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: kvtier_build\nRoot-Is-Purelib: false\n"
            f"Tag: {python}-{abi}-{platform}\n").encode(),
        f"{dist_info}/top_level.txt": b"kvtier\n",
    }
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel_name = f"kvtier-{version}-{python}-{abi}-{platform}.whl"
    path = pathlib.Path(wheel_directory) / wheel_name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("kvtier_build: no source distribution; install from a checkout "
                       "(pip install ./client/python)")
