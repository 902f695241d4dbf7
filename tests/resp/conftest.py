"""A real kvtierd with its RESP listener on, for python3-redis (Debian's).

The server binary comes from $KVTIER_BIN_DIR (ctest sets it to build/bin).
Run with /usr/bin/python3: it has python3-redis and python3-pytest.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

# A small DRAM tier over NVMe. In `durable` (write-through) a value is on
# NVMe once SET answers, so values that do not fit in DRAM must come back.
CONFIG = """
server: {metrics_listen: "off", resp_listen: "127.0.0.1:0", resp_namespace: kv}
tiers:
  dram: {capacity: 8MiB}
  nvme: {directory: %(dir)s/nvme, capacity: 1GiB, segment_bytes: 16MiB}
namespaces:
  - {name: kv, kind: kv}
  - {name: lmcache, kind: kb}
  - {name: durable, kind: kv, write_mode: write_through}
"""


class Server:
    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kvtier-resp-"))
        (self.dir / "config.yaml").write_text(CONFIG % {"dir": self.dir})
        bin_dir = pathlib.Path(os.environ.get("KVTIER_BIN_DIR", "build/bin"))
        argv = [str(bin_dir / "kvtierd"), "--config", str(self.dir / "config.yaml"),
                "--port", "0", "--port-file", str(self.dir / "port")]
        self.log = open(self.dir / "log", "w")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.resp_port = self._wait_for_resp_port()

    def _wait_for_resp_port(self):
        port_file = self.dir / "port"
        for _ in range(3000):
            if self.process.poll() is not None:
                raise RuntimeError("kvtierd exited: " + (self.dir / "log").read_text())
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 4:
                    return int(lines[3])
            time.sleep(0.01)
        raise RuntimeError("kvtierd did not start: " + (self.dir / "log").read_text())

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0
