"""python3-redis (Debian's redis-py) against kvtier's RESP endpoint: the
calls cache clients make, LMCache's redis:// backend among them."""

import hashlib
import time

import pytest
import redis


@pytest.fixture
def r(server):
    client = redis.Redis(host="127.0.0.1", port=server.resp_port)
    yield client
    client.close()


def value_of(i, size):
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def test_pipeline_of_sets_then_mget(r):
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"pipe:{i}", value_of(i, 4096))
    assert all(pipe.execute())
    keys = [f"pipe:{i}" for i in range(500)] + ["pipe:absent"]
    values = r.mget(keys)
    assert values[:500] == [value_of(i, 4096) for i in range(500)]
    assert values[500] is None


def test_exists_of_many_keys_and_delete(r):
    r.mset({f"ex:{i}": b"x" for i in range(200)})
    assert r.exists(*[f"ex:{i}" for i in range(200)], "ex:absent") == 200
    assert r.delete(*[f"ex:{i}" for i in range(0, 200, 2)]) == 100
    assert r.exists(*[f"ex:{i}" for i in range(200)]) == 100
    assert r.unlink("ex:1", "ex:absent") == 1


def test_scan_iter_finds_every_key_once(r):
    expected = {f"scan:{i}".encode() for i in range(1000)}
    pipe = r.pipeline(transaction=False)
    for key in expected:
        pipe.set(key, b"v")
    pipe.execute()
    found = list(r.scan_iter(match="scan:*", count=50))
    assert len(found) == len(set(found))
    assert set(found) == expected
    assert r.dbsize() >= 1000


def test_values_larger_than_dram_come_back_from_nvme(r):
    # 64 values of 1 MiB through an 8 MiB DRAM tier: most live on NVMe only.
    r.execute_command("SELECT", "durable")
    pipe = r.pipeline(transaction=False)
    for i in range(64):
        pipe.set(f"big:{i}", value_of(i, 1 << 20))
    assert all(pipe.execute())
    for i in range(64):
        got = r.get(f"big:{i}")
        assert got == value_of(i, 1 << 20), (i, got is None, {k: v for k, v in r.info("tiers").items() if v})
    tiers = r.info("tiers")
    assert tiers["nvme_items"] > 0


def test_lmcache_style_metadata_and_kv_bytes(r):
    # LMCache's redis connector stores "<key>metadata" and "<key>kv_bytes",
    # asks EXISTS before loading and lists with SCAN.
    r.execute_command("SELECT", "lmcache")
    for chunk in range(8):
        key = f"vllm@model@1@0@{chunk:064x}"
        r.set(key + "metadata", f"shape=({chunk},16,128)".encode())
        r.set(key + "kv_bytes", value_of(chunk, 256 << 10))
    key = f"vllm@model@1@0@{3:064x}"
    assert r.exists(key + "metadata") == 1
    assert r.get(key + "kv_bytes") == value_of(3, 256 << 10)
    listed = list(r.scan_iter(match="*metadata"))
    assert len(listed) == 8


def test_expiry_through_set_px(r):
    assert r.set("short-lived", b"v", px=100)
    deadline = time.monotonic() + 10
    while r.get("short-lived") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.get("short-lived") is None
    assert r.set("long-lived", b"v", ex=3600)
    assert r.get("long-lived") == b"v"


def test_set_nx_and_xx(r):
    assert r.set("nx-key", b"first", nx=True)
    assert r.set("nx-key", b"second", nx=True) is None
    assert r.get("nx-key") == b"first"
    assert r.set("xx-absent", b"v", xx=True) is None
    assert r.set("nx-key", b"third", xx=True)
    assert r.get("nx-key") == b"third"


def test_errors_are_responses_and_the_connection_stays(r):
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("HSET", "h", "f", "v")
    with pytest.raises(redis.ResponseError, match="keys must be"):
        r.get("k" * 1000)
    assert r.ping()
    info = r.info()
    assert "redis_version" in info
    assert info["resp_unknown_commands"] >= 1
