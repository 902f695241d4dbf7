// Downloads through kvtier's Blob-compatible endpoint (warm: served from the
// rack's DRAM) and straight from the origin (Azurite), side by side, with
// Azure's JavaScript SDK and with curl. Prints a Markdown table of MiB/s
// and kvtier / origin. Run by scripts/bench-blob-endpoint.sh, which starts
// both servers: node bench/blob_endpoint_bench.cjs ORIGIN_URL KVTIER_URL SIZE_MIB
"use strict";
const path = require("node:path");
const crypto = require("node:crypto");
const { execFileSync } = require("node:child_process");
const root = path.resolve(__dirname, "..");
const {
  BlobServiceClient, StorageSharedKeyCredential, generateBlobSASQueryParameters, BlobSASPermissions,
} = require(path.join(root, ".azurite", "node_modules", "@azure", "storage-blob"));

const [originUrl, kvtierUrl, sizeMiB] = process.argv.slice(2);
const ACCOUNT = "devstoreaccount1";
const KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);
const MiB = 1 << 20;
const size = Number(sizeMiB) * MiB;
const rounds = 3;

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// Best of `rounds`: MiB/s of `bytes` moved by fn.
async function best(bytes, fn) {
  let fastest = Infinity;
  for (let i = 0; i < rounds; ++i) fastest = Math.min(fastest, await timed(fn));
  return bytes / MiB / fastest;
}

async function main() {
  const origin = new BlobServiceClient(originUrl, credential);
  const kvtier = new BlobServiceClient(kvtierUrl, credential);
  const container = origin.getContainerClient("bench");
  const data = crypto.randomBytes(size);
  await container.getBlockBlobClient("blob.bin").uploadData(data, { blockSize: 8 * MiB });
  const rows = [];
  const row = (what, o, k) => rows.push(`| ${what} | ${o.toFixed(0)} | ${k.toFixed(0)} | ${(k / o).toFixed(2)}x |`);
  const sdkWhole = (client) => () =>
    client.getContainerClient("bench").getBlobClient("blob.bin").downloadToBuffer(0, undefined, {
      blockSize: 8 * MiB, concurrency: 4 });
  // Cold: the first read through kvtier fetches every block from the origin
  // (one sample each), and leaves them in the rack's cache.
  const coldOrigin = size / MiB / await timed(sdkWhole(origin));
  let warm;
  const coldKvtier = size / MiB / await timed(async () => {
    warm = await sdkWhole(kvtier)();
  });
  if (!warm.equals(data)) throw new Error("kvtier served different bytes");
  row(`cold: first SDK downloadToBuffer through kvtier, ${sizeMiB} MiB`, coldOrigin, coldKvtier);
  row(`warm: SDK downloadToBuffer, ${sizeMiB} MiB (8 MiB ranges, 4 in parallel)`,
      await best(size, sdkWhole(origin)), await best(size, sdkWhole(kvtier)));
  const sdkStream = (client) => async () => {
    const response = await client.getContainerClient("bench").getBlobClient("blob.bin").download();
    for await (const chunk of response.readableStreamBody) void chunk;
  };
  row(`warm: SDK download() stream, ${sizeMiB} MiB, one GET`,
      await best(size, sdkStream(origin)), await best(size, sdkStream(kvtier)));
  const readers = 8;
  const fanOut = (client) => () => Promise.all(Array.from({ length: readers }, () => sdkStream(client)()));
  row(`warm: SDK, ${readers} readers of the same blob at once`,
      await best(size * readers, fanOut(origin)), await best(size * readers, fanOut(kvtier)));
  const sas = generateBlobSASQueryParameters({ containerName: "bench", blobName: "blob.bin",
    permissions: BlobSASPermissions.parse("r"), expiresOn: new Date(Date.now() + 3600e3) },
    credential).toString();
  const curl = (base) => () => {
    execFileSync("curl", ["-sf", "-o", "/dev/null", `${base}/bench/blob.bin?${sas}`]);
  };
  row(`warm: curl GET with a SAS, ${sizeMiB} MiB`, await best(size, curl(originUrl)), await best(size, curl(kvtierUrl)));
  console.log("| download | origin (Azurite) MiB/s | kvtier MiB/s | kvtier / origin |");
  console.log("|---|---:|---:|---:|");
  for (const line of rows) console.log(line);
}

main().catch((e) => { console.error(e); process.exit(1); });
