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


def test_cluster_client_spreads_keys_by_owner(make_server):
    servers = [make_server(), make_server()]
    names = [f"127.0.0.1:{s.port}" for s in servers]
    with kvtier.ClusterClient(names) as cluster:
        assert cluster.servers == names
        keys = [f"cluster-{i}".encode() for i in range(64)]
        values = [bytes([i]) * 100 for i in range(64)]
        assert cluster.put("kv", keys, values) == [0] * 64
        assert cluster.get("kv", keys) == values
        assert cluster.exists("kv", keys + [b"absent"])[-1] is None
        # Each key lives on its owner only.
        singles = {name: kvtier.Client("127.0.0.1", s.port) for name, s in zip(names, servers)}
        owners = {cluster.owner_of(key) for key in keys}
        assert owners == set(names)  # both servers own some of 64 keys
        for key in keys:
            owner = cluster.owner_of(key)
            for name, single in singles.items():
                assert (single.exists("kv", [key])[0] is not None) == (name == owner)
        chain = kvtier.prefix_block_keys(list(range(64)), 16, "m")
        cluster.put("kv", chain[:3], [b"x"] * 3)
        assert cluster.match("kv", chain).matched == 3
        assert cluster.delete("kv", keys[:2]) == [0, 0]
    assert cluster.closed
    with pytest.raises(kvtier.Error):
        cluster.get("kv", keys)


def test_type_stubs_name_everything_the_module_has():
    import ast
    stub = ast.parse((pathlib.Path(__file__).parents[1] / "kvtier.pyi").read_text())
    names = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body
                                if isinstance(n, (ast.FunctionDef, ast.AnnAssign, ast.Assign))
                                and not isinstance(n, (ast.AnnAssign, ast.Assign))} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = None
    import types
    # What the module defines (not what it imported, such as fsspec's bases).
    public = {n for n in dir(kvtier) if not n.startswith("_")
              and not isinstance(getattr(kvtier, n), types.ModuleType)
              and getattr(getattr(kvtier, n), "__module__", "kvtier") == "kvtier"}
    assert public <= set(names) | {"Key", "Buffer"}, public - set(names)
    for name, members in names.items():
        assert hasattr(kvtier, name), name
        if members is None or name in ("Error", "StatusCode", "KvtierFileSystem", "KvtierFile"):
            continue
        cls = getattr(kvtier, name)
        for member in members:
            if member == "__init__":
                continue
            assert hasattr(cls, member), f"{name}.{member}"
        runtime = {m for m in dir(cls) if not m.startswith("_")}
        assert runtime <= members, f"{name}: not in the stub: {runtime - members}"
