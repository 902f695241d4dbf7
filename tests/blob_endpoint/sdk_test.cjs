// The Blob-compatible endpoint with a client kvtier's authors did not
// write: Azure's own JavaScript SDK (@azure/storage-blob, installed into
// .azurite/ by scripts/setup.sh). Every call is made twice, once through
// kvtierd and once straight against Azurite (the origin), and the answers
// must agree. Run by ctest: node --test tests/blob_endpoint/sdk_test.cjs
// (KVTIER_BIN_DIR names the folder of kvtierd).

"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const root = path.resolve(__dirname, "..", "..");
const sdk = require(path.join(root, ".azurite", "node_modules", "@azure", "storage-blob"));
const {
  BlobServiceClient,
  StorageSharedKeyCredential,
  AnonymousCredential,
  generateBlobSASQueryParameters,
  generateAccountSASQueryParameters,
  AccountSASPermissions,
  AccountSASServices,
  AccountSASResourceTypes,
  BlobSASPermissions,
  ContainerSASPermissions,
} = sdk;

const ACCOUNT = "devstoreaccount1";
const KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const MiB = 1 << 20;
const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);
// No retries: a wrong answer must fail the test, not be retried away.
const options = { retryOptions: { maxTries: 1 } };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvtier-blob-endpoint-"));
const children = [];

