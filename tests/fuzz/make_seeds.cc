// Writes the seed corpus of the fuzz targets into a directory: one file per
// case, each a byte stream as a client (or, for replies, a server) would
// send it. Every operation appears, well formed, and so does every kind of
// bad input the server must refuse.
//
// Usage: kvtier-fuzz-seeds DIR

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "common/checksum.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/object_messages.h"

namespace kvtier::protocol {
namespace {

using Bytes = std::vector<std::byte>;

struct FrameSpec {
  Opcode opcode = Opcode::kHello;
  uint64_t request_id = 1;
  uint16_t flags = 0;
  std::span<const std::byte> metadata;
  std::span<const std::byte> payload;
};

void Append(Bytes& out, const FrameSpec& spec) {
  FrameHeader header;
  header.opcode = static_cast<uint8_t>(spec.opcode);
  header.flags = spec.flags;
  header.request_id = spec.request_id;
  header.metadata_length = static_cast<uint32_t>(spec.metadata.size());
  header.payload_length = spec.payload.size();
  const FrameHeaderBytes bytes = EncodeFrameHeader(header);
  out.insert(out.end(), bytes.begin(), bytes.end());
  out.insert(out.end(), spec.metadata.begin(), spec.metadata.end());
  out.insert(out.end(), spec.payload.begin(), spec.payload.end());
}

Bytes Hello() {
  Bytes out;
  HelloRequest hello;
  hello.client_name = "seed";
  const Metadata metadata = EncodeHelloRequest(hello);
  Append(out, {Opcode::kHello, 1, 0, metadata.bytes()});
  return out;
}

Bytes Value(size_t size, uint8_t fill) { return Bytes(size, std::byte{fill}); }

// A put of `keys` to `ns`, one value each of `size` bytes; `good_checksums`
// false stores wrong ones.
void AppendPut(Bytes& out, uint64_t id, std::string_view ns, const std::vector<std::string>& keys,
               size_t size, bool good_checksums = true, std::span<const uint32_t> ttls = {},
               std::span<const Pin> pins = {}, std::span<const KbMetadata> kb = {}) {
  Bytes payload;
  std::vector<uint64_t> lengths;
  std::vector<uint64_t> checksums;
  for (size_t i = 0; i < keys.size(); ++i) {
    const Bytes value = Value(size, static_cast<uint8_t>(i + 1));
    lengths.push_back(value.size());
    checksums.push_back(BlockChecksum(value) + (good_checksums ? 0 : 1));
    payload.insert(payload.end(), value.begin(), value.end());
  }
  const Metadata metadata = EncodePutRequest(ns, keys, lengths, checksums, ttls, pins, false, kb);
  Append(out, {Opcode::kPut, id, 0, metadata.bytes(), payload});
}

void AppendKeys(Bytes& out, Opcode opcode, uint64_t id, std::string_view ns,
                const std::vector<std::string>& keys, uint32_t lease_ms = 0, uint64_t lease_id = 0,
                uint32_t deadline_ms = 0) {
  const Metadata metadata = EncodeKeysRequest(ns, keys, lease_ms, lease_id, deadline_ms);
  Append(out, {opcode, id, 0, metadata.bytes()});
}

struct Seed {
  std::string name;
  Bytes bytes;
};

std::vector<Seed> Requests() {
  const std::vector<std::string> keys = {"a", "b", "c"};
  std::vector<Seed> seeds;
  auto session = [&](std::string name, auto&& build) {
    Bytes out = Hello();
    build(out);
    seeds.push_back({std::move(name), std::move(out)});
  };
  session("hello", [](Bytes&) {});
  session("put", [&](Bytes& out) { AppendPut(out, 2, "kv", keys, 100); });
  session("put-trailing-checksums", [&](Bytes& out) {
    // The checksums after the values (kChecksumsTrail), the second one wrong.
    Bytes payload;
    std::vector<uint64_t> lengths;
    Bytes trailer;
    for (size_t i = 0; i < keys.size(); ++i) {
      const Bytes value = Value(200, static_cast<uint8_t>(i + 1));
      lengths.push_back(value.size());
      payload.insert(payload.end(), value.begin(), value.end());
      const uint64_t checksum = BlockChecksum(value) + (i == 1 ? 1 : 0);
      for (int b = 0; b < 8; ++b) trailer.push_back(static_cast<std::byte>(checksum >> (8 * b)));
    }
    payload.insert(payload.end(), trailer.begin(), trailer.end());
    const Metadata metadata = EncodePutRequest("kv", keys, lengths, {});
    Append(out, {Opcode::kPut, 2, frame_flags::kChecksumsTrail, metadata.bytes(), payload});
  });
  session("put-kb", [&](Bytes& out) {
    const std::vector<KbMetadata> kb(keys.size(), KbMetadata{1, 2, 3});
    AppendPut(out, 2, "kb", keys, 64, true, {}, {}, kb);
  });
  session("put-ttl-pins", [&](Bytes& out) {
    const std::vector<uint32_t> ttls = {1, 0, 1000};
    const std::vector<Pin> pins = {Pin::kNone, Pin::kSoft, Pin::kHard};
    AppendPut(out, 2, "ttl", keys, 10, true, ttls, pins);
  });
  session("put-get", [&](Bytes& out) {
    AppendPut(out, 2, "kv", keys, 300);
    AppendKeys(out, Opcode::kGet, 3, "kv", keys);
  });
  session("exists", [&](Bytes& out) { AppendKeys(out, Opcode::kExists, 2, "kv", keys); });
  session("delete", [&](Bytes& out) {
    AppendPut(out, 2, "kv", keys, 1);
    AppendKeys(out, Opcode::kDelete, 3, "kv", keys);
  });
  session("match-lease-get-release", [&](Bytes& out) {
    AppendPut(out, 2, "kv", keys, 50);
    AppendKeys(out, Opcode::kMatchPrefix, 3, "kv", keys, 1000);
    AppendKeys(out, Opcode::kGet, 4, "kv", keys, 0, 1);
    const Metadata release = EncodeReleaseRequest(1);
    Append(out, {Opcode::kRelease, 5, 0, release.bytes()});
  });
  session("get-prefix", [&](Bytes& out) {
    AppendPut(out, 2, "kv", {"a", "b"}, 20);
    AppendKeys(out, Opcode::kGetPrefix, 3, "kv", keys, 0, 0, 5);
  });
  session("flush", [&](Bytes& out) { AppendKeys(out, Opcode::kFlush, 2, "kv", keys); });
  session("stats", [&](Bytes& out) {
    const Metadata stats = EncodeStatsRequest();
    Append(out, {Opcode::kStats, 2, 0, stats.bytes()});
  });
  session("objects", [&](Bytes& out) {
    const Metadata list = EncodeListRequest({"kv", "a/", "/", "", 10});
    Append(out, {Opcode::kList, 2, 0, list.bytes()});
    const Metadata stat = EncodeStatRequest({"kv", "a/b"});
    Append(out, {Opcode::kStat, 3, 0, stat.bytes()});
    const Metadata range = EncodeReadRangeRequest({"kv", "a/b", 100, 4096, false});
    Append(out, {Opcode::kReadRange, 4, 0, range.bytes()});
  });
  return seeds;
}

std::vector<Seed> BadInputs() {
  const std::vector<std::string> keys = {"a", "b"};
  std::vector<Seed> seeds;
  auto session = [&](std::string name, auto&& build) {
    Bytes out = Hello();
    build(out);
    seeds.push_back({std::move(name), std::move(out)});
  };
  // Header faults: each byte field broken in turn.
  auto broken_header = [&](std::string name, size_t offset, uint8_t value) {
    session(name, [&](Bytes& out) {
      const size_t start = out.size();
      AppendKeys(out, Opcode::kExists, 2, "kv", keys);
      out[start + offset] = std::byte{value};
    });
  };
  broken_header("bad-magic", 0, 'X');
  broken_header("bad-version", 4, 9);
  broken_header("unknown-opcode", 5, 200);
  broken_header("unknown-flag", 6, 0x80);
  broken_header("response-flag", 6, frame_flags::kResponse);
  broken_header("region-flag", 6, frame_flags::kPayloadInRegion);
  broken_header("reserved-nonzero", 20, 1);
  broken_header("oversize-metadata", 19, 0x7f);
  broken_header("oversize-payload", 31, 0x7f);
  session("truncated", [&](Bytes& out) {
    AppendPut(out, 2, "kv", keys, 100);
    out.erase(out.end() - 50, out.end());  // (resize trips GCC's -Wstringop-overflow)
  });
  session("garbage-metadata", [&](Bytes& out) {
    const Bytes garbage = Value(40, 0xab);
    Append(out, {Opcode::kGet, 2, 0, garbage});
  });
  session("get-with-payload", [&](Bytes& out) {
    const Metadata metadata = EncodeKeysRequest("kv", keys);
    const Bytes payload = Value(16, 1);
    Append(out, {Opcode::kGet, 2, 0, metadata.bytes(), payload});
  });
  session("put-bad-checksum", [&](Bytes& out) { AppendPut(out, 2, "kv", keys, 100, false); });
  session("put-unknown-namespace", [&](Bytes& out) { AppendPut(out, 2, "nowhere", keys, 10); });
  session("put-lengths-mismatch", [&](Bytes& out) {
    const std::vector<uint64_t> lengths = {10, 10};
    const std::vector<uint64_t> checksums = {1, 2};
    const Metadata metadata = EncodePutRequest("kv", keys, lengths, checksums);
    const Bytes payload = Value(15, 1);
    Append(out, {Opcode::kPut, 2, 0, metadata.bytes(), payload});
  });
  session("key-too-long",
          [&](Bytes& out) { AppendKeys(out, Opcode::kExists, 2, "kv", {std::string(300, 'k')}); });
  session("empty-key", [&](Bytes& out) { AppendKeys(out, Opcode::kExists, 2, "kv", {""}); });
  session("too-many-keys", [&](Bytes& out) {
    std::vector<std::string> many;
    for (int i = 0; i < 100; ++i) many.push_back("k" + std::to_string(i));
    AppendKeys(out, Opcode::kMatchPrefix, 2, "kv", many);
  });
  session("release-unknown-lease", [&](Bytes& out) {
    const Metadata release = EncodeReleaseRequest(777);
    Append(out, {Opcode::kRelease, 2, 0, release.bytes()});
  });
  session("get-unknown-lease",
          [&](Bytes& out) { AppendKeys(out, Opcode::kGet, 2, "kv", keys, 0, 12345); });
  session("hello-announces-region", [&](Bytes& out) {
    HelloRequest hello;
    hello.shm_region_bytes = 1 << 20;
    const Metadata metadata = EncodeHelloRequest(hello);
    Append(out, {Opcode::kHello, 2, 0, metadata.bytes()});
  });
  return seeds;
}

// Replies, for the client-side decoders of the frame target: the request id
// is the key count the frame target assumes (request_id mod 65).
std::vector<Seed> Replies() {
  std::vector<Seed> seeds;
  auto reply = [&](std::string name, Opcode opcode, uint64_t keys, const Metadata& metadata,
                   uint64_t payload_bytes = 0, uint16_t flags = frame_flags::kResponse) {
    Bytes out;
    const Bytes payload = Value(payload_bytes, 7);
    Append(out, {opcode, keys, flags, metadata.bytes(), payload});
    seeds.push_back({std::move(name), std::move(out)});
  };
  GetResponse get;
  get.codes = {StatusCode::kOk, StatusCode::kNotFound};
  get.value_lengths = {8, 0};
  get.checksums = {1, 0};
  get.tiers = {TierId::kDram, TierId::kNone};
  reply("reply-get", Opcode::kGet, 2, EncodeGetResponse(get), 8);
  MatchPrefixResponse match;
  match.matched = 1;
  match.tiers = {TierId::kNvme};
  match.lease_id = 3;
  match.lease_ms = 100;
  reply("reply-match", Opcode::kMatchPrefix, 2, EncodeMatchPrefixResponse(match));
  GetPrefixResponse prefix;
  prefix.delivered = 1;
  prefix.stop_reason = PrefixStop::kMiss;
  prefix.value_lengths = {4};
  prefix.checksums = {9};
  prefix.tiers = {TierId::kDram};
  reply("reply-get-prefix", Opcode::kGetPrefix, 2, EncodeGetPrefixResponse(prefix), 4);
  reply("reply-exists", Opcode::kExists, 1, EncodeExistsResponse({{TierId::kBlob}}));
  reply("reply-put", Opcode::kPut, 1, EncodePutResponse({{StatusCode::kCorruption}}));
  reply("reply-delete", Opcode::kDelete, 1, EncodeDeleteResponse({{StatusCode::kOk}}));
  HelloResponse hello;
  hello.version = 1;
  hello.server_name = "seed";
  hello.namespaces = {"kv"};
  hello.namespace_models = {""};
  hello.transports = {"tcp", "shm"};
  reply("reply-hello", Opcode::kHello, 0, EncodeHelloResponse(hello));
  StatsResponse stats;
  stats.server_name = "seed";
  stats.counters = {{"requests", 3}};
  reply("reply-stats", Opcode::kStats, 0, EncodeStatsResponse(stats));
  reply("reply-error", Opcode::kGet, 0, EncodeErrorReply(ResourceExhausted("queue full")), 0,
        frame_flags::kResponse | frame_flags::kError);
  reply("reply-release", Opcode::kRelease, 0, EncodeReleaseResponse(true));
  reply("reply-flush", Opcode::kFlush, 0, EncodeFlushResponse());
  return seeds;
}

// RESP client streams (the resp target): every command, pipelined, and the
// malformed requests the endpoint must refuse.
std::vector<Seed> RespStreams() {
  auto bulk = [](const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& arg : args) {
      out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
    }
    return out;
  };
  auto seed = [](std::string name, const std::string& text) {
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    return Seed{"resp-" + std::move(name), Bytes(bytes, bytes + text.size())};
  };
  std::vector<Seed> seeds;
  seeds.push_back(
      seed("set-get", bulk({"SET", "k", "v"}) + bulk({"GET", "k"}) + bulk({"GET", "absent"})));
  seeds.push_back(seed("set-options", bulk({"SET", "k", "v", "NX", "PX", "100"}) +
                                          bulk({"SET", "k", "w", "XX", "EX", "5"})));
  seeds.push_back(seed("multi", bulk({"MSET", "a", "1", "b", "2", "c", std::string(9000, 'x')}) +
                                    bulk({"MGET", "a", "b", "c", "d"}) +
                                    bulk({"EXISTS", "a", "b", "z"}) + bulk({"DEL", "a", "z"}) +
                                    bulk({"UNLINK", "b"})));
  seeds.push_back(seed("scan", bulk({"SCAN", "0", "MATCH", "[a-c]*", "COUNT", "5"}) +
                                   bulk({"SCAN", "12345", "TYPE", "string"}) + bulk({"DBSIZE"})));
  seeds.push_back(seed("server", bulk({"HELLO", "3", "SETNAME", "x"}) + bulk({"PING"}) +
                                     bulk({"ECHO", "e"}) + bulk({"INFO", "tiers"}) +
                                     bulk({"COMMAND", "INFO", "get", "nope"}) +
                                     bulk({"COMMAND", "DOCS"}) + bulk({"CLIENT", "SETNAME", "n"}) +
                                     bulk({"AUTH", "pw"}) + bulk({"SELECT", "kb"}) +
                                     bulk({"SELECT", "data"}) + bulk({"QUIT"})));
  seeds.push_back(seed("inline", "PING\r\nSET k v\nGET k\r\n\r\nBOGUS x\r\n"));
  seeds.push_back(seed("bad-multibulk", "*2\r\n$3\r\nGET\r\n:1\r\n"));
  seeds.push_back(seed("bad-length", "*1\r\n$-5\r\n"));
  seeds.push_back(seed(
      "oversize", bulk({"SET", "k"}).substr(0, 4) + "$3\r\nSET\r\n$1\r\nk\r\n" + "$99999999\r\n"));
  return seeds;
}

// HTTP requests to the Blob-compatible endpoint (the blob_http target):
// each operation, keep-alive pipelining, credentials, and malformed
// requests it must refuse.
std::vector<Seed> BlobHttpStreams() {
  auto seed = [](std::string name, const std::string& text) {
    const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
    return Seed{"blob-" + std::move(name), Bytes(bytes, bytes + text.size())};
  };
  auto get = [](const std::string& verb, const std::string& target, const std::string& extra) {
    return verb + " " + target + " HTTP/1.1\r\nHost: kvtier\r\nx-ms-version: 2021-12-02\r\n" +
           extra + "\r\n";
  };
  std::vector<Seed> seeds;
  seeds.push_back(seed(
      "get", get("GET", "/devstoreaccount1/data/a.bin", "") +
                 get("GET", "/data/dir/b.bin", "Range: bytes=3-40\r\n") +
                 get("GET", "/devstoreaccount1/data/a.bin", "x-ms-range: bytes=1000-5000\r\n") +
                 get("GET", "/devstoreaccount1/data/empty", "")));
  seeds.push_back(
      seed("head", get("HEAD", "/devstoreaccount1/data/a.bin", "If-None-Match: \"0x1\"\r\n") +
                       get("HEAD", "/devstoreaccount1/data/missing", "") +
                       get("GET", "/devstoreaccount1/data/a.bin", "If-Match: \"0x2\"\r\n")));
  seeds.push_back(
      seed("list",
           get("GET", "/devstoreaccount1/data?restype=container&comp=list", "") +
               get("GET",
                   "/devstoreaccount1/data?restype=container&comp=list&delimiter=%2F&prefix="
                   "dir%2F&maxresults=1",
                   "") +
               get("GET", "/devstoreaccount1/data?restype=container&comp=list&marker=k1.1.ox", "") +
               get("GET", "/devstoreaccount1/?comp=list", "") +
               get("HEAD", "/devstoreaccount1/data?restype=container", "") +
               get("GET", "/devstoreaccount1/keys?restype=container&comp=list", "")));
  seeds.push_back(seed(
      "credentials",
      get("GET", "/devstoreaccount1/data/a.bin",
          "x-ms-date: Sun, 06 Dec 2026 10:00:00 GMT\r\nAuthorization: SharedKey "
          "devstoreaccount1:AAAA\r\n") +
          get("GET",
              "/devstoreaccount1/data/a.bin?sv=2021-12-02&sr=b&sp=r&se=2099-01-01T00%3A00%3A00Z&"
              "sig=AAAA",
              "") +
          get("GET",
              "/devstoreaccount1/data/a.bin?sv=2021-12-02&ss=b&srt=o&sp=r&se=2099-01-01&sig=x",
              "") +
          get("GET", "/devstoreaccount1/data/a.bin", "Authorization: Bearer token\r\n")));
  seeds.push_back(seed("writes",
                       "PUT /devstoreaccount1/data/new HTTP/1.1\r\nHost: k\r\n"
                       "Content-Length: 5\r\n\r\nhello"));
  seeds.push_back(
      seed("bad", get("GET", "/devstoreaccount1/data/a%zz", "") +
                      get("GET", "/devstoreaccount1/data/a.bin", "Range: bytes=-5\r\n") +
                      "GET / HTTP/1.1\r\nHost: k\r\nContent-Length: 3\r\n\r\nabc"));
  seeds.push_back(seed("garbage", "GET\r\n\r\n\x00\xff HTTP/9.9\r\n\r\n"));
  return seeds;
}

}  // namespace
}  // namespace kvtier::protocol

int main(int argc, char** argv) {
  using namespace kvtier::protocol;
  if (argc != 2) {
    std::cerr << "usage: kvtier-fuzz-seeds DIR\n";
    return 2;
  }
  int written = 0;
  for (auto make : {Requests, BadInputs, Replies, RespStreams, BlobHttpStreams}) {
    for (const Seed& seed : make()) {
      const std::string path = std::string(argv[1]) + "/" + seed.name;
      std::ofstream file(path, std::ios::binary | std::ios::trunc);
      file.write(reinterpret_cast<const char*>(seed.bytes.data()),
                 static_cast<std::streamsize>(seed.bytes.size()));
      if (!file) {
        std::cerr << "kvtier-fuzz-seeds: cannot write " << path << "\n";
        return 1;
      }
      ++written;
    }
  }
  std::cout << written << " seeds in " << argv[1] << "\n";
  return 0;
}
