#pragma once

// What the NVMe index and the checkpoint catalog share about RocksDB: its
// statuses as ours, and its log.
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

#include <rocksdb/env.h>
#include <rocksdb/status.h>

#include <cstdarg>
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

}  // namespace kvtier::tiers
