"""The kvtier Python module against a real kvtierd: round trips, buffers
filled in place, large batches, leases, shared memory, tokens and errors."""

import pathlib
import subprocess
import threading

import numpy as np
import pytest

import kvtier

NS = "demo"


def test_round_trip_of_every_buffer_kind(server):
    c = kvtier.Client("127.0.0.1", server.port)
    values = [b"bytes value", bytearray(b"a bytearray"), memoryview(b"a memoryview"),
              np.arange(1000, dtype=np.float32), np.zeros((4, 8), dtype=np.uint16)]
    keys = [f"round-{i}" for i in range(len(values))]
    assert c.put(NS, keys, values) == [kvtier.StatusCode.OK] * len(values)
    got = c.get(NS, keys + ["absent"])
    for value, back in zip(values, got):
        assert back == bytes(memoryview(value).cast("B"))
    assert got[-1] is None
    assert c.exists(NS, [keys[0], "absent"]) == ["dram", None]
    assert c.delete(NS, [keys[0]]) == [kvtier.StatusCode.OK]
    assert c.get(NS, [keys[0]]) == [None]


def test_get_into_fills_the_callers_memory(server):
    c = kvtier.Client("127.0.0.1", server.port)
    pages = np.random.default_rng(1).integers(0, 255, size=(8, 4096), dtype=np.uint8)
    keys = [f"page-{i}" for i in range(8)]
    # Rows of one array go in as they are, without copies on the Python side.
    assert c.put(NS, keys, list(pages)) == [0] * 8
    kv = np.zeros((9, 4096), dtype=np.uint8)
    address = kv.ctypes.data
    lengths = c.get_into(NS, keys + ["absent"], list(kv))
    assert lengths == [4096] * 8 + [None]
    assert kv.ctypes.data == address  # the same memory, filled where it lies
    assert np.array_equal(kv[:8], pages)
    assert not kv[8].any()


def test_a_large_batch_in_one_request(server):
    c = kvtier.Client("127.0.0.1", server.port)
    n, size = 1024, 16384
    data = np.random.default_rng(2).integers(0, 255, size=(n, size), dtype=np.uint8)
    keys = [b"batch-%d" % i for i in range(n)]
    assert c.put(NS, keys, list(data)) == [0] * n
    out = np.empty_like(data)
    assert c.get_into(NS, keys, list(out)) == [size] * n
    assert np.array_equal(out, data)
    assert c.match(NS, keys).matched == n


def test_prefix_match_with_a_lease_then_read_and_release(server):
    c = kvtier.Client("127.0.0.1", server.port)
    tokens = list(range(64))
    keys = kvtier.prefix_block_keys(tokens, 16, "model-a")
    assert len(keys) == 4 and all(len(k) == 16 for k in keys)
    blocks = [np.full(512, i, dtype=np.uint8) for i in range(3)]
    c.put(NS, keys[:3], blocks)
    match = c.match(NS, keys, lease_ms=10000)
    assert match.matched == 3 and match.tiers == ["dram"] * 3 and match.lease_id != 0
    out = [np.zeros(512, dtype=np.uint8) for _ in range(4)]
    assert c.get_prefix_into(NS, keys, out, lease_id=match.lease_id) == [512] * 3
    assert all((out[i] == i).all() for i in range(3))
    assert len(c.get_prefix(NS, keys)) == 3
    assert c.release(match.lease_id) is True
    assert c.release(match.lease_id) is False


def test_rdma_transport_on_the_software_provider(server):
    c = kvtier.Client("127.0.0.1", server.port, rdma=True, rdma_device="kvtier_soft",
                      rdma_region_bytes=32 << 20)
    assert c.uses_rdma, c.rdma_fallback
    assert c.rdma_fallback == ""
    value = np.random.default_rng(4).integers(0, 255, size=1 << 20, dtype=np.uint8)
    assert c.put(NS, ["rdma"], [value]) == [0]
    assert c.get(NS, ["rdma"])[0] == value.tobytes()
    out = np.zeros_like(value)
    assert c.get_into(NS, ["rdma"], [out]) == [1 << 20]
    assert np.array_equal(out, value)
    plain = kvtier.Client("127.0.0.1", server.port, rdma=True)
    assert not plain.uses_rdma and "no RDMA device" in plain.rdma_fallback


def test_shared_memory_transport(server):
    c = kvtier.Client(unix_socket=server.unix_socket, shm_region_bytes=64 << 20)
    assert c.uses_shared_memory
    value = np.random.default_rng(3).integers(0, 255, size=1 << 20, dtype=np.uint8)
    assert c.put(NS, ["shm"], [value]) == [0]
    out = np.zeros_like(value)
    assert c.get_into(NS, ["shm"], [out]) == [value.size]
    assert np.array_equal(out, value)


