"""kvtier.aio: the client for asyncio event loops (docs/python.md, "asyncio").

`kvtier.aio.Client` has the methods of `kvtier.Client` as coroutines. Each
call runs the client's waiting call on a small pool of threads owned by the
client (the call releases the GIL while it waits on the server), so the
event loop never blocks on the network, and up to `max_in_flight` calls of
one client are on the wire at once. The connection is made on the pool too,
by `await client.connect()`, `async with`, or the first call.

Cancelling an awaiting task does not recall a request already sent: the
call finishes on its thread and its answer is dropped. Buffers given to
`get_into` must stay untouched until the await returns.
"""

import asyncio
import concurrent.futures
import functools

try:
    _kvtier  # the extension module, set by it when it builds this submodule
except NameError:
    import kvtier as _kvtier

__all__ = ["Client", "connect"]

_CALLS = ("put", "get", "get_into", "get_prefix", "get_prefix_into", "exists", "delete", "match",
          "release", "flush", "stats", "list", "stat", "read_range", "read", "write",
          "create_object", "put_object_block", "commit_object", "abort_object", "rename",
          "delete_object")


class Client:
    """An asyncio face of kvtier.Client(host, port, **options)."""

    def __init__(self, host="127.0.0.1", port=7400, *, max_in_flight=8, **options):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._arguments = (host, port, options)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_in_flight, thread_name_prefix="kvtier-aio")
        self._client = None
        self._connecting = None
        self._closed = False

    async def connect(self):
        """Connects (on the pool) unless connected; returns self."""
        await self._native()
        return self

    async def _native(self):
        if self._closed:
            raise _kvtier.Error(_kvtier.StatusCode.UNAVAILABLE, "unavailable",
                                "the client is closed")
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        if self._connecting is None:
            host, port, options = self._arguments
            self._connecting = loop.run_in_executor(
                self._pool, functools.partial(_kvtier.Client, host, port, **options))
        try:
            self._client = await asyncio.shield(self._connecting)
        except BaseException:
            if self._connecting.done():
                self._connecting = None  # a failed connect may be tried again
            raise
        return self._client

    async def _call(self, name, *args, **kwargs):
        client = await self._native()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, functools.partial(getattr(client, name), *args, **kwargs))

    @property
    def closed(self):
        return self._closed

    async def close(self):
        """Closes the connection once the calls in flight are done."""
        if self._closed:
            return
        self._closed = True
        client = self._client
        if client is None and self._connecting is not None:
            try:
                client = await asyncio.shield(self._connecting)
            except Exception:
                client = None
        loop = asyncio.get_running_loop()
        if client is not None:
            await loop.run_in_executor(self._pool, client.close)
        await loop.run_in_executor(None, functools.partial(self._pool.shutdown, wait=True))

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc_info):
        await self.close()


def _coroutine(name):
    async def call(self, *args, **kwargs):
        return await self._call(name, *args, **kwargs)
    call.__name__ = name
    call.__qualname__ = "Client." + name
    call.__doc__ = f"Awaitable kvtier.Client.{name}: " + (
        getattr(_kvtier.Client, name).__doc__ or "").strip()
    return call


for _name in _CALLS:
    setattr(Client, _name, _coroutine(_name))


async def connect(host="127.0.0.1", port=7400, **options):
    """A connected kvtier.aio.Client."""
    return await Client(host, port, **options).connect()
