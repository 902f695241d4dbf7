// kvtier-crash-check: the load and the verdict of scripts/crash-test.sh.
//
//   kvtier-crash-check load  --port P --journal FILE --seed N [--keys K] [--seconds S]
//   kvtier-crash-check check --port P --journal FILE
//
// `load` runs puts, gets and deletes on two namespaces until the server dies
// (or S seconds pass): `durable` (write_through: acknowledged once on NVMe)
// and `cache` (write_back: acknowledged in DRAM, may be lost by a crash).
// The value of version v of key k is a pure function of (namespace, k, v),
// 16 KiB to 2 MiB long, so a read can be checked without storing it. The
// journal gets a line before each request ("intent") and after each
// acknowledgement, flushed each time; only the server is killed, so the
// journal is complete.
//
// `check` reads every key the journal names and counts:
//   wrong_bytes     a value that is no version ever written for that key
//                   (or that is neither present nor absent cleanly);
//   lost_durable    a durable key whose last acknowledged put (with nothing
//                   attempted after it) does not read back as that version;
// and, as information only, cache keys lost and deleted keys that came back.
// It exits 1 when wrong_bytes or lost_durable is nonzero.

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/checksum.h"

namespace kvtier::crash {
namespace {

constexpr const char* kNamespaces[] = {"durable", "cache"};

// The bytes of version `version` of key `key` in `ns`: its length and its
// content both follow from the three.
std::vector<std::byte> ValueOf(const std::string& ns, const std::string& key, uint64_t version) {
  const std::string name = ns + "/" + key;
  std::mt19937_64 random(BlockChecksum(std::as_bytes(std::span(name.data(), name.size()))) ^
                         (version * 0x9e3779b97f4a7c15));
  const size_t length = (16u << 10) + random() % ((2u << 20) - (16u << 10));
  std::vector<std::byte> out(length);
  for (size_t i = 0; i + 8 <= length; i += 8) {
    const uint64_t word = random();
    std::memcpy(&out[i], &word, 8);
  }
  std::memcpy(out.data(), &version, sizeof(version));  // readable in a dump
  return out;
}

struct Options {
  std::string mode;
  uint16_t port = 0;
  std::string journal;
  uint64_t seed = 1;
  uint32_t keys = 64;
  double seconds = 30;
};

int Load(const Options& o) {
  client::ClientOptions options;
  options.port = o.port;
  options.request_timeout = std::chrono::milliseconds(5000);
  auto connected = client::Client::Connect(options);
  if (!connected.ok()) {
    std::cerr << "load: " << connected.status().ToString() << "\n";
    return 1;
  }
  client::Client& client = **connected;
  std::ofstream journal(o.journal, std::ios::app);
  std::mt19937_64 random(o.seed);
  // Versions continue across cycles: the journal so far says where.
  std::map<std::string, uint64_t> next_version;
  {
    std::ifstream in(o.journal);
    std::string kind, ns, key;
    uint64_t version = 0;
    while (in >> kind >> ns >> key >> version) {
      uint64_t& next = next_version[ns + "/" + key];
      next = std::max(next, version + 1);
    }
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.seconds);
  uint64_t acked = 0;
  while (std::chrono::steady_clock::now() < until) {
    const std::string ns = kNamespaces[random() % 2];
    const std::vector<std::string> keys = {"k" + std::to_string(random() % o.keys)};
    const int op = static_cast<int>(random() % 100);
    if (op < 60) {
      const uint64_t version = next_version[ns + "/" + keys[0]]++;
      const auto value = ValueOf(ns, keys[0], version);
      journal << "intent-put " << ns << " " << keys[0] << " " << version << std::endl;
      const std::vector<std::span<const std::byte>> values = {value};
      auto put = client.Put(ns, keys, values);
      if (!put.ok()) break;  // the server is gone
      if (put->statuses[0].ok()) {
        journal << "acked-put " << ns << " " << keys[0] << " " << version << std::endl;
        ++acked;
      }
    } else if (op < 70) {
      const uint64_t version = next_version[ns + "/" + keys[0]]++;  // deletes take a slot too
      journal << "intent-del " << ns << " " << keys[0] << " " << version << std::endl;
      auto deleted = client.Delete(ns, keys);
      if (!deleted.ok()) break;
      journal << "acked-del " << ns << " " << keys[0] << " " << version << std::endl;
      ++acked;
    } else {
      auto got = client.Get(ns, keys);
      if (!got.ok()) break;
    }
  }
  std::cout << "load: " << acked << " acknowledged writes\n";
  return 0;
}

struct KeyHistory {
  std::set<uint64_t> put_versions;  // every put attempted
  // The last acknowledged operation, and whether anything was attempted
  // after it (then the outcome of that attempt is unknown).
  std::string last_acked;  // "put", "del" or ""
  uint64_t last_acked_version = 0;
  uint64_t last_intent_version = 0;
  bool any_intent = false;
};

int Check(const Options& o) {
  std::map<std::pair<std::string, std::string>, KeyHistory> history;
  {
    std::ifstream in(o.journal);
    std::string kind, ns, key;
    uint64_t version = 0;
    while (in >> kind >> ns >> key >> version) {
      KeyHistory& h = history[{ns, key}];
      if (kind == "intent-put" || kind == "intent-del") {
        if (kind == "intent-put") h.put_versions.insert(version);
        h.last_intent_version = version;
        h.any_intent = true;
      } else {
        h.last_acked = kind == "acked-put" ? "put" : "del";
        h.last_acked_version = version;
      }
    }
  }
  client::ClientOptions options;
  options.port = o.port;
  auto connected = client::Client::Connect(options);
  if (!connected.ok()) {
    std::cerr << "check: " << connected.status().ToString() << "\n";
    return 1;
  }
  uint64_t wrong_bytes = 0, lost_durable = 0, lost_cache = 0, resurrected = 0, checked = 0;
  for (const auto& [where, h] : history) {
    const auto& [ns, key] = where;
    const std::vector<std::string> keys = {key};
    auto got = (*connected)->Get(ns, keys);
    if (!got.ok()) {
      std::cerr << "check: get " << ns << "/" << key << ": " << got.status().ToString() << "\n";
      return 1;
    }
    ++checked;
    const client::GetValue& value = got->values[0];
    const bool settled =
        h.any_intent && h.last_intent_version == h.last_acked_version && !h.last_acked.empty();
    std::optional<uint64_t> read_version;
    if (value.status.ok()) {
      if (value.bytes.size() >= 8) {
        uint64_t version = 0;
        std::memcpy(&version, value.bytes.data(), 8);
        const auto expected = ValueOf(ns, key, version);
        if (h.put_versions.count(version) > 0 &&
            std::equal(value.bytes.begin(), value.bytes.end(), expected.begin(), expected.end())) {
          read_version = version;
        }
      }
      if (!read_version) {
        ++wrong_bytes;
        std::cerr << "WRONG BYTES: " << ns << "/" << key << " (" << value.bytes.size()
                  << " bytes)\n";
        continue;
      }
    } else if (value.status.code() != StatusCode::kNotFound) {
      ++wrong_bytes;  // a read that is neither a value nor a clean miss
      std::cerr << "BAD READ: " << ns << "/" << key << ": " << value.status.ToString() << "\n";
      continue;
    }
    if (!settled) continue;  // the last attempt's outcome is unknown: any version is fine
    if (h.last_acked == "put" && read_version != h.last_acked_version) {
      if (ns == "durable") {
        ++lost_durable;
        std::cerr << "LOST DURABLE WRITE: " << ns << "/" << key << " version "
                  << h.last_acked_version << " reads as "
                  << (read_version ? std::to_string(*read_version) : "absent") << "\n";
      } else {
        ++lost_cache;
      }
    }
    if (h.last_acked == "del" && read_version) ++resurrected;
  }
  std::cout << "check: keys " << checked << " wrong_bytes " << wrong_bytes << " lost_durable "
            << lost_durable << " lost_cache " << lost_cache << " resurrected_after_delete "
            << resurrected << "\n";
  return wrong_bytes == 0 && lost_durable == 0 ? 0 : 1;
}

int Run(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::cerr << "usage: kvtier-crash-check load|check --port P --journal FILE [--seed N] "
                 "[--keys K] [--seconds S]\n";
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port") o.port = static_cast<uint16_t>(std::stoul(value));
    if (flag == "--journal") o.journal = value;
    if (flag == "--seed") o.seed = std::stoull(value);
    if (flag == "--keys") o.keys = static_cast<uint32_t>(std::stoul(value));
    if (flag == "--seconds") o.seconds = std::stod(value);
  }
  if (o.port == 0 || o.journal.empty()) {
    std::cerr << "kvtier-crash-check: --port and --journal are required\n";
    return 2;
  }
  if (o.mode == "load") return Load(o);
  if (o.mode == "check") return Check(o);
  std::cerr << "kvtier-crash-check: unknown mode " << o.mode << "\n";
  return 2;
}

}  // namespace
}  // namespace kvtier::crash

int main(int argc, char** argv) { return kvtier::crash::Run(argc, argv); }
