"""Dataset objects from Python: list, stat, read, the fsspec filesystem and a
torch DataLoader over a kvtier-fuse mount, through a real kvtierd over a real
Azurite origin. Needs Debian's python3 with python3-fsspec and python3-torch
(scripts/setup.sh installs them)."""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import pathlib
import random
import re
import subprocess
import tempfile
import time
import urllib.parse

import pytest

import kvtier
from conftest import Server

fsspec = pytest.importorskip("fsspec")

ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
       "KBHBeksoGMGw==")
ROOT = pathlib.Path(__file__).resolve().parents[3]
BLOCK = 1 << 20


class Azurite:
    """Azurite on a free loopback port, from scripts/start-azurite.sh."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kvtier-py-azurite-")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.process = subprocess.Popen(
            [str(ROOT / "scripts/start-azurite.sh"), "0", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        for _ in range(600):
            self.log.seek(0)
            match = re.search(r"listens on http://127\.0\.0\.1:(\d+)\n", self.log.read())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError("azurite did not start: " + self.log.read())

    def request(self, verb, path, body=b"", query=None, headers=None):
        """One Shared Key request (path: /container[/blob])."""
        query = query or {}
        headers = dict(headers or {})
        headers["x-ms-date"] = datetime.datetime.utcnow().strftime("%a, %d %b %Y %H:%M:%S GMT")
        headers["x-ms-version"] = "2021-08-06"
        length = str(len(body)) if body else ""
        canonical_headers = "".join(
            f"{name}:{headers[name]}\n" for name in sorted(headers) if name.startswith("x-ms-"))
        resource = f"/{ACCOUNT}/{ACCOUNT}{path}" + "".join(
            f"\n{name}:{query[name]}" for name in sorted(query))
        to_sign = "\n".join([verb, "", "", length, "", headers.get("Content-Type", ""), "", "",
                             "", "", "", ""]) + "\n" + canonical_headers + resource
        signature = base64.b64encode(hmac.new(base64.b64decode(KEY), to_sign.encode(),
                                              hashlib.sha256).digest()).decode()
        headers["Authorization"] = f"SharedKey {ACCOUNT}:{signature}"
        url = f"/{ACCOUNT}{urllib.parse.quote(path)}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(verb, url, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        expected = (200, 206) if verb == "GET" else (201, 202)
        assert response.status in expected, (verb, path, response.status, response.reason)
        return data

    def get_blob(self, container, name):
        return self.request("GET", f"/{container}/{name}")

    def put_blob(self, container, name, data):
        self.request("PUT", f"/{container}/{name}", data, headers={"x-ms-blob-type": "BlockBlob"})

    def stop(self):
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def dataset():
    azurite = Azurite()
    azurite.request("PUT", "/training", query={"restype": "container"})
    rng = random.Random(7)
    objects = {
        "train-0001.bin": rng.randbytes(2 * BLOCK + 1234),
        "val/a.bin": rng.randbytes(5000),
        "val/b.bin": rng.randbytes(10),
    }
    for i in range(8):
        objects[f"parts/part-{i}.bin"] = rng.randbytes(300_000 + i)
    for path, data in objects.items():
        azurite.put_blob("training", "shards/" + path, data)
    os.environ["KVTIER_TEST_BLOB_KEY"] = KEY
    server = Server(
        "tiers:\n"
        "  dram: {capacity: 64MiB}\n"
        f"  blob: {{endpoint: 'http://127.0.0.1:{azurite.port}/{ACCOUNT}', account: {ACCOUNT},"
        " key_env: KVTIER_TEST_BLOB_KEY}\n"
        "namespaces:\n"
        "  - {name: dataset, kind: dataset, tiers: [dram],"
        " origin: {container: training, prefix: shards/, block_bytes: 1MiB}}\n"
        "  - {name: kv, tiers: [dram]}\n")
    yield server, objects
    assert server.stop() == 0
    azurite.stop()


def test_list_stat_and_read_objects(dataset):
    server, objects = dataset
    client = kvtier.Client("127.0.0.1", server.port)
    page = client.list("dataset", "", "/")
    assert [o["path"] for o in page["objects"]] == ["train-0001.bin"]
    assert page["prefixes"] == ["parts/", "val/"]
    assert page["next_page_token"] == ""
    info = client.stat("dataset", "train-0001.bin")
    assert info["size"] == len(objects["train-0001.bin"])
    assert info["block_bytes"] == BLOCK
    # Across a block boundary, into the caller's buffer.
    buffer = bytearray(3000)
    assert client.read_range("dataset", "train-0001.bin", BLOCK - 1000, buffer) == 3000
    assert bytes(buffer) == objects["train-0001.bin"][BLOCK - 1000:BLOCK + 2000]
    assert client.read("dataset", "val/a.bin") == objects["val/a.bin"]
    assert client.read("dataset", "val/a.bin", 4990, 100) == objects["val/a.bin"][4990:]
    with pytest.raises(kvtier.Error) as missing:
        client.stat("dataset", "nope.bin")
    assert missing.value.code == kvtier.StatusCode.NOT_FOUND
    with pytest.raises(kvtier.Error) as changed:
        client.read("dataset", "val/a.bin", 0, 10, version="\"0xother\"")
    assert changed.value.code == kvtier.StatusCode.UNAVAILABLE
    with pytest.raises(kvtier.Error) as keys_only:
        client.list("kv")
    assert keys_only.value.code == kvtier.StatusCode.UNSUPPORTED


def test_fsspec_filesystem_lists_and_reads(dataset):
    server, objects = dataset
    fs = fsspec.filesystem("kvtier", host="127.0.0.1", port=server.port)
    assert fs.ls("dataset", detail=False) == [
        "dataset/parts", "dataset/train-0001.bin", "dataset/val"]
    assert sorted(fs.find("kvtier://dataset")) == sorted("dataset/" + p for p in objects)
    assert fs.info("dataset/val")["type"] == "directory"
    assert fs.size("dataset/train-0001.bin") == len(objects["train-0001.bin"])
    assert fs.cat("kvtier://dataset/val/b.bin") == objects["val/b.bin"]
    with fs.open("dataset/train-0001.bin", "rb", block_size=BLOCK // 2) as f:
        f.seek(BLOCK + 5)
        assert f.read(100) == objects["train-0001.bin"][BLOCK + 5:BLOCK + 105]
        f.seek(0)
        assert f.read() == objects["train-0001.bin"]
    with fsspec.open("kvtier://dataset/val/a.bin", "rb", port=server.port) as f:
        assert f.read() == objects["val/a.bin"]
    with pytest.raises(FileNotFoundError):
        fs.info("dataset/nope")
    with pytest.raises(PermissionError):
        fs.open("dataset/new.bin", "wb")


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse on this machine")
def test_torch_dataloader_with_two_workers_reads_files_through_the_mount(dataset, tmp_path):
    torch = pytest.importorskip("torch")
    server, objects = dataset
    mount = tmp_path / "mnt"
    mount.mkdir()
    bin_dir = pathlib.Path(os.environ.get("KVTIER_BIN_DIR", "build/bin"))
    # Returns once mounted; the mount is served from the background.
    subprocess.run([str(bin_dir / "kvtier-fuse"), "--server", f"127.0.0.1:{server.port}",
                    str(mount)], check=True)
    try:
        paths = sorted((mount / "dataset" / "parts").iterdir())
        assert [p.name for p in paths] == [f"part-{i}.bin" for i in range(8)]

        class Files(torch.utils.data.Dataset):
            def __len__(self):
                return len(paths)

            def __getitem__(self, index):
                data = paths[index].read_bytes()
                return index, torch.frombuffer(bytearray(data), dtype=torch.uint8)

        loader = torch.utils.data.DataLoader(Files(), batch_size=None, num_workers=2)
        seen = {}
        for index, tensor in loader:
            seen[int(index)] = bytes(tensor.numpy())
        assert sorted(seen) == list(range(8))
        for index, data in seen.items():
            assert data == objects[f"parts/part-{index}.bin"]
    finally:
        subprocess.run(["fusermount3", "-u", str(mount)], check=False)
