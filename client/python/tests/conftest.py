"""Real kvtierd processes for the Python client's tests.

The server binary comes from $KVTIER_BIN_DIR (ctest sets it to build/bin).
Each server listens on a free TCP port (read back from --port-file) and on a
Unix socket in its own temporary directory.
"""

import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest


class Server:
    def __init__(self, config_yaml=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="kvtier-py-"))
        self.unix_socket = str(self.dir / "kvtierd.sock")
        bin_dir = pathlib.Path(os.environ.get("KVTIER_BIN_DIR", "build/bin"))
        argv = [str(bin_dir / "kvtierd"), "--port", "0", "--port-file", str(self.dir / "port"),
                "--metrics-listen", "off", "--unix", self.unix_socket,
                # RDMA on the software provider, so RDMA clients work without a device.
                "--rdma-device", "kvtier_soft"]
        if config_yaml is None:
            argv += ["--no-nvme", "--dram-capacity", "256MiB"]
        else:
            (self.dir / "config.yaml").write_text(config_yaml)
            argv[1:1] = ["--config", str(self.dir / "config.yaml")]
        self.log = open(self.dir / "log", "w")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.port, self.tls_port = self._wait_for_ports()

    def _wait_for_ports(self):
        """The TCP and TLS ports (0 for a listener that is off)."""
        port_file = self.dir / "port"
        for _ in range(500):
            if self.process.poll() is not None:
                raise RuntimeError("kvtierd exited: " + (self.dir / "log").read_text())
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 3:
                    return int(lines[0]), int(lines[2])
            time.sleep(0.01)
        raise RuntimeError("kvtierd did not start: " + (self.dir / "log").read_text())

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0


@pytest.fixture
def make_server():
    started = []

    def start(config_yaml=None):
        s = Server(config_yaml)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
