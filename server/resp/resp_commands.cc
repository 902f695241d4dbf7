// The RESP commands (docs/resp.md): each checks its arguments, turns them
// into kvtier requests and appends its reply.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "common/checksum.h"
#include "server/rendezvous.h"
#include "server/resp/glob.h"
#include "server/resp/resp_connection.h"

namespace kvtier::server::resp {
namespace {

using protocol::Opcode;

// What Redis version clients are told (HELLO, INFO): the command set and
// replies follow Redis 7.
constexpr std::string_view kRedisVersion = "7.0.0";
// SCAN pages hold at least this many keys, whatever COUNT says: each page
// walks the namespace's whole index (tiers/key_scan.h), so few large pages
// cost less than many small ones. COUNT is a hint in Redis too.
constexpr size_t kMinScanPage = 100;
constexpr size_t kMaxScanPage = 100'000;

// Copies `value` to `target` and returns its BlockChecksum, a chunk at a
// time so that the checksum reads each chunk from cache right after the copy.
uint64_t CopyAndChecksum(std::string_view value, std::byte* target) {
  constexpr size_t kChunk = 32 * 1024;
  if (value.size() <= kChunk) {
    std::memcpy(target, value.data(), value.size());
    return BlockChecksum({target, value.size()});
  }
  BlockChecksummer checksum;
  for (size_t offset = 0; offset < value.size(); offset += kChunk) {
    const size_t n = std::min(kChunk, value.size() - offset);
    std::memcpy(target + offset, value.data() + offset, n);
    checksum.Update({target + offset, n});
  }
  return checksum.Digest();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Is(std::string_view arg, std::string_view lower_word) {
  if (arg.size() != lower_word.size()) return false;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(arg[i])) != lower_word[i]) return false;
  }
  return true;
}

template <typename Int>
bool ParseInteger(std::string_view text, Int* value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

// A name safe to quote in an error reply.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 128)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  return out;
}

// One entry of COMMAND's reply: name, arity (negative: at least), flags,
// first key, last key, key step.
struct CommandInfo {
  std::string_view name;
  int arity;
  std::string_view flags;  // space separated
  int first_key;
  int last_key;
  int step;
};

constexpr CommandInfo kCommands[] = {
    {"auth", -2, "noscript loading stale fast", 0, 0, 0},
    {"client", -2, "admin noscript loading stale", 0, 0, 0},
    {"command", -1, "random loading stale", 0, 0, 0},
    {"dbsize", 1, "readonly fast", 0, 0, 0},
    {"del", -2, "write", 1, -1, 1},
    {"echo", 2, "fast", 0, 0, 0},
    {"exists", -2, "readonly fast", 1, -1, 1},
    {"get", 2, "readonly fast", 1, 1, 1},
    {"hello", -1, "noscript loading stale fast", 0, 0, 0},
    {"info", -1, "random loading stale", 0, 0, 0},
    {"mget", -2, "readonly fast", 1, -1, 1},
    {"mset", -3, "write denyoom", 1, -1, 2},
    {"ping", -1, "fast", 0, 0, 0},
    {"quit", -1, "loading stale fast", 0, 0, 0},
    {"scan", -2, "readonly", 0, 0, 0},
    {"select", 2, "loading stale fast", 0, 0, 0},
    {"set", -3, "write denyoom", 1, 1, 1},
    {"unlink", -2, "write fast", 1, -1, 1},
};

const CommandInfo* FindCommand(std::string_view lower_name) {
  for (const CommandInfo& info : kCommands) {
    if (info.name == lower_name) return &info;
  }
  return nullptr;
}

}  // namespace

bool RespConnection::Authorized(std::string_view command) {
  return authenticated_ || command == "auth" || command == "hello" || command == "quit";
}