def test_calls_from_many_threads(server):
    c = kvtier.Client("127.0.0.1", server.port)
    failures = []

    def work(t):
        for i in range(50):
            key = f"thread-{t}-{i}"
            value = bytes([t, i]) * 100
            c.put(NS, [key], [value])
            if c.get(NS, [key]) != [value]:
                failures.append(key)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_errors_carry_the_servers_status_code(server):
    c = kvtier.Client("127.0.0.1", server.port)
    with pytest.raises(kvtier.Error) as error:
        c.put("nowhere", ["k"], [b"v"])
    assert error.value.code == kvtier.StatusCode.UNKNOWN_NAMESPACE
    assert not error.value.retryable
    c.put(NS, ["big"], [b"x" * 100])
    with pytest.raises(kvtier.Error) as error:
        c.get_into(NS, ["big"], [bytearray(10)])
    assert error.value.code == kvtier.StatusCode.INVALID_ARGUMENT
    with pytest.raises(TypeError):
        c.put(NS, ["k"], [12345])
    with pytest.raises((TypeError, BufferError, ValueError)):
        c.get_into(NS, ["big"], [np.zeros((10, 10))[:, 0]])  # not contiguous
    with pytest.raises(kvtier.Error) as error:
        kvtier.Client("127.0.0.1", 1)  # nothing listens there
    assert error.value.code == kvtier.StatusCode.UNAVAILABLE
    assert error.value.retryable


def test_access_tokens(make_server):
    token = "python-test-token"
    import hashlib
    digest = hashlib.sha256(token.encode()).hexdigest()
    s = make_server("namespaces: [{name: kv}]\n"
                    "auth: {tokens: [{name: py, sha256: %s, grants: {kv: read}}]}\n" % digest)
    with pytest.raises(kvtier.Error) as error:
        kvtier.Client("127.0.0.1", s.port)
    assert error.value.code == kvtier.StatusCode.UNAUTHENTICATED
    c = kvtier.Client("127.0.0.1", s.port, token=token)
    assert c.get("kv", ["k"]) == [None]
    with pytest.raises(kvtier.Error) as error:
        c.put("kv", ["k"], [b"v"])
    assert error.value.code == kvtier.StatusCode.PERMISSION_DENIED


def test_tls(make_server, tmp_path):
    root = pathlib.Path(__file__).resolve().parents[3]
    subprocess.run(["bash", str(root / "scripts" / "tls-certs.sh"), str(tmp_path), "--days", "2"],
                   check=True, stdout=subprocess.DEVNULL)
    s = make_server("server: {tls: {listen: 127.0.0.1:0, cert_file: %s, key_file: %s}}\n"
                    "namespaces: [{name: kv}]\n" % (tmp_path / "server.crt", tmp_path / "server.key"))
    c = kvtier.Client("127.0.0.1", s.tls_port, tls_ca_file=str(tmp_path / "ca.crt"))
    c.put("kv", ["k"], [b"over tls"])
    assert c.get("kv", ["k"]) == [b"over tls"]
    with pytest.raises(kvtier.Error) as error:
        kvtier.Client("127.0.0.1", s.tls_port, tls_ca_file=str(tmp_path / "ca.crt"),
                      tls_server_name="cache.example")
    assert error.value.code == kvtier.StatusCode.UNAUTHENTICATED
    assert "hostname mismatch" in error.value.message


def test_key_helpers_match_the_engines():
    # vLLM sha256_cbor with PYTHONHASHSEED=0, block size 16 (docs/keys.md).
    keys = kvtier.vllm_block_keys(list(range(32)), 16)
    assert len(keys) == 2 and all(len(k) == 32 for k in keys)
    assert keys[0].hex() == "d830de3d42c00f25a2949b5d12d98642664a44872c1614c5b0147556276afc9c"
    pages = kvtier.sglang_page_keys(list(range(8)), 4)
    assert len(pages) == 2 and all(len(p) == 64 for p in pages)
    seed = kvtier.model_seed("m", "bf16", "vllm-nhd-16", tp_size=2, tp_rank=1)
    assert seed == "model=m;dtype=bf16;layout=vllm-nhd-16;tp_size=2;tp_rank=1"
    assert kvtier.prefix_block_keys(list(range(32)), 16, seed) != \
        kvtier.prefix_block_keys(list(range(32)), 16, "other")
    # KB content keys name bytes, whatever holds them.
    assert kvtier.content_key(b"chunk") == kvtier.content_key(np.frombuffer(b"chunk", np.uint8))
    assert len(kvtier.content_key(b"chunk")) == 16
    # Dataset block keys: object name, a zero byte, the index big-endian.
    assert kvtier.object_block_key("train-0001.bin", 5) == b"train-0001.bin\x00" + (5).to_bytes(8, "big")
    with pytest.raises(kvtier.Error):
        kvtier.object_block_key("", 0)


def test_example_connector_loads_a_shared_prefix(server):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parent.parent / "examples" / "engine_connector.py"
    spec = importlib.util.spec_from_file_location("engine_connector", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    first, second, same = example.demo(f"127.0.0.1:{server.port}", NS)
    assert (first, second, same) == (0, 8, True)


def test_a_client_inherited_by_a_forked_child_is_left_alone(server):
    # A DataLoader worker is a fork of the process that holds the client: if
    # the child drops the client, the parent's connection must keep working
    # and the child must not crash on an I/O thread it does not have.
    import gc
    import os
    c = kvtier.Client("127.0.0.1", server.port)
    assert c.put(NS, ["fork"], [b"before"]) == [0]
    pid = os.fork()
    if pid == 0:
        del c
        gc.collect()
        child = kvtier.Client("127.0.0.1", server.port)  # the child's own works
        ok = child.get(NS, ["fork"]) == [b"before"]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert c.get(NS, ["fork"]) == [b"before"]
