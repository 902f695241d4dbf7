#pragma once

// What the NVMe index and the checkpoint catalog share about RocksDB: its
// statuses as ours, its log, and writes that go on after a full disk.
//
// RocksDB's own messages (opens, flushes, compactions and errors of the NVMe
// index and the checkpoint catalog) go to kvtierd's log instead of a LOG
// file beside their data.
//
// Why: RocksDB's file logger writes into the same file system as the data.
// When that file system fills up, a failed write leaves the logger in an
// error state, and the librocksdb that Debian ships is built with
// assertions: the next message it logs aborts the process. kvtierd must
// refuse writes on a full disk and stay up. Logging through spdlog also
// puts the index's messages where the operator already looks.
//
// Levels: RocksDB's warnings, errors and fatal messages at spdlog's warn,
// error and critical; its info and debug messages (one per flush or
// compaction, and the options dump at open) at spdlog's debug.

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace kvtier::tiers {

// `s` as a Status: a full disk as kResourceExhausted (retryable: writes go
// on once space returns), corruption as kCorruption, any other failure as
// kIoError; `what` says what was being done.
Status FromRocks(const rocksdb::Status& s, const std::string& what);

class RocksDbLogger final : public rocksdb::Logger {
 public:
  // Asks RocksDB for messages down to what spdlog's level keeps now. Each
  // line starts with `name` ("NVMe index (RocksDB): ...").
  explicit RocksDbLogger(std::string name);

  using rocksdb::Logger::Logv;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

 private:
  const std::string name_;
};

// A RocksDB at `path` whose writes resume once a full disk has room again.
// After a failed write RocksDB refuses every write until its own recovery,
// which for a full disk waits until more space is free than its write
// buffer (64 MiB by default) and refuses a manual Resume meanwhile. Here
// the write after a failed one first reopens the DB: the reopened DB
// replays its WAL (every write acknowledged before the failure) and writes
// a new one.
//
// Not thread-safe: the owner serializes Open, Write and get() (its own
// lock). reopens() may be read from any thread.
class ReopeningDb {
 public:
  // `options` as the owner wants them; their logger is set here (a
  // RocksDbLogger named `name`).
  ReopeningDb(std::string path, rocksdb::Options options, const std::string& name);

  // Opens the DB, closing the open one first.
  Status Open();
  // Writes `batch` (reopening first when the last write failed); `what`
  // says what the write is for, in errors.
  Status Write(rocksdb::WriteBatch& batch, bool sync, const std::string& what);
  // The open DB, for reads; Open must have succeeded.
  rocksdb::DB& get() { return *db_; }
  uint64_t reopens() const { return reopens_.load(std::memory_order_relaxed); }

 private:
  const std::string path_;
  const std::string name_;
  rocksdb::Options options_;
  std::unique_ptr<rocksdb::DB> db_;  // null before Open and while a reopen fails
  bool failed_ = false;              // the last write failed
  std::atomic<uint64_t> reopens_{0};
};

}  // namespace kvtier::tiers