function waitFor(predicate, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const value = predicate();
      if (value) return resolve(value);
      if (Date.now() > deadline) return reject(new Error("timed out waiting for " + what));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function startProcess(command, args, logName, env = {}) {
  const log = fs.openSync(path.join(dir, logName), "w");
  const child = spawn(command, args, { stdio: ["ignore", log, log], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

function logOf(name) {
  try {
    return fs.readFileSync(path.join(dir, name), "utf8");
  } catch {
    return "";
  }
}

async function startAzurite() {
  startProcess("bash", [path.join(root, "scripts", "start-azurite.sh"), "0", path.join(dir, "azurite")],
               "azurite.log");
  const port = await waitFor(() => {
    const match = /listens on http:\/\/127\.0\.0\.1:(\d+)\r?\n/.exec(logOf("azurite.log"));
    return match && Number(match[1]);
  }, "Azurite");
  return `http://127.0.0.1:${port}/${ACCOUNT}`;
}

// A kvtierd over the origin; `name` keeps its files apart, `server` adds
// to its server section.
async function startKvtier(origin, name = "kvtierd", server = "") {
  const config = `
server: {blob_listen: "127.0.0.1:0", metrics_listen: "127.0.0.1:0"${server}}
tiers:
  dram: {capacity: 64MiB}
  nvme: {directory: ${dir}/${name}-nvme, capacity: 1GiB, segment_bytes: 16MiB}
  blob: {endpoint: "${origin}", account: ${ACCOUNT}, key_env: KVTIER_TEST_BLOB_KEY,
         container: checkpoints}
namespaces:
  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob], objects: {block_bytes: 64KiB}}
  - {name: training, kind: dataset, origin: {container: training, block_bytes: 1MiB}}
  - {name: eval, kind: dataset, origin: {container: shared, prefix: eval/, block_bytes: 1MiB}}
  - {name: models, kind: dataset, origin: {container: shared, prefix: models/, block_bytes: 1MiB}}
`;
  fs.writeFileSync(path.join(dir, `${name}.yaml`), config);
  const bin = process.env.KVTIER_BIN_DIR || path.join(root, "build", "bin");
  const portFile = path.join(dir, `${name}.ports`);
  const child = startProcess(path.join(bin, "kvtierd"),
                             ["--config", path.join(dir, `${name}.yaml`), "--port", "0",
                              "--port-file", portFile],
                             `${name}.log`, { KVTIER_TEST_BLOB_KEY: KEY });
  const ports = await waitFor(() => {
    if (child.exitCode !== null) throw new Error("kvtierd exited:\n" + logOf(`${name}.log`));
    if (!fs.existsSync(portFile)) return null;
    const lines = fs.readFileSync(portFile, "utf8").split("\n");
    return lines.length >= 5 && lines[4] !== "" ? lines.map(Number) : null;
  }, "kvtierd");
  return { blob: `http://127.0.0.1:${ports[4]}/${ACCOUNT}`, native: ports[0], metrics: ports[1],
           child };
}

async function metric(port, pattern) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// `size` pseudo-random bytes, the same for the same seed.
function bytes(size, seed) {
  const key = crypto.createHash("sha256").update(String(seed)).digest().subarray(0, 16);
  return crypto.createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

let origin;     // BlobServiceClient straight to Azurite
let originEndpoint;
let cached;     // BlobServiceClient through kvtierd
let server;
const blobs = {
  "shards/train-0000.bin": bytes(5 * MiB + 12345, 1),
  "shards/train-0001.bin": bytes(2 * MiB, 2),
  "shards/sub/deep.bin": bytes(1000, 3),
  "readme.txt": Buffer.from("hello from the origin\n"),
  "odd names/ü & <x>.bin": bytes(3 * MiB + 1, 4),
  "empty.bin": Buffer.alloc(0),
};
const fanOut = bytes(8 * MiB, 9);

test.before(async () => {
  const originUrl = await startAzurite();
  origin = new BlobServiceClient(originUrl, credential, options);
  originEndpoint = originUrl;
  const training = origin.getContainerClient("training");
  await training.create();
  for (const [name, data] of Object.entries(blobs)) {
    await training.getBlockBlobClient(name).uploadData(data);
  }
  await training.getBlockBlobClient("fan/out.bin").uploadData(fanOut);
  const shared = origin.getContainerClient("shared");
  await shared.create();
  await shared.getBlockBlobClient("eval/set-a.bin").uploadData(bytes(4096, 5));
  await shared.getBlockBlobClient("models/m.bin").uploadData(bytes(8192, 6));
  await shared.getBlockBlobClient("other/not-served.bin").uploadData(bytes(10, 7));
  await origin.getContainerClient("checkpoints").create();
  server = await startKvtier(originUrl);
  cached = new BlobServiceClient(server.blob, credential, options);
});

test.after(async () => {
  for (const child of children) child.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 200));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("lists a container flat, with the origin's names, sizes and ETags", async () => {
  const want = await collect(origin.getContainerClient("training").listBlobsFlat());
  const got = await collect(cached.getContainerClient("training").listBlobsFlat());
  assert.deepEqual(got.map((b) => b.name), want.map((b) => b.name));
  assert.deepEqual(got.map((b) => b.properties.contentLength),
                   want.map((b) => b.properties.contentLength));
  assert.deepEqual(got.map((b) => b.properties.etag), want.map((b) => b.properties.etag));
  assert.equal(got[0].properties.blobType, "BlockBlob");
});

test("lists by hierarchy and in pages, as the origin does", async () => {
  const hierarchy = async (client, prefix) =>
    (await collect(client.getContainerClient("training").listBlobsByHierarchy("/", { prefix })))
      .map((item) => item.kind + ":" + item.name);
  for (const prefix of ["", "shards/", "shards/sub/", "odd names/", "nothing/"]) {
    assert.deepEqual(await hierarchy(cached, prefix), await hierarchy(origin, prefix), prefix);
  }
  const pages = [];
  for await (const page of cached.getContainerClient("training").listBlobsFlat()
                 .byPage({ maxPageSize: 2 })) {
    assert.ok(page.segment.blobItems.length <= 2);
    pages.push(...page.segment.blobItems.map((b) => b.name));
  }
  const all = await collect(origin.getContainerClient("training").listBlobsFlat());
  assert.deepEqual(pages, all.map((b) => b.name));
});

test("serves a container shared by namespaces under their prefixes only", async () => {
  const names = async (client, delimiter) =>
    (await collect(client.getContainerClient("shared").listBlobsByHierarchy(delimiter)))
      .map((item) => item.kind + ":" + item.name);
  assert.deepEqual(await names(cached, "/"), ["prefix:eval/", "prefix:models/"]);
  const flat = await collect(cached.getContainerClient("shared").listBlobsFlat());
  assert.deepEqual(flat.map((b) => b.name), ["eval/set-a.bin", "models/m.bin"]);
  const data = await cached.getContainerClient("shared").getBlobClient("models/m.bin")
                   .downloadToBuffer();
  assert.ok(data.equals(bytes(8192, 6)));
  await assert.rejects(
      cached.getContainerClient("shared").getBlobClient("other/not-served.bin").downloadToBuffer(),
      (e) => e.statusCode === 404);
  const info = await cached.getAccountInfo();
  assert.equal(info.accountKind, "StorageV2");
  assert.equal(info.isHierarchicalNamespaceEnabled, false);
  const containers = await collect(cached.listContainers());
  assert.deepEqual(containers.map((c) => c.name), ["checkpoints", "shared", "training"]);
});

test("downloads whole blobs, byte for byte", async () => {
  const container = cached.getContainerClient("training");
  for (const [name, data] of Object.entries(blobs)) {
    const got = await container.getBlobClient(name).downloadToBuffer();
    assert.ok(got.equals(data), name);
    // The streaming download, as most readers use it.
    const response = await container.getBlobClient(name).download();
    const chunks = [];
    for await (const chunk of response.readableStreamBody) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(data), name + " (stream)");
  }
});

test("downloads ranges across block boundaries like the origin", async () => {
  const name = "shards/train-0000.bin";
  const data = blobs[name];
  const ranges = [[0, 1], [MiB - 3, 7], [MiB, MiB], [123, 3 * MiB], [5 * MiB, 12345],
                  [data.length - 1, 1], [2 * MiB + 5, undefined]];
  for (const [offset, count] of ranges) {
    const via = await cached.getContainerClient("training").getBlobClient(name)
                    .downloadToBuffer(offset, count);
    const direct = await origin.getContainerClient("training").getBlobClient(name)
                       .downloadToBuffer(offset, count);
    assert.ok(via.equals(direct), `${offset}+${count}`);
    assert.ok(via.equals(data.subarray(offset, count === undefined ? undefined : offset + count)));
  }
  const past = cached.getContainerClient("training").getBlobClient(name)
                   .download(data.length + 10, 5);
  await assert.rejects(past, (e) => e.statusCode === 416 && e.code === "InvalidRange");
});

test("answers properties, existence and conditions like the origin", async () => {
  const name = "shards/train-0001.bin";
  const via = await cached.getContainerClient("training").getBlobClient(name).getProperties();
  const direct = await origin.getContainerClient("training").getBlobClient(name).getProperties();
  assert.equal(via.contentLength, direct.contentLength);
  assert.equal(via.etag, direct.etag);
  assert.equal(via.blobType, "BlockBlob");
  assert.equal(await cached.getContainerClient("training").getBlobClient("missing").exists(), false);
  assert.equal(await cached.getContainerClient("training").exists(), true);
  assert.equal(await cached.getContainerClient("nope").exists(), false);
  const blob = cached.getContainerClient("training").getBlobClient(name);
  await assert.rejects(blob.download(0, undefined, { conditions: { ifMatch: '"0xdeadbeef"' } }),
                       (e) => e.statusCode === 412);
  const same = await blob.download(0, 10, { conditions: { ifMatch: via.etag } });
  assert.equal(same.contentLength, 10);
});

test("refuses writes with an Azure error, and keeps serving", async () => {
  const blob = cached.getContainerClient("training").getBlockBlobClient("new.bin");
  await assert.rejects(blob.uploadData(Buffer.from("x")),
                       (e) => e.statusCode === 405 && e.code === "UnsupportedHttpVerb");
  await assert.rejects(cached.getContainerClient("training").getBlobClient("readme.txt").delete(),
                       (e) => e.statusCode === 405);
  const text = await cached.getContainerClient("training").getBlobClient("readme.txt")
                   .downloadToBuffer();
  assert.equal(text.toString(), "hello from the origin\n");
});

test("verifies Shared Key and SAS, and refuses bad ones", async () => {
  const wrongKey = new StorageSharedKeyCredential(ACCOUNT, Buffer.alloc(64, 1).toString("base64"));
  const forged = new BlobServiceClient(server.blob, wrongKey, options);
  await assert.rejects(
      forged.getContainerClient("training").getBlobClient("readme.txt").downloadToBuffer(),
      (e) => e.statusCode === 403);
  // A GET's error has a body: its code, as Azure's.
  await assert.rejects(
      forged.getContainerClient("training").getBlobClient("readme.txt").download(),
      (e) => e.statusCode === 403 && e.code === "AuthenticationFailed");

  const expiresOn = new Date(Date.now() + 3600 * 1000);
  const blobSas = generateBlobSASQueryParameters(
      { containerName: "training", blobName: "readme.txt", permissions: BlobSASPermissions.parse("r"),
        expiresOn }, credential).toString();
  const viaSas = new BlobServiceClient(`${server.blob}?${blobSas}`, new AnonymousCredential(), options);
  const text = await viaSas.getContainerClient("training").getBlobClient("readme.txt").downloadToBuffer();
  assert.equal(text.toString(), "hello from the origin\n");
  await assert.rejects(
      viaSas.getContainerClient("training").getBlobClient("empty.bin").downloadToBuffer(),
      (e) => e.statusCode === 403);

  const containerSas = generateBlobSASQueryParameters(
      { containerName: "training", permissions: ContainerSASPermissions.parse("rl"), expiresOn },
      credential).toString();
  const viaContainerSas =
      new BlobServiceClient(`${server.blob}?${containerSas}`, new AnonymousCredential(), options);
  const listed = await collect(viaContainerSas.getContainerClient("training").listBlobsFlat());
  assert.equal(listed.length, Object.keys(blobs).length + 1);  // and fan/out.bin

  const accountSas = generateAccountSASQueryParameters(
      { permissions: AccountSASPermissions.parse("rl"), services: AccountSASServices.parse("b").toString(),
        resourceTypes: AccountSASResourceTypes.parse("sco").toString(), expiresOn }, credential).toString();
  const viaAccountSas =
      new BlobServiceClient(`${server.blob}?${accountSas}`, new AnonymousCredential(), options);
  const data = await viaAccountSas.getContainerClient("training").getBlobClient("shards/sub/deep.bin")
                   .downloadToBuffer();
  assert.ok(data.equals(blobs["shards/sub/deep.bin"]));
  const expired = generateBlobSASQueryParameters(
      { containerName: "training", permissions: ContainerSASPermissions.parse("r"),
        expiresOn: new Date(Date.now() - 3600 * 1000) }, credential).toString();
  const viaExpired = new BlobServiceClient(`${server.blob}?${expired}`, new AnonymousCredential(), options);
  await assert.rejects(
      viaExpired.getContainerClient("training").getBlobClient("readme.txt").downloadToBuffer(),
      (e) => e.statusCode === 403);
});

test("16 concurrent downloads of one blob read each block from the origin once", async () => {
  const name = "fan/out.bin";  // in the origin before kvtierd started, never read yet
  const data = fanOut;
  const reads = /kvtier_tier_reads_total\{tier="origin\/training"\} (\d+)/;
  const before = await metric(server.metrics, reads);
  const downloads = Array.from({ length: 16 }, () =>
      new BlobServiceClient(server.blob, credential, options).getContainerClient("training")
          .getBlobClient(name).downloadToBuffer());
  for (const got of await Promise.all(downloads)) assert.ok(got.equals(data));
  const after = await metric(server.metrics, reads);
  assert.equal(after - before, 8, "one origin read per 1 MiB block");
});

// Raw HTTP, for what no SDK sends: bytes in, everything the server
// answered until it closed (or `waitMs` passed) out.
function exchange(port, bytes, waitMs = 3000) {
  const net = require("node:net");
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    const chunks = [];
    const timer = setTimeout(() => { socket.destroy(); resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: false }); }, waitMs);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("close", () => { clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString("latin1"), closed: true }); });
    socket.on("error", reject);
  });
}

