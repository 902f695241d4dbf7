#include "tiers/rocksdb_support.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace kvtier::tiers {
namespace {

spdlog::level::level_enum SpdlogLevel(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return spdlog::level::warn;
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
      return spdlog::level::err;
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
      return spdlog::level::critical;
    default:  // debug, info and the header RocksDB writes at open
      return spdlog::level::debug;
  }
}

}  // namespace

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace()) return ResourceExhausted(what + ": disk full: " + s.ToString());
  if (s.IsCorruption()) return Corruption(what + ": " + s.ToString());
  return IoError(what + ": " + s.ToString());
}

ReopeningDb::ReopeningDb(std::string path, rocksdb::Options options, const std::string& name)
    : path_(std::move(path)), name_(name), options_(std::move(options)) {
  // No LOG file beside the data: on a full disk it would abort us
  // (rocksdb_support.h).
  options_.info_log = std::make_shared<RocksDbLogger>(name);
  options_.info_log_level = options_.info_log->GetInfoLogLevel();
}

Status ReopeningDb::Open() {
  db_.reset();  // a DB closes before the same directory opens again
  // RocksDB logs a missing directory as an error before it creates it.
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec) return IoError("cannot create " + path_ + ": " + ec.message());
  rocksdb::DB* db = nullptr;
  KVTIER_RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(options_, path_, &db), "opening the " + name_ + " at " + path_));
  db_.reset(db);
  failed_ = false;
  return Status::Ok();
}

Status ReopeningDb::Write(rocksdb::WriteBatch& batch, bool sync, const std::string& what) {
  if (!db_ || failed_) {
    KVTIER_RETURN_IF_ERROR(Open());
    reopens_.fetch_add(1, std::memory_order_relaxed);
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  const Status written = FromRocks(db_->Write(write_options, &batch), what);
  failed_ = !written.ok();
  return written;
}

RocksDbLogger::RocksDbLogger(std::string name)
    : rocksdb::Logger(spdlog::should_log(spdlog::level::debug) ? rocksdb::InfoLogLevel::DEBUG_LEVEL
                                                               : rocksdb::InfoLogLevel::WARN_LEVEL),
      name_(std::move(name)) {}

void RocksDbLogger::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  const spdlog::level::level_enum to = SpdlogLevel(level);
  if (!spdlog::should_log(to)) return;
  std::array<char, 1024> line;  // longer messages are cut: a log line, not a record
  const int length = std::vsnprintf(line.data(), line.size(), format, ap);
  if (length < 0) return;
  std::string_view text(line.data(),
                        std::min<size_t>(static_cast<size_t>(length), line.size() - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::log(to, "{} (RocksDB): {}", name_, text);
}

}  // namespace kvtier::tiers
