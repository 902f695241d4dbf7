#pragma once

// What the listeners need of every connection they serve, whatever its
// protocol (server/connection.h: kvtier's frames; server/resp/: RESP).

namespace kvtier::server {

class Session {
 public:
  virtual ~Session() = default;
  // Thread-safe. Stops reading at the next request boundary, sends the
  // replies owed, then closes.
  virtual void Drain() = 0;
};

}  // namespace kvtier::server