asio::awaitable<bool> RespConnection::Execute(Args args) {
  stats_.resp_commands.fetch_add(1, std::memory_order_relaxed);
  const std::string name = Lower(args[0]);
  const Args rest = args.subspan(1);
  if (!Authorized(name)) {
    replies_.Error("NOAUTH Authentication required.");
    co_return true;
  }
  const CommandInfo* info = FindCommand(name);
  if (info != nullptr) {
    const size_t count = args.size();
    const bool arity_ok = info->arity >= 0 ? count == static_cast<size_t>(info->arity)
                                           : count >= static_cast<size_t>(-info->arity);
    if (!arity_ok) {
      replies_.Error("ERR wrong number of arguments for '" + name + "' command");
      co_return true;
    }
  }
  if (name == "get") {
    co_await Get(rest);
  } else if (name == "set") {
    co_await Set(rest);
  } else if (name == "mget") {
    co_await MultiGet(rest);
  } else if (name == "mset") {
    co_await MultiSet(rest);
  } else if (name == "exists") {
    co_await Exists(rest);
  } else if (name == "del" || name == "unlink") {
    co_await Delete(rest);
  } else if (name == "scan") {
    co_await Scan(rest);
  } else if (name == "dbsize") {
    co_await DbSize();
  } else if (name == "ping") {
    Ping(rest);
  } else if (name == "echo") {
    replies_.Bulk(rest[0]);
  } else if (name == "hello") {
    Hello(rest);
  } else if (name == "auth") {
    Auth(rest);
  } else if (name == "select") {
    Select(rest);
  } else if (name == "client") {
    Client(rest);
  } else if (name == "command") {
    Command(rest);
  } else if (name == "info") {
    Info(rest);
  } else if (name == "quit") {
    replies_.SimpleString("OK");
    co_return false;
  } else {
    stats_.resp_unknown_commands.fetch_add(1, std::memory_order_relaxed);
    std::string message =
        "ERR unknown command '" + Printable(args[0]) + "', with args beginning with: ";
    for (size_t i = 0; i < rest.size() && i < 4; ++i) message += "'" + Printable(rest[i]) + "' ";
    replies_.Error(message);
  }
  co_return true;
}

void RespConnection::ErrorReply(const Status& status) {
  std::string prefix = "ERR ";
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
      prefix = "NOAUTH ";
      break;
    case StatusCode::kPermissionDenied:
      prefix = "NOPERM ";
      break;
    default:
      // Redis clients retry on TRYAGAIN; kvtier's retryable codes map to it.
      if (status.retryable()) prefix = "TRYAGAIN ";
      break;
  }
  replies_.Error(prefix + std::string(StatusCodeName(status.code())) + ": " + status.message());
}

bool RespConnection::CopyKeys(Args keys, std::vector<std::string>& out) {
  const uint32_t max_key_bytes = service_.limits().max_key_bytes;
  out.clear();
  out.reserve(keys.size());
  for (std::string_view key : keys) {
    if (key.empty() || key.size() > max_key_bytes) {
      replies_.Error("ERR keys must be 1.." + std::to_string(max_key_bytes) + " bytes, got " +
                     std::to_string(key.size()));
      return false;
    }
    out.emplace_back(key);
  }
  return true;
}

void RespConnection::Ping(Args args) {
  if (args.empty()) {
    replies_.SimpleString("PONG");
  } else if (args.size() == 1) {
    replies_.Bulk(args[0]);
  } else {
    replies_.Error("ERR wrong number of arguments for 'ping' command");
  }
}

// ---- Reads ----

asio::awaitable<void> RespConnection::Get(Args args) {
  std::vector<std::string> keys;
  if (!CopyKeys(args, keys)) co_return;
  auto body = co_await Call(Opcode::kGet, protocol::EncodeKeysRequest(namespace_name_, keys));
  if (!body.ok()) {
    ErrorReply(body.status());
    co_return;
  }
  auto response = protocol::DecodeGetResponse(body->metadata.bytes(), 1, body->payload_bytes);
  if (!response.ok()) {
    ErrorReply(response.status());
    co_return;
  }
  const StatusCode code = response->codes[0];
  if (code == StatusCode::kOk && !body->payload.empty()) {
    replies_.Bulk(std::move(body->payload[0]));
  } else if (code == StatusCode::kNotFound || code == StatusCode::kCorruption) {
    replies_.Null();  // a block that failed its checksum is a miss, never served
  } else {
    ErrorReply(Status(code, "reading the key failed"));
  }
}