test("malformed requests get a 400 and a close, pipelined ones each an answer", async () => {
  const port = Number(new URL(server.blob).port);
  const badInput = /kvtier_bad_input_total\{kind="blob_http"\} (\d+)/;
  const before = await metric(server.metrics, badInput);

  const garbage = await exchange(port, "GARBAGE\r\n\r\n");
  assert.match(garbage.text, /^HTTP\/1\.1 400 /);
  assert.ok(garbage.closed);
  const huge = await exchange(port, "GET /x HTTP/1.1\r\nX-Big: " + "a".repeat(20000) + "\r\n\r\n");
  assert.match(huge.text, /^HTTP\/1\.1 400 /);
  assert.ok(huge.closed);
  const badEscape = await exchange(port, "GET /devstoreaccount1/training/a%zz HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n");
  assert.match(badEscape.text, /^HTTP\/1\.1 400 [^]*x-ms-error-code: InvalidUri/);
  const withBody = await exchange(port, "GET /devstoreaccount1/training/readme.txt HTTP/1.1\r\nHost: k\r\nContent-Length: 3\r\n\r\nabc");
  assert.match(withBody.text, /^HTTP\/1\.1 400 /);
  assert.ok(withBody.closed);
  const put = await exchange(port, "PUT /devstoreaccount1/training/x HTTP/1.1\r\nHost: k\r\nContent-Length: 1000000\r\n\r\n");
  assert.match(put.text, /^HTTP\/1\.1 405 [^]*Connection: close/);
  assert.ok(put.closed, "a write's body is never read: the connection is closed");

  // Two requests in one write, on one keep-alive connection.
  const request = "GET /devstoreaccount1/training/readme.txt HTTP/1.1\r\nHost: k\r\n\r\n";
  const pipelined = await exchange(port, request + request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
  assert.equal(pipelined.text.match(/HTTP\/1\.1 200 OK/g).length, 2);
  assert.equal(pipelined.text.match(/hello from the origin\n/g).length, 2);

  assert.ok(await metric(server.metrics, badInput) - before >= 3);
  // And the server still serves.
  const text = await cached.getContainerClient("training").getBlobClient("readme.txt").downloadToBuffer();
  assert.equal(text.toString(), "hello from the origin\n");
});

test("serves a checkpoint namespace's objects where they land in Blob", async () => {
  const bin = process.env.KVTIER_BIN_DIR || path.join(root, "build", "bin");
  const data = bytes(300 * 1024 + 7, 11);  // five 64 KiB blocks, the last one short
  const file = path.join(dir, "model.pt");
  fs.writeFileSync(file, data);
  const cli = (...args) => require("node:child_process").execFileSync(
      path.join(bin, "kvtier"), ["--server", `127.0.0.1:${server.native}`, ...args]);
  cli("write", "ckpt", "step-1/model.pt", file);
  const container = cached.getContainerClient("checkpoints");
  const listed = await collect(container.listBlobsFlat({ prefix: "ckpt/" }));
  assert.deepEqual(listed.map((b) => [b.name, b.properties.contentLength]),
                   [["ckpt/step-1/model.pt", data.length]]);
  assert.ok((await container.getBlobClient("ckpt/step-1/model.pt").downloadToBuffer()).equals(data));
  const part = await container.getBlobClient("ckpt/step-1/model.pt").downloadToBuffer(65530, 20);
  assert.ok(part.equals(data.subarray(65530, 65550)));
  // Once uploaded, the origin holds the same bytes at the same name.
  cli("flush", "ckpt");
  const direct = await origin.getContainerClient("checkpoints").getBlobClient("ckpt/step-1/model.pt")
                     .downloadToBuffer();
  assert.ok(direct.equals(data));
});

test("past the connection limit a client gets 503 ServerBusy, and the others are served", async () => {
  const limited = await startKvtier(originEndpoint, "limited", ", max_connections: 2");
  const port = Number(new URL(limited.blob).port);
  const net = require("node:net");
  const request = "GET /devstoreaccount1/training/readme.txt HTTP/1.1\r\nHost: k\r\n\r\n";
  // Two keep-alive connections, each answered once (so both are registered).
  const open = [];
  for (let i = 0; i < 2; ++i) {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => { text += chunk.toString("latin1"); });
    socket.write(request);
    await waitFor(() => text.includes("hello from the origin\n"), "an answer");
    open.push({ socket, text: () => text });
  }
  const refused = await exchange(port, request);
  assert.match(refused.text, /^HTTP\/1\.1 503 [^]*x-ms-error-code: ServerBusy/);
  assert.ok(refused.closed);
  // The connections held are still served.
  open[0].socket.write(request);
  await waitFor(() => open[0].text().split("hello from the origin").length === 3, "a second answer");
  for (const { socket } of open) socket.destroy();
  limited.child.kill("SIGTERM");
});
