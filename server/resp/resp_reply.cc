#include "server/resp/resp_reply.h"

#include <charconv>

namespace kvtier::server::resp {

void ReplyBuffer::Text(std::string_view text) {
  text_.append(text);
  parts_.back().end = text_.size();
  bytes_ += text.size();
}

void ReplyBuffer::Length(char type, uint64_t value) {
  char line[24];
  line[0] = type;
  const auto [end, ec] = std::to_chars(line + 1, line + sizeof(line) - 2, value);
  end[0] = '\r';
  end[1] = '\n';
  Text({line, static_cast<size_t>(end + 2 - line)});
}

void ReplyBuffer::SimpleString(std::string_view text) {
  Text("+");
  Text(text);
  Text("\r\n");
}

void ReplyBuffer::Error(std::string_view text) {
  Text("-");
  const size_t from = text_.size();
  Text(text);
  for (size_t i = from; i < text_.size(); ++i) {
    if (text_[i] == '\r' || text_[i] == '\n') text_[i] = ' ';
  }
  Text("\r\n");
}

void ReplyBuffer::Integer(int64_t value) {
  char line[24];
  line[0] = ':';
  const auto [end, ec] = std::to_chars(line + 1, line + sizeof(line) - 2, value);
  end[0] = '\r';
  end[1] = '\n';
  Text({line, static_cast<size_t>(end + 2 - line)});
}

void ReplyBuffer::Bulk(std::string_view bytes) {
  Length('$', bytes.size());
  Text(bytes);
  Text("\r\n");
}

void ReplyBuffer::Bulk(PayloadPiece piece) {
  Length('$', piece.bytes.size());
  bytes_ += piece.bytes.size();
  parts_.back().piece = static_cast<int64_t>(pieces_.size());
  pieces_.push_back(std::move(piece));
  parts_.push_back(Part{text_.size(), text_.size(), -1});
  Text("\r\n");
}

void ReplyBuffer::Null() { Text(resp3_ ? "_\r\n" : "$-1\r\n"); }

void ReplyBuffer::NullArray() { Text(resp3_ ? "_\r\n" : "*-1\r\n"); }

void ReplyBuffer::Array(size_t count) { Length('*', count); }

void ReplyBuffer::Map(size_t pairs) {
  if (resp3_) {
    Length('%', pairs);
  } else {
    Length('*', 2 * pairs);
  }
}

const std::vector<asio::const_buffer>& ReplyBuffer::Buffers() {
  buffers_.clear();
  for (const Part& part : parts_) {
    if (part.end > part.begin)
      buffers_.emplace_back(text_.data() + part.begin, part.end - part.begin);
    if (part.piece >= 0) {
      const auto bytes = pieces_[static_cast<size_t>(part.piece)].bytes;
      if (!bytes.empty()) buffers_.emplace_back(bytes.data(), bytes.size());
    }
  }
  return buffers_;
}

void ReplyBuffer::Clear() {
  text_.clear();
  parts_.assign(1, Part{});
  pieces_.clear();
  buffers_.clear();
  bytes_ = 0;
}

}  // namespace kvtier::server::resp
