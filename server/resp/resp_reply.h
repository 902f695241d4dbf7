#pragma once

// Building RESP replies (RESP2, or RESP3 after HELLO 3) for one write: the
// replies of every command of a pipelined batch go out in one
// scatter-gather write. Values read from the tiers are not copied: a bulk
// reply may hold a pinned block, whose pin lasts until Clear().

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/asio.h"
#include "server/service.h"

namespace kvtier::server::resp {

class ReplyBuffer {
 public:
  void set_resp3(bool resp3) { resp3_ = resp3; }
  bool resp3() const { return resp3_; }

  void SimpleString(std::string_view text);  // must hold no CR or LF
  // An error reply: `text` starts with its code ("ERR ...", "NOAUTH ...").
  // CR and LF in it become spaces.
  void Error(std::string_view text);
  void Integer(int64_t value);
  void Bulk(std::string_view bytes);  // copied
  void Bulk(PayloadPiece piece);      // pinned, not copied
  void Null();                        // nil bulk (RESP2) or null (RESP3)
  void NullArray();                   // nil array (RESP2) or null (RESP3)
  void Array(size_t count);
  void Map(size_t pairs);  // a RESP3 map, or an array of 2 * pairs in RESP2

  uint64_t bytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  // The buffers to write; valid until the next change.
  const std::vector<asio::const_buffer>& Buffers();
  void Clear();

 private:
  void Text(std::string_view text);
  void Length(char type, uint64_t value);

  // Owned reply bytes, and where pinned values go between them: part i is
  // text_[cuts_[i].begin, cuts_[i].end) then, when piece >= 0, that value.
  struct Part {
    size_t begin = 0;
    size_t end = 0;
    int64_t piece = -1;
  };
  bool resp3_ = false;
  std::string text_;
  std::vector<Part> parts_ = {Part{}};
  std::vector<PayloadPiece> pieces_;
  std::vector<asio::const_buffer> buffers_;
  uint64_t bytes_ = 0;
};

}  // namespace kvtier::server::resp