asio::awaitable<void> RespConnection::MultiGet(Args args) {
  std::vector<std::string> keys;
  if (!CopyKeys(args, keys)) co_return;
  // Requests of at most max_keys_per_request keys; a reply cut at the
  // payload limit (kResourceExhausted past the first value) continues with
  // another request from the first key it left out.
  std::vector<std::optional<PayloadPiece>> values(keys.size());
  const size_t max_keys = service_.limits().max_keys_per_request;
  size_t next = 0;
  while (next < keys.size()) {
    const size_t count = std::min(max_keys, keys.size() - next);
    const std::span<const std::string> batch(keys.data() + next, count);
    auto body = co_await Call(Opcode::kGet, protocol::EncodeKeysRequest(namespace_name_, batch));
    if (!body.ok()) {
      ErrorReply(body.status());
      co_return;
    }
    auto response = protocol::DecodeGetResponse(body->metadata.bytes(), count, body->payload_bytes);
    if (!response.ok()) {
      ErrorReply(response.status());
      co_return;
    }
    size_t piece = 0;
    size_t done = count;
    for (size_t i = 0; i < count; ++i) {
      const StatusCode code = response->codes[i];
      if (code == StatusCode::kOk) {
        values[next + i].emplace(std::move(body->payload[piece++]));
      } else if (code == StatusCode::kResourceExhausted) {
        if (i == 0) {
          ErrorReply(ResourceExhausted("the server is busy; retry"));
          co_return;
        }
        done = i;
        break;
      }
      // Other codes (absent, failed its checksum, a tier away) read as nil.
    }
    next += done;
  }
  replies_.Array(keys.size());
  for (auto& value : values) {
    if (value) {
      replies_.Bulk(std::move(*value));
    } else {
      replies_.Null();
    }
  }
}

asio::awaitable<Result<std::vector<bool>>> RespConnection::Present(
    std::span<const std::string> keys) {
  std::vector<bool> present;
  present.reserve(keys.size());
  const size_t max_keys = service_.limits().max_keys_per_request;
  for (size_t next = 0; next < keys.size(); next += max_keys) {
    const size_t count = std::min(max_keys, keys.size() - next);
    auto body = co_await Call(
        Opcode::kExists, protocol::EncodeKeysRequest(namespace_name_, keys.subspan(next, count)));
    if (!body.ok()) co_return body.status();
    auto response = protocol::DecodeExistsResponse(body->metadata.bytes(), count);
    if (!response.ok()) co_return response.status();
    for (protocol::TierId tier : response->tiers)
      present.push_back(tier != protocol::TierId::kNone);
  }
  co_return present;
}

asio::awaitable<void> RespConnection::Exists(Args args) {
  std::vector<std::string> keys;
  if (!CopyKeys(args, keys)) co_return;
  auto present = co_await Present(keys);
  if (!present.ok()) {
    ErrorReply(present.status());
    co_return;
  }
  replies_.Integer(std::count(present->begin(), present->end(), true));
}

asio::awaitable<void> RespConnection::Scan(Args args) {
  uint64_t cursor = 0;
  if (!ParseInteger(args[0], &cursor)) {
    replies_.Error("ERR invalid cursor");
    co_return;
  }
  std::optional<std::string_view> pattern;
  uint64_t count = 10;
  bool strings = true;
  for (size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) {
      replies_.Error("ERR syntax error");
      co_return;
    }
    if (Is(args[i], "match")) {
      pattern = args[i + 1];
    } else if (Is(args[i], "count")) {
      if (!ParseInteger(args[i + 1], &count) || count == 0) {
        replies_.Error("ERR value is not an integer or out of range");
        co_return;
      }
    } else if (Is(args[i], "type")) {
      strings = Is(args[i + 1], "string");  // every value here is a string
    } else {
      replies_.Error("ERR syntax error");
      co_return;
    }
  }
  const size_t limit = static_cast<size_t>(std::clamp<uint64_t>(count, kMinScanPage, kMaxScanPage));
  Rendezvous<Result<tiers::KeyPage>> page(socket_.get_executor());
  if (Status started = service_.ScanKeys(namespace_name_, access_, cursor, limit, page.Callback());
      !started.ok()) {
    ErrorReply(started);
    co_return;
  }
  auto result = co_await page.Wait();
  if (!result.ok()) {
    ErrorReply(result.status());
    co_return;
  }
  std::vector<std::string_view> keys;
  if (strings) {
    for (const std::string& key : result->keys) {
      if (!pattern || GlobMatch(*pattern, key)) keys.push_back(key);
    }
  }
  replies_.Array(2);
  replies_.Bulk(std::to_string(result->next_cursor));
  replies_.Array(keys.size());
  for (std::string_view key : keys) replies_.Bulk(key);
}

