// kvtier-dataset-readers: N clients read the same dataset block at once and
// the server's origin counters say how many origin reads that cost (one,
// with single-flight).
//
//   kvtier-dataset-readers --server HOST:PORT --namespace NS --object NAME
//                          [--block I] [--readers N] [--expect FILE]
//
// Each reader has its own connection; all start together. With --expect,
// every reader's bytes are compared with bytes [I * L, (I + 1) * L) of FILE,
// L being the length that came back (so I must name a full block). Prints:
//   readers N ok K origin_reads R single_flight_joins J
// and exits non-zero unless every reader got the block (and it matched).

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "common/keys.h"

namespace kvtier::bench {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: kvtier-dataset-readers --server HOST:PORT --namespace NS --object NAME "
               "[--block I] [--readers N] [--expect FILE]\n");
  return 2;
}

int Run(int argc, char** argv) {
  std::string server, ns, object, expect;
  uint64_t block = 0;
  int readers = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server") {
      server = value;
    } else if (flag == "--namespace") {
      ns = value;
    } else if (flag == "--object") {
      object = value;
    } else if (flag == "--block") {
      block = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--readers") {
      readers = std::atoi(value.c_str());
    } else if (flag == "--expect") {
      expect = value;
    } else {
      return Usage();
    }
  }
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || ns.empty() || object.empty() || readers <= 0) return Usage();
  client::ClientOptions options;
  options.host = server.substr(0, colon);
  options.port = static_cast<uint16_t>(std::atoi(server.c_str() + colon + 1));
  auto key = ObjectBlockKey(object, block, 256);
  if (!key.ok()) return Usage();
  const std::vector<std::string> keys = {*key};

  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < readers; ++i) {
    auto connected = client::Client::Connect(options);
    if (!connected.ok()) {
      std::fprintf(stderr, "%s\n", connected.status().ToString().c_str());
      return 1;
    }
    clients.push_back(std::move(*connected));
  }
  std::vector<std::byte> expected;
  if (!expect.empty()) {
    std::ifstream in(expect, std::ios::binary);
    std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    expected.assign(reinterpret_cast<const std::byte*>(file.data()),
                    reinterpret_cast<const std::byte*>(file.data()) + file.size());
  }
  std::vector<int> ok(readers, 0);
  std::barrier start(readers);
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto got = clients[i]->Get(ns, keys);
      if (!got.ok() || !got->values[0].status.ok()) return;
      const auto bytes = got->values[0].bytes;
      if (!expected.empty()) {
        // Block I sits at I * (block length) in the file: pick a full block.
        const uint64_t offset = block * bytes.size();
        if (offset + bytes.size() > expected.size() ||
            std::memcmp(bytes.data(), expected.data() + offset, bytes.size()) != 0) {
          return;
        }
      }
      ok[i] = 1;
    });
  }
  for (auto& t : threads) t.join();
  int good = 0;
  for (int v : ok) good += v;
  auto stats = clients[0]->Stats();
  if (!stats.ok()) {
    std::fprintf(stderr, "%s\n", stats.status().ToString().c_str());
    return 1;
  }
  const std::string origin = "origin/" + ns;
  std::printf(
      "readers %d ok %d origin_reads %llu single_flight_joins %llu\n", readers, good,
      static_cast<unsigned long long>(client::FindTierCounter(*stats, origin, "reads").value_or(0)),
      static_cast<unsigned long long>(
          client::FindTierCounter(*stats, origin, "single_flight_joins").value_or(0)));
  return good == readers ? 0 : 1;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
