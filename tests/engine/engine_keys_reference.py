#!/usr/bin/env python3
"""Reference block keys of vLLM and SGLang, computed the way the engines do.

vLLM (v1 engine, --prefix-caching-hash-algo sha256_cbor / xxhash_cbor):
  NONE_HASH  = H(cbor2.dumps(PYTHONHASHSEED, canonical=True))
  block hash = H(cbor2.dumps((parent, tuple(tokens), extra_keys), canonical=True))
  extra_keys = (lora_name?, cache_salt on block 0 only?) or None
SGLang HiCache (get_hash_str): sha256(prior digest || tokens as uint32 LE).hexdigest()

Uses the serializer vLLM uses (cbor2) and Python's hashlib/xxhash, so it is an
implementation independent of common/engine_keys.cc.

  engine_keys_reference.py --vectors
      prints the fixed vectors pinned in tests/unit/engine_keys_test.cc
  engine_keys_reference.py --cli build/bin/kvtier [--cases N] [--seed S]
      compares `kvtier keys` with this reference on N random prompts
"""

import argparse
import hashlib
import random
import subprocess
import sys

import cbor2
import xxhash


def vllm_digest(algo, data):
    if algo == "sha256_cbor":
        return hashlib.sha256(data).digest()
    return xxhash.xxh3_128_digest(data)


def vllm_keys(tokens, algo, seed, block_size, lora=None, salt=None):
    parent = vllm_digest(algo, cbor2.dumps(seed, canonical=True))
    keys = []
    for start in range(0, len(tokens) - block_size + 1, block_size):
        extra = ([lora] if lora else []) + ([salt] if salt and start == 0 else [])
        block = (parent, tuple(tokens[start:start + block_size]),
                 tuple(extra) if extra else None)
        parent = vllm_digest(algo, cbor2.dumps(block, canonical=True))
        keys.append(parent.hex())
    return keys


def sglang_keys(tokens, page_size):
    keys, prior = [], None
    for start in range(0, len(tokens) - page_size + 1, page_size):
        hasher = hashlib.sha256()
        if prior:
            hasher.update(bytes.fromhex(prior))
        for token in tokens[start:start + page_size]:
            hasher.update(token.to_bytes(4, byteorder="little", signed=False))
        prior = hasher.hexdigest()
        keys.append(prior)
    return keys


def print_vectors():
    tokens = list(range(48))
    for algo in ("sha256_cbor", "xxhash_cbor"):
        print(algo, "none_hash(seed '0')",
              vllm_digest(algo, cbor2.dumps("0", canonical=True)).hex())
        print(algo, "seed '0', block 16:", vllm_keys(tokens, algo, "0", 16))
    print("sha256_cbor lora 'adapter-1' salt 'tenant-a':",
          vllm_keys(tokens, "sha256_cbor", "0", 16, "adapter-1", "tenant-a"))
    wide = [0, 23, 24, 255, 256, 65535, 65536, 4294967295]
    print("sha256_cbor wide tokens, block 8:", vllm_keys(wide, "sha256_cbor", "0", 8))
    print("sglang page 16:", sglang_keys(tokens, 16))


def run_cli(cli, args, tokens):
    result = subprocess.run([cli, "keys", *args, "-"], input=" ".join(map(str, tokens)),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"kvtier keys {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.split()


def random_tokens(rng):
    # Widths that exercise every CBOR integer length (1, 2, 3, 5 bytes).
    limit = rng.choice([23, 255, 65535, 200000, 2**32 - 1])
    return [rng.randint(0, limit) for _ in range(rng.randint(0, 80))]


def crosscheck(cli, cases, seed):
    rng = random.Random(seed)
    checked = 0
    for case in range(cases):
        tokens = random_tokens(rng)
        block = rng.choice([1, 4, 16, 32])
        algo = rng.choice(["sha256_cbor", "xxhash_cbor"])
        py_seed = rng.choice(["0", "42", "kvtier", ""])
        lora = rng.choice([None, "adapter-1"])
        salt = rng.choice([None, "tenant-a", "s" * 30])
        args = ["vllm", "--algo", algo, "--seed", py_seed, "--block-size", str(block)]
        if lora:
            args += ["--lora", lora]
        if salt:
            args += ["--salt", salt]
        want = vllm_keys(tokens, algo, py_seed, block, lora, salt)
        got = run_cli(cli, args, tokens)
        if got != want:
            print(f"MISMATCH case {case} (seed {seed}): kvtier keys {' '.join(args)}\n"
                  f"  tokens {tokens}\n  want {want}\n  got  {got}", file=sys.stderr)
            return 1
        want = sglang_keys(tokens, block)
        got = run_cli(cli, ["sglang", "--page-size", str(block)], tokens)
        if got != want:
            print(f"MISMATCH case {case} (seed {seed}): sglang page {block}\n"
                  f"  tokens {tokens}\n  want {want}\n  got  {got}", file=sys.stderr)
            return 1
        checked += len(tokens) // block
    print(f"{cases} prompts, {checked} vLLM and {checked} SGLang block keys match (seed {seed})")
    return 0 if checked > 0 else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", action="store_true")
    parser.add_argument("--cli")
    parser.add_argument("--cases", type=int, default=150)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.vectors:
        print_vectors()
        return 0
    if not args.cli:
        parser.error("--cli or --vectors")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    return crosscheck(args.cli, args.cases, seed)


if __name__ == "__main__":
    sys.exit(main())