asio::awaitable<void> RespConnection::DbSize() {
  Rendezvous<Result<uint64_t>> counted(socket_.get_executor());
  if (Status started = service_.CountKeys(namespace_name_, access_, counted.Callback());
      !started.ok()) {
    ErrorReply(started);
    co_return;
  }
  auto result = co_await counted.Wait();
  if (!result.ok()) {
    ErrorReply(result.status());
    co_return;
  }
  replies_.Integer(static_cast<int64_t>(*result));
}

// ---- Writes ----

asio::awaitable<Result<std::vector<StatusCode>>> RespConnection::Put(
    std::span<const std::string> keys, std::span<const std::string_view> values, uint32_t ttl_ms) {
  std::vector<uint64_t> lengths;
  uint64_t payload = 0;
  for (std::string_view value : values) {
    lengths.push_back(value.size());
    payload += value.size();
  }
  // No checksums in the request: each value's is computed here, at the
  // edge, while it is copied into its block (a native client's are verified
  // instead).
  const std::vector<uint32_t> ttls(ttl_ms > 0 ? keys.size() : 0, ttl_ms);
  const protocol::Metadata request =
      protocol::EncodePutRequest(namespace_name_, keys, lengths, {}, ttls);
  const auto bytes = request.bytes();
  auto put =
      service_.BeginPut(std::vector<std::byte>(bytes.begin(), bytes.end()), payload, access_);
  if (!put.ok()) co_return put.status();
  put->edge_checksums.assign(values.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    if (!put->blocks[i]) continue;
    put->edge_checksums[i] = CopyAndChecksum(values[i], put->blocks[i].mutable_bytes().data());
  }
  Rendezvous<Result<ReplyBody>> reply(socket_.get_executor());
  auto answer = service_.FinishPut(std::move(*put), reply.Callback());
  if (!answer) answer.emplace(co_await reply.Wait());
  if (!answer->ok()) co_return answer->status();
  auto response = protocol::DecodePutResponse((*answer)->metadata.bytes(), keys.size());
  if (!response.ok()) co_return response.status();
  co_return std::move(response->codes);
}

asio::awaitable<void> RespConnection::Set(Args args) {
  std::vector<std::string> keys;
  if (!CopyKeys(args.subspan(0, 1), keys)) co_return;
  bool if_absent = false;
  bool if_present = false;
  uint64_t ttl_ms = 0;
  for (size_t i = 2; i < args.size(); ++i) {
    if (Is(args[i], "nx")) {
      if_absent = true;
    } else if (Is(args[i], "xx")) {
      if_present = true;
    } else if ((Is(args[i], "ex") || Is(args[i], "px")) && i + 1 < args.size() && ttl_ms == 0) {
      uint64_t amount = 0;
      const uint64_t scale = Is(args[i], "ex") ? 1000 : 1;
      if (!ParseInteger(args[i + 1], &amount) || amount == 0 ||
          amount > std::numeric_limits<uint32_t>::max() / scale) {
        replies_.Error("ERR invalid expire time in 'set' command (1 ms .. 49 days)");
        co_return;
      }
      ttl_ms = amount * scale;
      ++i;
    } else if (Is(args[i], "keepttl") || Is(args[i], "get") || Is(args[i], "exat") ||
               Is(args[i], "pxat")) {
      replies_.Error("ERR SET option '" + Printable(args[i]) + "' is not supported here");
      co_return;
    } else {
      replies_.Error("ERR syntax error");
      co_return;
    }
  }
  if (if_absent && if_present) {
    replies_.Error("ERR syntax error");
    co_return;
  }
  if (if_absent || if_present) {
    // A check, then the put: not atomic against another writer of the key.
    auto present = co_await Present(keys);
    if (!present.ok()) {
      ErrorReply(present.status());
      co_return;
    }
    if ((*present)[0] == if_absent) {
      replies_.Null();
      co_return;
    }
  }
  const std::string_view value = args[1];
  auto codes = co_await Put(keys, {&value, 1}, static_cast<uint32_t>(ttl_ms));
  if (!codes.ok()) {
    ErrorReply(codes.status());
  } else if ((*codes)[0] != StatusCode::kOk) {
    ErrorReply(Status((*codes)[0], "the value was not stored"));
  } else {
    replies_.SimpleString("OK");
  }
}

