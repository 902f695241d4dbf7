#include "client/cli_objects.h"

#include <ctime>
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
  std::vector<std::byte> block(writer->block_bytes);
  uint64_t size = 0;
  Status failed = Status::Ok();
  for (uint64_t index = 0; failed.ok(); ++index) {
    in->read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<uint64_t>(in->gcount());
    if (got == 0) break;
    const std::span<const std::byte> value(block.data(), got);
    failed = client.PutObjectBlocks(*writer, index, std::span(&value, 1));
    size += got;
    if (got < block.size()) break;
  }
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
