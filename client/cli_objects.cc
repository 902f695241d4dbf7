#include "client/cli_objects.h"

#include <ctime>
#include <deque>
#include <fstream>
#include <iostream>
#include <vector>

namespace kvtier::client {
namespace {

int Fail(std::string_view command, const Status& status) {
  std::cerr << "kvtier: " << command << ": " << status.ToString() << "\n";
  return 1;
}

int Usage(std::string_view what) {
  std::cerr << "kvtier: usage: kvtier " << what << "\n";
  return 2;
}

// Unix ms as UTC "2026-12-06T01:44:23Z"; "-" when unknown.
std::string FormatTime(uint64_t unix_ms) {
  if (unix_ms == 0) return "-";
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

bool ParseCount(const std::string& text, uint64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoull(text, &used);
    return used == text.size() && text[0] != '-';
  } catch (...) {
    return false;
  }
}

}  // namespace

int ListCommand(Client& client, std::span<const std::string> args) {
  if (args.empty() || args.size() > 2) return Usage("ls NS [PREFIX]");
  const std::string prefix = args.size() == 2 ? args[1] : "";
  std::string token;
  do {
    auto page = client.List(args[0], prefix, "/", token);
    if (!page.ok()) return Fail("ls", page.status());
    for (const std::string& directory : page->prefixes) std::cout << "PRE " << directory << "\n";
    for (const ObjectEntry& object : page->objects) {
      std::cout << object.size << "\t" << FormatTime(object.modified_ms) << "\t" << object.path
                << "\n";
    }
    token = page->next_page_token;
  } while (!token.empty());
  return 0;
}

int StatCommand(Client& client, std::span<const std::string> args) {
  if (args.size() != 2) return Usage("stat NS PATH");
  auto object = client.Stat(args[0], args[1]);
  if (!object.ok()) return Fail("stat", object.status());
  const uint64_t blocks =
      object->block_bytes == 0 ? 0 : (object->size + object->block_bytes - 1) / object->block_bytes;
  std::cout << "path\t" << object->path << "\nsize\t" << object->size << "\nversion\t"
            << object->version << "\nmodified\t" << FormatTime(object->modified_ms)
            << "\nblock_bytes\t" << object->block_bytes << "\nblocks\t" << blocks << "\n";
  return 0;
}

int CatCommand(Client& client, std::span<const std::string> args) {
  if (args.size() < 2 || args.size() > 4) return Usage("cat NS PATH [OFFSET [LENGTH]]");
  uint64_t offset = 0;
  uint64_t length = UINT64_MAX;
  if (args.size() >= 3 && !ParseCount(args[2], &offset)) return Usage("cat: OFFSET is a count");
  if (args.size() == 4 && !ParseCount(args[3], &length)) return Usage("cat: LENGTH is a count");
  auto object = client.Stat(args[0], args[1]);
  if (!object.ok()) return Fail("cat", object.status());
  const uint64_t end =
      offset >= object->size ? offset : offset + std::min(length, object->size - offset);
  std::vector<std::byte> buffer(std::min<uint64_t>(end - offset, 16ull << 20));
  for (uint64_t at = offset; at < end;) {
    const uint64_t want = std::min<uint64_t>(buffer.size(), end - at);
    auto read = client.ReadRange(args[0], args[1], at, std::span(buffer).first(want));
    if (!read.ok()) return Fail("cat", read.status());
    if (read->object.version != object->version) {
      return Fail("cat", Unavailable("the object changed while it was read"));
    }
    if (read->length == 0) break;  // it shrank
    std::cout.write(reinterpret_cast<const char*>(buffer.data()),
                    static_cast<std::streamsize>(read->length));
    if (!std::cout) return Fail("cat", IoError("cannot write to stdout"));
    at += read->length;
  }
  return 0;
}

int WriteCommand(Client& client, std::span<const std::string> args) {
  if (args.size() < 2 || args.size() > 3) return Usage("write NS PATH [FILE|-]");
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.size() == 3 && args[2] != "-") {
    file.open(args[2], std::ios::binary);
    if (!file) return Fail("write", IoError("cannot open " + args[2]));
    in = &file;
  }
  auto writer = client.CreateObject(args[0], args[1]);
  if (!writer.ok()) return Fail("write", writer.status());
  // A window of blocks in flight while the next is read: each put waits
  // for NVMe on the server, so one at a time would leave the disk idle.
  constexpr size_t kWindow = 4;
  struct InFlight {
    std::vector<std::byte> block;
    std::vector<std::string> keys;
    std::vector<std::span<const std::byte>> values;
    std::future<Result<KeyStatuses>> reply;
  };
  std::deque<InFlight> in_flight;
  Status failed = Status::Ok();
  auto settle = [&] {
    Result<KeyStatuses> reply = in_flight.front().reply.get();
    in_flight.pop_front();
    if (!failed.ok()) return;
    if (!reply.ok()) {
      failed = reply.status();
      return;
    }
    for (const Status& status : reply->statuses) {
      if (!status.ok() && failed.ok()) failed = status;
    }
  };
  uint64_t size = 0;
  for (uint64_t index = 0; failed.ok(); ++index) {
    if (in_flight.size() >= kWindow) settle();
    InFlight put;
    put.block.resize(writer->block_bytes);
    in->read(reinterpret_cast<char*>(put.block.data()),
             static_cast<std::streamsize>(put.block.size()));
    const auto got = static_cast<uint64_t>(in->gcount());
    if (got == 0) break;
    put.block.resize(got);
    auto key = writer->BlockKey(index);
    if (!key.ok()) {
      failed = key.status();
      break;
    }
    put.keys = {std::move(*key)};
    put.values = {std::span<const std::byte>(put.block)};
    put.reply = client.PutAsync(writer->ns, put.keys, put.values);
    in_flight.push_back(std::move(put));
    size += got;
    if (got < writer->block_bytes) break;
  }
  while (!in_flight.empty()) settle();
  if (failed.ok() && in->bad()) failed = IoError("reading the input failed");
  if (failed.ok()) {
    auto committed = client.CommitObject(*writer, size);
    if (committed.ok()) return 0;
    failed = committed.status();
  }
  client.AbortObject(*writer).IgnoreError();
  return Fail("write", failed);
}

int MoveCommand(Client& client, std::span<const std::string> args) {
  if (args.size() != 3) return Usage("mv NS FROM TO");
  if (Status status = client.RenameObject(args[0], args[1], args[2]); !status.ok()) {
    return Fail("mv", status);
  }
  return 0;
}

int RemoveCommand(Client& client, std::span<const std::string> args) {
  if (args.size() != 2) return Usage("rm NS PATH");
  if (Status status = client.DeleteObject(args[0], args[1]); !status.ok()) {
    return Fail("rm", status);
  }
  return 0;
}

}  // namespace kvtier::client