asio::awaitable<void> RespConnection::MultiSet(Args args) {
  if (args.size() % 2 != 0) {
    replies_.Error("ERR wrong number of arguments for 'mset' command");
    co_return;
  }
  std::vector<std::string> all_keys;
  std::vector<std::string_view> key_args;
  std::vector<std::string_view> values;
  for (size_t i = 0; i < args.size(); i += 2) {
    key_args.push_back(args[i]);
    values.push_back(args[i + 1]);
  }
  if (!CopyKeys(key_args, all_keys)) co_return;
  // Puts of at most max_keys_per_request values and max_payload_bytes.
  const protocol::Limits& limits = service_.limits();
  size_t next = 0;
  while (next < all_keys.size()) {
    size_t end = next;
    uint64_t bytes = 0;
    while (end < all_keys.size() && end - next < limits.max_keys_per_request &&
           (end == next || bytes + values[end].size() <= limits.max_payload_bytes)) {
      bytes += values[end].size();
      ++end;
    }
    auto codes =
        co_await Put(std::span<const std::string>(all_keys).subspan(next, end - next),
                     std::span<const std::string_view>(values).subspan(next, end - next), 0);
    if (!codes.ok()) {
      ErrorReply(codes.status());
      co_return;
    }
    for (size_t i = 0; i < codes->size(); ++i) {
      if ((*codes)[i] != StatusCode::kOk) {
        ErrorReply(Status((*codes)[i], "key " + std::to_string(next + i + 1) +
                                           " was not stored (the keys before it were)"));
        co_return;
      }
    }
    next = end;
  }
  replies_.SimpleString("OK");
}

asio::awaitable<void> RespConnection::Delete(Args args) {
  std::vector<std::string> keys;
  if (!CopyKeys(args, keys)) co_return;
  int64_t deleted = 0;
  const size_t max_keys = service_.limits().max_keys_per_request;
  for (size_t next = 0; next < keys.size(); next += max_keys) {
    const size_t count = std::min(max_keys, keys.size() - next);
    auto body = co_await Call(
        Opcode::kDelete,
        protocol::EncodeKeysRequest(namespace_name_,
                                    std::span<const std::string>(keys).subspan(next, count)));
    if (!body.ok()) {
      ErrorReply(body.status());
      co_return;
    }
    auto response = protocol::DecodeDeleteResponse(body->metadata.bytes(), count);
    if (!response.ok()) {
      ErrorReply(response.status());
      co_return;
    }
    deleted += std::count(response->codes.begin(), response->codes.end(), StatusCode::kOk);
  }
  replies_.Integer(deleted);
}

// ---- Connection and server ----

bool RespConnection::Authenticate(std::string_view token) {
  // Every client may do everything on a server without tokens: any
  // password is accepted there.
  if (!service_.authenticator().required()) return true;
  std::string token_name;
  auto access = service_.authenticator().Authenticate(token, &token_name);
  if (!access.ok()) {
    log_.Warn(BadInput::kUnauthenticated, peer_, "RESP AUTH refused: " + access.status().message());
    stats_.CountBadInput(BadInput::kUnauthenticated);
    replies_.Error("WRONGPASS invalid username-password pair or user is disabled.");
    return false;
  }
  access_ = std::move(*access);
  authenticated_ = true;
  return true;
}

void RespConnection::Auth(Args args) {
  if (args.size() > 2) {
    replies_.Error("ERR syntax error");
    return;
  }
  // AUTH password, or AUTH username password: the token is the password.
  if (Authenticate(args.back())) replies_.SimpleString("OK");
}

