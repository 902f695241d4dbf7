// kvtier: command-line client.
//
//   kvtier [--server HOST:PORT | --servers H:P,H:P...] [--hex] [--timeout MS] COMMAND ...
//     put NS KEY [FILE|-]     store FILE (or stdin) under KEY
//     get NS KEY [FILE|-]     write the value to FILE (or stdout)
//     exists NS KEY...        print each key's tier, or "absent"
//     del NS KEY...           delete keys; print each outcome
//     match NS KEY...         how many leading keys are cached, and where
//     stats [--json]          server, tier and namespace counters
//     ls NS [PREFIX]          objects of a dataset namespace, one level
//     stat NS PATH            an object's size, version and blocks
//     cat NS PATH [OFFSET [LENGTH]]  an object's bytes to stdout
//     keys SCHEME ... TOKEN...  print block keys (kvtier, vllm, sglang); no server
//     token new | token hash  a new access token and its SHA-256, or the
//                             SHA-256 of a token read from stdin; no server
//
// On servers that require an access token, the token is read from the file
// named by --token-file or from the environment variable KVTIER_TOKEN.
// --tls (or any --tls-* option) speaks TLS to a server's TLS listener:
// --tls-ca FILE to trust (default: the system's CA store), --tls-server-name
// NAME to expect (default: the host), --tls-cert and --tls-key to present.
//
// --servers names several servers (the servers of a rack): put, get,
// exists, del and match then go to each key's rendezvous owner
// (client/cluster_client.h), as ClusterClient does; other commands need one
// --server.
//
// Keys are taken as text; with --hex each KEY is hex-encoded bytes.
// Exit status: 0 on success, 1 when the operation failed (or a get missed),
// 2 on a usage error. Errors are one line on stderr.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli_keys.h"
#include "client/cli_objects.h"
#include "client/cli_stats.h"
#include "client/client.h"
#include "client/cluster_client.h"
#include "common/keys.h"
#include "common/token.h"

namespace kvtier::client {
namespace {

constexpr std::string_view kUsage =
    "usage: kvtier [--server HOST:PORT | --servers H:P,H:P...] [--hex] [--timeout MS]\n"
    "              [--token-file FILE] COMMAND ...\n"
    "  put NS KEY [FILE|-]   get NS KEY [FILE|-]   exists NS KEY...\n"
    "  del NS KEY...         match NS KEY...       stats [--json]\n"
    "  ls NS [PREFIX]        stat NS PATH          cat NS PATH [OFFSET [LENGTH]]\n"
    "  write NS PATH [FILE|-]   mv NS FROM TO   rm NS PATH   (checkpoint namespaces)\n"
    "  flush NS [KEY...]     (write-back to Blob: waits until the keys, or all, are uploaded)\n"
    "  keys SCHEME [OPTIONS] TOKEN...   (block keys of kvtier, vllm or sglang; no server)\n"
    "  token new | token hash   (an access token and its SHA-256 for auth.tokens; no server)\n"
    "The access token comes from --token-file or the environment variable KVTIER_TOKEN.\n"
    "TLS (a server's TLS listener): --tls, or any of --tls-ca FILE, --tls-server-name NAME,\n"
    "--tls-cert FILE --tls-key FILE.\n";

struct Options {
  ClientOptions client;
  std::vector<std::string> servers;  // --servers: keys go to their rendezvous owners
  bool hex = false;
  std::vector<std::string> args;  // command and its operands
};

int Fail(std::string_view what) {
  std::cerr << "kvtier: " << what << "\n";
  return 1;
}

int Usage(std::string_view what) {
  std::cerr << "kvtier: " << what << "\n" << kUsage;
  return 2;
}

Result<Options> ParseArgs(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!options.args.empty()) {
      options.args.emplace_back(arg);
    } else if (arg == "--server" && i + 1 < argc) {
      const std::string_view value = argv[++i];
      const size_t colon = value.rfind(':');
      if (colon == std::string_view::npos) return InvalidArgument("--server needs HOST:PORT");
      options.client.host = std::string(value.substr(0, colon));
      try {
        const int port = std::stoi(std::string(value.substr(colon + 1)));
        if (port <= 0 || port > 65535) throw std::out_of_range("port");
        options.client.port = static_cast<uint16_t>(port);
      } catch (const std::exception&) {
        return InvalidArgument("bad port in --server " + std::string(value));
      }
    } else if (arg == "--servers" && i + 1 < argc) {
      const std::string_view list = argv[++i];
      for (size_t begin = 0; begin <= list.size();) {
        const size_t comma = std::min(list.find(',', begin), list.size());
        const std::string_view server = list.substr(begin, comma - begin);
        if (server.find(':') == std::string_view::npos) {
          return InvalidArgument("--servers needs HOST:PORT,HOST:PORT...");
        }
        options.servers.emplace_back(server);
        begin = comma + 1;
      }
    } else if (arg == "--timeout" && i + 1 < argc) {
      try {
        options.client.request_timeout = std::chrono::milliseconds(std::stoul(argv[++i]));
      } catch (const std::exception&) {
        return InvalidArgument("--timeout needs milliseconds");
      }
    } else if (arg == "--token-file" && i + 1 < argc) {
      std::ifstream in(argv[++i]);
      if (!in || !std::getline(in, options.client.token)) {
        return InvalidArgument("cannot read a token from " + std::string(argv[i]));
      }
    } else if (arg == "--tls") {
      options.client.tls.enabled = true;
    } else if ((arg == "--tls-ca" || arg == "--tls-cert" || arg == "--tls-key" ||
                arg == "--tls-server-name") &&
               i + 1 < argc) {
      TlsOptions& tls = options.client.tls;
      tls.enabled = true;
      std::string& field = arg == "--tls-ca"     ? tls.ca_file
                           : arg == "--tls-cert" ? tls.cert_file
                           : arg == "--tls-key"  ? tls.key_file
                                                 : tls.server_name;
      field = argv[++i];
    } else if (arg == "--hex") {
      options.hex = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg.starts_with("--")) {
      return InvalidArgument("unknown option " + std::string(arg));
    } else {
      options.args.emplace_back(arg);
    }
  }
  if (options.args.empty()) return InvalidArgument("no command");
  if (const char* token = std::getenv("KVTIER_TOKEN");
      token != nullptr && options.client.token.empty()) {
    options.client.token = token;
  }
  return options;
}

