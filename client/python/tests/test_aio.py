"""kvtier.aio: the client's calls as coroutines on a real server, many in
flight at once from one event loop, errors as kvtier.Error, and close."""

import asyncio

import pytest

import kvtier
import kvtier.aio


def test_calls_are_coroutines_with_the_clients_answers(server):
    async def main():
        async with kvtier.aio.Client("127.0.0.1", server.port) as client:
            keys = kvtier.prefix_block_keys(list(range(64)), 16, "aio-model")
            await client.put("kv", keys, [bytes([i]) * 4096 for i in range(4)])
            assert await client.get("kv", keys[:2]) == [b"\0" * 4096, b"\1" * 4096]
            match = await client.match("kv", keys)
            assert match.matched == 4
            pages = [bytearray(4096) for _ in keys]
            await client.get_into("kv", keys, pages)
            assert [bytes(p) for p in pages] == [bytes([i]) * 4096 for i in range(4)]
            present = await client.exists("kv", [keys[0], b"absent"])
            assert present[0] is not None and present[1] is None
        assert client.closed
    asyncio.run(main())


def test_many_calls_in_flight_from_one_loop(server):
    async def main():
        client = await kvtier.aio.connect("127.0.0.1", server.port, max_in_flight=4)
        keys = [f"aio-many-{i}".encode() for i in range(64)]
        await asyncio.gather(*(client.put("kv", [k], [k * 100]) for k in keys))
        values = await asyncio.gather(*(client.get("kv", [k]) for k in keys))
        assert values == [[k * 100] for k in keys]
        await client.close()
    asyncio.run(main())


def test_errors_are_kvtier_errors_and_closed_clients_refuse(server):
    async def main():
        client = kvtier.aio.Client("127.0.0.1", server.port)
        with pytest.raises(kvtier.Error) as unknown:
            await client.get("no-such-namespace", [b"k"])
        assert unknown.value.code == kvtier.StatusCode.UNKNOWN_NAMESPACE
        await client.close()
        await client.close()  # again: nothing happens
        with pytest.raises(kvtier.Error) as closed:
            await client.get("kv", [b"k"])
        assert closed.value.code == kvtier.StatusCode.UNAVAILABLE
    asyncio.run(main())


def test_a_failed_connect_raises_and_may_be_retried(server):
    async def main():
        client = kvtier.aio.Client("127.0.0.1", 1, connect_timeout_ms=2000)
        for _ in range(2):
            with pytest.raises(kvtier.Error):
                await client.connect()
        await client.close()
    asyncio.run(main())
