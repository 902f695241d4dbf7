"""The module as a package user meets it: its version, the client's
lifetime, CPU torch tensors (Debian's python3-torch) as values and as
destinations, and the README's example as written."""

import pathlib
import re

import pytest
import torch

import kvtier


def test_version_is_the_projects():
    cmake = (pathlib.Path(__file__).parents[3] / "CMakeLists.txt").read_text()
    version = re.search(r"project\(kvtier VERSION ([0-9.]+)", cmake).group(1)
    assert kvtier.__version__ == version


def test_client_is_a_context_manager_and_closes(server):
    with kvtier.Client("127.0.0.1", server.port) as client:
        assert not client.closed
        client.put("kv", [b"ctx"], [b"v"])
    assert client.closed
    with pytest.raises(kvtier.Error) as closed:
        client.get("kv", [b"ctx"])
    assert closed.value.code == kvtier.StatusCode.UNAVAILABLE
    client.close()  # again: nothing happens


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int8])
def test_tensors_go_and_come_back_without_numpy(server, dtype):
    client = kvtier.Client("127.0.0.1", server.port)
    keys = [f"tensor-{dtype}-{i}".encode() for i in range(3)]
    source = [torch.randn(16, 128).to(dtype) for _ in keys]
    client.put("kv", keys, source)
    targets = [torch.zeros(16, 128, dtype=dtype) for _ in keys]
    client.get_into("kv", keys, targets)
    for got, sent in zip(targets, source):
        assert torch.equal(got, sent)
    # What arrives is the tensor's memory, byte for byte.
    assert client.get("kv", keys[:1])[0] == bytes(source[0].view(torch.uint8).numpy())


def test_tensors_must_be_cpu_and_contiguous(server):
    client = kvtier.Client("127.0.0.1", server.port)
    with pytest.raises(ValueError, match="contiguous"):
        client.put("kv", [b"t"], [torch.zeros(8, 8).t()])


def test_readme_example_works_on_a_partial_match(server):
    with kvtier.Client("127.0.0.1", server.port) as c:
        keys = kvtier.prefix_block_keys(list(range(64)), 16, "my-model")
        c.put("kv", keys[:2], [bytes([i]) * 4096 for i in range(2)])  # half is cached
        pages = [bytearray(4096) for _ in keys]
        hit = c.match("kv", keys).matched
        assert hit == 2
        c.get_into("kv", keys[:hit], pages)
        assert pages[0] == bytes([0]) * 4096 and pages[1] == bytes([1]) * 4096
        assert pages[2] == bytearray(4096)