Result<std::vector<std::string>> Keys(const Options& options, size_t first, size_t last) {
  std::vector<std::string> keys;
  for (size_t i = first; i < last; ++i) {
    if (options.hex) {
      KVTIER_ASSIGN_OR_RETURN(std::string key, FromHex(options.args[i]));
      keys.push_back(std::move(key));
    } else {
      keys.push_back(options.args[i]);
    }
  }
  return keys;
}

Result<std::vector<char>> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::vector<char>(std::istreambuf_iterator<char>(std::cin),
                             std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open '" + path + "'");
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <typename AnyClient>  // Client or ClusterClient
int Put(AnyClient& client, const Options& o) {
  if (o.args.size() < 3 || o.args.size() > 4) return Usage("put NS KEY [FILE|-]");
  auto keys = Keys(o, 2, 3);
  if (!keys.ok()) return Usage(keys.status().message());
  auto data = ReadInput(o.args.size() == 4 ? o.args[3] : "-");
  if (!data.ok()) return Fail(data.status().message());
  const std::span<const std::byte> value(reinterpret_cast<const std::byte*>(data->data()),
                                         data->size());
  auto result = client.Put(o.args[1], *keys, std::span(&value, 1));
  if (!result.ok()) return Fail("put: " + result.status().ToString());
  if (!result->statuses[0].ok()) return Fail("put: " + result->statuses[0].ToString());
  return 0;
}

template <typename AnyClient>  // Client or ClusterClient
int Get(AnyClient& client, const Options& o) {
  if (o.args.size() < 3 || o.args.size() > 4) return Usage("get NS KEY [FILE|-]");
  auto keys = Keys(o, 2, 3);
  if (!keys.ok()) return Usage(keys.status().message());
  auto result = client.Get(o.args[1], *keys);
  if (!result.ok()) return Fail("get: " + result.status().ToString());
  const GetValue& value = result->values[0];
  if (!value.status.ok()) return Fail("get: " + value.status.ToString());
  const std::string path = o.args.size() == 4 ? o.args[3] : "-";
  if (path == "-") {
    std::fwrite(value.bytes.data(), 1, value.bytes.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : Fail("get: cannot write stdout");
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(value.bytes.data()),
            static_cast<std::streamsize>(value.bytes.size()));
  return out ? 0 : Fail("get: cannot write '" + path + "'");
}

template <typename AnyClient>  // Client or ClusterClient
int Exists(AnyClient& client, const Options& o) {
  if (o.args.size() < 3) return Usage("exists NS KEY...");
  auto keys = Keys(o, 2, o.args.size());
  if (!keys.ok()) return Usage(keys.status().message());
  auto result = client.Exists(o.args[1], *keys);
  if (!result.ok()) return Fail("exists: " + result.status().ToString());
  for (size_t i = 0; i < keys->size(); ++i) {
    const TierId tier = result->tiers[i];
    std::cout << o.args[2 + i] << "\t"
              << (tier == TierId::kNone ? "absent" : protocol::TierName(tier)) << "\n";
  }
  return 0;
}

template <typename AnyClient>  // Client or ClusterClient
int Delete(AnyClient& client, const Options& o) {
  if (o.args.size() < 3) return Usage("del NS KEY...");
  auto keys = Keys(o, 2, o.args.size());
  if (!keys.ok()) return Usage(keys.status().message());
  auto result = client.Delete(o.args[1], *keys);
  if (!result.ok()) return Fail("del: " + result.status().ToString());
  for (size_t i = 0; i < keys->size(); ++i) {
    std::cout << o.args[2 + i] << "\t"
              << (result->statuses[i].ok() ? "deleted" : StatusCodeName(result->statuses[i].code()))
              << "\n";
  }
  return 0;
}

template <typename AnyClient>  // Client or ClusterClient
int Match(AnyClient& client, const Options& o) {
  if (o.args.size() < 3) return Usage("match NS KEY...");
  auto keys = Keys(o, 2, o.args.size());
  if (!keys.ok()) return Usage(keys.status().message());
  auto result = client.MatchPrefix(o.args[1], *keys);
  if (!result.ok()) return Fail("match: " + result.status().ToString());
  std::cout << "matched " << result->matched << " of " << keys->size() << "\n";
  for (uint32_t i = 0; i < result->matched; ++i) {
    std::cout << o.args[2 + i] << "\t" << protocol::TierName(result->tiers[i]) << "\n";
  }
  return 0;
}

int Ls(Client& client, const Options& o) {
  return ListCommand(client, std::span(o.args).subspan(1));
}
int StatObject(Client& client, const Options& o) {
  return StatCommand(client, std::span(o.args).subspan(1));
}
int Cat(Client& client, const Options& o) {
  return CatCommand(client, std::span(o.args).subspan(1));
}
int Write(Client& client, const Options& o) {
  return WriteCommand(client, std::span(o.args).subspan(1));
}
int Move(Client& client, const Options& o) {
  return MoveCommand(client, std::span(o.args).subspan(1));
}
int Remove(Client& client, const Options& o) {
  return RemoveCommand(client, std::span(o.args).subspan(1));
}

int Flush(Client& client, const Options& o) {
  if (o.args.size() < 2) return Usage("flush NS [KEY...]");
  auto keys = Keys(o, 2, o.args.size());
  if (!keys.ok()) return Usage(keys.status().message());
  const Status status = client.Flush(o.args[1], *keys);
  if (!status.ok()) return Fail("flush: " + status.ToString());
  std::cout << "flushed "
            << (keys->empty() ? "all pending uploads" : std::to_string(keys->size()) + " keys")
            << "\n";
  return 0;
}

void PrintCountersJson(const std::vector<protocol::NamedCounter>& counters) {
  std::cout << "{";
  for (size_t i = 0; i < counters.size(); ++i) {
    std::cout << (i ? ", " : "") << "\"" << counters[i].name << "\": " << counters[i].value;
  }
  std::cout << "}";
}

int Stats(Client& client, const Options& o) {
  const bool json = o.args.size() == 2 && o.args[1] == "--json";
  if (o.args.size() > 1 && !json) return Usage("stats [--json]");
  auto stats = client.Stats();
  if (!stats.ok()) return Fail("stats: " + stats.status().ToString());
  if (json) {
    std::cout << "{\"server_name\": \"" << stats->server_name << "\", \"server_id\": \""
              << stats->server_id << "\", \"uptime_seconds\": " << stats->uptime_seconds
              << ", \"counters\": ";
    PrintCountersJson(stats->counters);
    std::cout << ", \"tiers\": [";
    for (size_t i = 0; i < stats->tiers.size(); ++i) {
      const auto& t = stats->tiers[i];
      std::cout << (i ? ", " : "") << "{\"name\": \"" << t.name
                << "\", \"capacity_bytes\": " << t.capacity_bytes
                << ", \"used_bytes\": " << t.used_bytes << ", \"items\": " << t.items
                << ", \"counters\": ";
      PrintCountersJson(t.counters);
      std::cout << "}";
    }
    std::cout << "], \"namespaces\": [";
    for (size_t i = 0; i < stats->namespaces.size(); ++i) {
      const auto& n = stats->namespaces[i];
      std::cout << (i ? ", " : "") << "{\"name\": \"" << n.name << "\", \"kind\": \"" << n.kind
                << "\", \"counters\": ";
      PrintCountersJson(n.counters);
      std::cout << "}";
    }
    std::cout << "]}\n";
    return 0;
  }
  PrintStatsTables(*stats, std::cout);
  return 0;
}

// `token new`: a token and the line for auth.tokens; `token hash`: the
// SHA-256 of the token on stdin (one line).
int TokenCommand(const Options& o) {
  if (o.args.size() == 2 && o.args[1] == "new") {
    auto token = NewToken();
    if (!token.ok()) return Fail(token.status().ToString());
    std::cout << "token:  " << *token << "\nsha256: " << TokenHash(*token) << "\n";
    return 0;
  }
  if (o.args.size() == 2 && o.args[1] == "hash") {
    std::string token;
    if (!std::getline(std::cin, token) || token.empty())
      return Usage("token hash reads a token from stdin");
    std::cout << TokenHash(token) << "\n";
    return 0;
  }
  return Usage("token new | token hash");
}

int Run(int argc, char** argv) {
  auto options = ParseArgs(argc, argv);
  if (!options.ok()) return Usage(options.status().message());
  const std::string& command = options->args[0];
  if (command == "keys") return KeysCommand(std::span(options->args).subspan(1));
  if (command == "token") return TokenCommand(*options);
  if (!options->servers.empty()) {
    using ClusterHandler = int (*)(ClusterClient&, const Options&);
    static const std::pair<std::string_view, ClusterHandler> kKeyCommands[] = {
        {"put", Put<ClusterClient>},       {"get", Get<ClusterClient>},
        {"exists", Exists<ClusterClient>}, {"del", Delete<ClusterClient>},
        {"match", Match<ClusterClient>},
    };
    for (const auto& [name, handler] : kKeyCommands) {
      if (command != name) continue;
      ClusterOptions cluster;
      cluster.servers = options->servers;
      cluster.client = options->client;
      auto client = ClusterClient::Connect(cluster);
      if (!client.ok()) return Fail(client.status().ToString());
      return handler(**client, *options);
    }
    return Usage("'" + command + "' talks to one server: use --server, not --servers");
  }
  using Handler = int (*)(Client&, const Options&);
  static const std::pair<std::string_view, Handler> kCommands[] = {
      {"put", Put<Client>},
      {"get", Get<Client>},
      {"exists", Exists<Client>},
      {"del", Delete<Client>},
      {"match", Match<Client>},
      {"stats", Stats},
      {"flush", Flush},
      {"ls", Ls},
      {"stat", StatObject},
      {"cat", Cat},
      {"write", Write},
      {"mv", Move},
      {"rm", Remove},
  };
  for (const auto& [name, handler] : kCommands) {
    if (command != name) continue;
    auto client = Client::Connect(options->client);
    if (!client.ok()) return Fail(client.status().ToString());
    return handler(**client, *options);
  }
  return Usage("unknown command '" + command + "'");
}

}  // namespace
}  // namespace kvtier::client

int main(int argc, char** argv) { return kvtier::client::Run(argc, argv); }