void RespConnection::Hello(Args args) {
  int64_t version = replies_.resp3() ? 3 : 2;
  size_t i = 0;
  if (!args.empty()) {
    if (!ParseInteger(args[0], &version) || (version != 2 && version != 3)) {
      replies_.Error("NOPROTO unsupported protocol version");
      return;
    }
    i = 1;
  }
  for (; i < args.size(); ++i) {
    if (Is(args[i], "auth") && i + 2 < args.size()) {
      if (!Authenticate(args[i + 2])) return;
      i += 2;
    } else if (Is(args[i], "setname") && i + 1 < args.size()) {
      client_name_ = std::string(args[++i]);
    } else {
      replies_.Error("ERR syntax error in HELLO option '" + Printable(args[i]) + "'");
      return;
    }
  }
  if (!authenticated_) {
    replies_.Error("NOAUTH HELLO must be called with the client's AUTH when tokens are required");
    return;
  }
  replies_.set_resp3(version == 3);
  replies_.Map(7);
  replies_.Bulk("server");
  replies_.Bulk("redis");
  replies_.Bulk("version");
  replies_.Bulk(kRedisVersion);
  replies_.Bulk("proto");
  replies_.Integer(version);
  replies_.Bulk("id");
  replies_.Integer(static_cast<int64_t>(id_));
  replies_.Bulk("mode");
  replies_.Bulk("standalone");
  replies_.Bulk("role");
  replies_.Bulk("master");
  replies_.Bulk("modules");
  replies_.Array(0);
}

void RespConnection::Select(Args args) {
  int64_t index = 0;
  if (ParseInteger(args[0], &index)) {
    if (index != 0) {
      replies_.Error(
          "ERR DB index is out of range (0 is the listener's namespace; "
          "SELECT another namespace by name)");
      return;
    }
    namespace_name_ = default_namespace_;
    replies_.SimpleString("OK");
    return;
  }
  auto kind = service_.KindOf(args[0]);
  if (!kind.ok()) {
    replies_.Error("ERR no namespace '" + Printable(args[0]) + "'");
    return;
  }
  if (*kind != NamespaceKind::kKv && *kind != NamespaceKind::kKb) {
    replies_.Error("ERR namespace '" + Printable(args[0]) + "' is a " +
                   std::string(NamespaceKindName(*kind)) +
                   " namespace; RESP serves kv and kb namespaces");
    return;
  }
  namespace_name_ = std::string(args[0]);
  replies_.SimpleString("OK");
}

void RespConnection::Client(Args args) {
  if (Is(args[0], "setname") && args.size() == 2) {
    client_name_ = std::string(args[1]);
    replies_.SimpleString("OK");
  } else if (Is(args[0], "getname") && args.size() == 1) {
    if (client_name_.empty()) {
      replies_.Null();
    } else {
      replies_.Bulk(client_name_);
    }
  } else if (Is(args[0], "id") && args.size() == 1) {
    replies_.Integer(static_cast<int64_t>(id_));
  } else if (Is(args[0], "setinfo") && args.size() == 3) {
    replies_.SimpleString("OK");
  } else if ((Is(args[0], "info") && args.size() == 1)) {
    replies_.Bulk("id=" + std::to_string(id_) + " addr=" + peer_ + " name=" + client_name_ +
                  " db=0 ns=" + namespace_name_ + "\n");
  } else {
    replies_.Error("ERR unknown subcommand or wrong number of arguments for 'client|" +
                   Printable(args[0]) + "'");
  }
}

