"""A sketch of the engine side of a kvtier KV connector.

An inference engine keeps the KV cache of each sequence in pages of
`page_size` tokens. Before computing a prompt it asks kvtier how long a
prefix of the prompt's pages is cached (one round trip), loads those pages
into its own preallocated KV buffer, computes only the rest, and stores the
pages it computed so the next request with the same prefix skips them.

docs/python.md maps these steps onto a vLLM KV connector and an LMCache
remote backend. Run against a server:

    PYTHONPATH=build/client/python python3 client/python/examples/engine_connector.py \
        --server 127.0.0.1:7400 --namespace kv
"""

import argparse

import numpy as np

import kvtier


class KvConnector:
    """Loads and stores a sequence's KV pages through kvtier.

    `kv` is the engine's paged KV buffer: one row per page slot, each row a
    page's bytes (all layers' K and V). Pages are keyed by the chained hash
    of their tokens and everything before them, seeded by the model identity
    and rank, so a page is only ever shared with the same prefix of the same
    model.
    """

    def __init__(self, client, namespace, page_size, seed, kv):
        self.client = client
        self.namespace = namespace
        self.page_size = page_size
        self.seed = seed
        self.kv = kv

    def page_keys(self, token_ids):
        return kvtier.prefix_block_keys(token_ids, self.page_size, self.seed)

    def load(self, token_ids, slots):
        """Loads the longest cached prefix of the prompt's pages into the KV
        rows `slots[i]`; returns how many pages were loaded (their tokens need
        no prefill). The lease keeps the matched pages from being evicted
        between the match and the read."""
        keys = self.page_keys(token_ids)
        if not keys:
            return 0
        match = self.client.match(self.namespace, keys, lease_ms=5000)
        if match.matched == 0:
            return 0
        hits = keys[:match.matched]
        rows = [self.kv[slot] for slot in slots[:match.matched]]
        try:
            lengths = self.client.get_prefix_into(self.namespace, hits, rows,
                                                  lease_id=match.lease_id)
        finally:
            self.client.release(match.lease_id)
        # Fewer pages than matched can arrive (a page that failed its
        # checksum ends the prefix): those are recomputed.
        return len(lengths)

    def store(self, token_ids, slots, first_page):
        """Stores the prompt's full pages from `first_page` on (the ones the
        engine computed) from the KV rows `slots[i]`. Rows go to the server
        where they lie; returns the per-page status codes."""
        keys = self.page_keys(token_ids)[first_page:]
        rows = [self.kv[slot] for slot in slots[first_page:first_page + len(keys)]]
        return self.client.put(self.namespace, keys, rows) if keys else []


def demo(server, namespace, page_size=16, page_bytes=64 << 10):
    """Two requests sharing a system prompt: the second loads the shared
    pages instead of computing them. Returns (loaded by the first, loaded by
    the second, whether the loaded bytes are those stored)."""
    host, port = server.rsplit(":", 1)
    client = kvtier.Client(host, int(port))
    seed = kvtier.model_seed("example/model", "bf16", "nhd-%d" % page_size)
    kv = np.zeros((64, page_bytes), dtype=np.uint8)
    connector = KvConnector(client, namespace, page_size, seed, kv)
    rng = np.random.default_rng(0)
    system_prompt = list(rng.integers(0, 32000, size=8 * page_size))

    # Request 1: nothing cached; the "engine" computes all 10 pages.
    first = system_prompt + list(rng.integers(0, 32000, size=2 * page_size))
    slots = list(range(10))
    loaded_first = connector.load(first, slots)
    kv[slots] = rng.integers(0, 255, size=(10, page_bytes), dtype=np.uint8)  # "prefill"
    computed = kv[slots].copy()
    connector.store(first, slots, loaded_first)

    # Request 2: same system prompt, another question; other KV rows.
    second = system_prompt + list(rng.integers(0, 32000, size=3 * page_size))
    slots = list(range(20, 31))
    loaded_second = connector.load(second, slots)
    same = bool(np.array_equal(kv[slots[:loaded_second]], computed[:loaded_second]))
    return loaded_first, loaded_second, same


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:7400")
    parser.add_argument("--namespace", default="kv")
    args = parser.parse_args()
    first, second, same = demo(args.server, args.namespace)
    print(f"request 1 loaded {first} pages; request 2 loaded {second} of its 11 pages "
          f"(the 8 of the shared system prompt); bytes as stored: {same}")