void RespConnection::Command(Args args) {
  auto reply_info = [this](const CommandInfo& info) {
    replies_.Array(6);
    replies_.Bulk(info.name);
    replies_.Integer(info.arity);
    size_t flag_count = 0;
    for (std::string_view flags = info.flags; !flags.empty();) {
      const size_t space = flags.find(' ');
      ++flag_count;
      flags = space == std::string_view::npos ? std::string_view() : flags.substr(space + 1);
    }
    replies_.Array(flag_count);
    for (std::string_view flags = info.flags; !flags.empty();) {
      const size_t space = flags.find(' ');
      replies_.SimpleString(flags.substr(0, space));
      flags = space == std::string_view::npos ? std::string_view() : flags.substr(space + 1);
    }
    replies_.Integer(info.first_key);
    replies_.Integer(info.last_key);
    replies_.Integer(info.step);
  };
  if (args.empty()) {
    replies_.Array(std::size(kCommands));
    for (const CommandInfo& info : kCommands) reply_info(info);
  } else if (Is(args[0], "count")) {
    replies_.Integer(static_cast<int64_t>(std::size(kCommands)));
  } else if (Is(args[0], "info")) {
    replies_.Array(args.size() - 1);
    for (size_t i = 1; i < args.size(); ++i) {
      const CommandInfo* info = FindCommand(Lower(args[i]));
      if (info != nullptr) {
        reply_info(*info);
      } else {
        replies_.NullArray();
      }
    }
  } else if (Is(args[0], "docs")) {
    replies_.Map(0);  // no documentation beyond docs/resp.md
  } else if (Is(args[0], "list")) {
    replies_.Array(std::size(kCommands));
    for (const CommandInfo& info : kCommands) replies_.Bulk(info.name);
  } else {
    replies_.Error("ERR unknown subcommand '" + Printable(args[0]) + "' for 'command'");
  }
}

void RespConnection::Info(Args args) {
  // Sections asked for ("all", "default", "everything" or none: all).
  std::vector<std::string> wanted;
  for (std::string_view arg : args) {
    std::string section = Lower(arg);
    if (section == "all" || section == "default" || section == "everything") {
      wanted.clear();
      break;
    }
    wanted.push_back(std::move(section));
  }
  auto include = [&wanted](std::string_view section) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), section) != wanted.end();
  };
  const protocol::StatsResponse stats = service_.Snapshot();
  std::string text;
  auto line = [&text](std::string_view key, auto value) {
    text += key;
    text += ':';
    if constexpr (std::is_convertible_v<decltype(value), std::string_view>) {
      text += value;
    } else {
      text += std::to_string(value);
    }
    text += "\r\n";
  };
  auto counter = [&stats](std::string_view name) -> uint64_t {
    for (const protocol::NamedCounter& c : stats.counters) {
      if (c.name == name) return c.value;
    }
    return 0;
  };
  if (include("server")) {
    text += "# Server\r\n";
    line("redis_version", kRedisVersion);
    line("redis_mode", "standalone");
    line("kvtier_server_name", stats.server_name);
    line("kvtier_server_id", stats.server_id);
    line("kvtier_namespace", namespace_name_);
    line("tcp_port", config_.resp.port);
    line("uptime_in_seconds", stats.uptime_seconds);
    text += "\r\n";
  }
  if (include("clients")) {
    text += "# Clients\r\n";
    line("connected_clients", counter("connections_active"));
    text += "\r\n";
  }
  if (include("memory")) {
    text += "# Memory\r\n";
    for (const protocol::TierStatsInfo& tier : stats.tiers) {
      if (tier.name != "dram") continue;
      line("used_memory", tier.used_bytes);
      line("maxmemory", tier.capacity_bytes);
      line("maxmemory_policy", "kvtier");
    }
    text += "\r\n";
  }
  if (include("stats")) {
    text += "# Stats\r\n";
    line("total_connections_received", counter("connections_accepted"));
    line("total_commands_processed", counter("resp_commands"));
    line("rejected_connections", counter("connections_refused"));
    for (const protocol::NamedCounter& c : stats.counters) line(c.name, c.value);
    text += "\r\n";
  }
  if (include("tiers")) {
    text += "# Tiers\r\n";
    for (const protocol::TierStatsInfo& tier : stats.tiers) {
      line(tier.name + "_capacity_bytes", tier.capacity_bytes);
      line(tier.name + "_used_bytes", tier.used_bytes);
      line(tier.name + "_items", tier.items);
      for (const protocol::NamedCounter& c : tier.counters) line(tier.name + "_" + c.name, c.value);
    }
    text += "\r\n";
  }
  if (include("namespaces")) {
    text += "# Namespaces\r\n";
    for (const protocol::NamespaceStatsInfo& ns : stats.namespaces) {
      std::string fields = "kind=" + ns.kind;
      for (const protocol::NamedCounter& c : ns.counters) {
        fields += "," + c.name + "=" + std::to_string(c.value);
      }
      line("ns_" + ns.name, fields);
    }
    text += "\r\n";
  }
  replies_.Bulk(text);
}

}  // namespace kvtier::server::resp
