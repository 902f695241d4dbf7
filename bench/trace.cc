#include "bench/trace.h"

#include <cctype>
#include <charconv>
#include <fstream>

namespace kvtier::bench {
namespace {

// A strict scanner for the flat objects of the trace format: string keys,
// values that are non-negative integers or arrays of them.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  Result<std::string_view> Key() {
    if (!Eat('"')) return InvalidArgument("expected a quoted key");
    const size_t end = text_.find('"', pos_);
    if (end == std::string_view::npos) return InvalidArgument("unterminated key");
    std::string_view key = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return key;
  }
  Result<uint64_t> Number() {
    SkipSpace();
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), value);
    if (ec != std::errc()) return InvalidArgument("expected a non-negative integer");
    pos_ = static_cast<size_t>(end - text_.data());
    // Accept a trailing fraction (some traces write 12.0) by truncating it.
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    return value;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<TraceRequest> ParseTraceLine(std::string_view line) {
  Scanner s(line);
  TraceRequest request;
  bool have_ids = false;
  if (!s.Eat('{')) return InvalidArgument("a trace line must be a JSON object");
  while (!s.Eat('}')) {
    KVTIER_ASSIGN_OR_RETURN(std::string_view key, s.Key());
    if (!s.Eat(':')) return InvalidArgument("expected ':' after \"" + std::string(key) + "\"");
    if (s.Eat('[')) {
      std::vector<uint64_t> values;
      while (!s.Eat(']')) {
        KVTIER_ASSIGN_OR_RETURN(uint64_t value, s.Number());
        values.push_back(value);
        if (!s.Peek(']') && !s.Eat(',')) return InvalidArgument("expected ',' in an array");
      }
      if (key == "hash_ids") {
        request.hash_ids = std::move(values);
        have_ids = true;
      }
    } else {
      KVTIER_ASSIGN_OR_RETURN(uint64_t value, s.Number());
      if (key == "timestamp") request.timestamp_ms = value;
      if (key == "input_length") request.input_length = value;
      if (key == "output_length") request.output_length = value;
    }
    if (!s.Peek('}') && !s.Eat(',')) return InvalidArgument("expected ',' between fields");
  }
  if (!s.AtEnd()) return InvalidArgument("text after the closing brace");
  if (!have_ids) return InvalidArgument("no hash_ids");
  return request;
}

Result<std::vector<TraceRequest>> LoadTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot open trace '" + path + "'");
  std::vector<TraceRequest> requests;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto request = ParseTraceLine(line);
    if (!request.ok()) {
      return InvalidArgument(path + ":" + std::to_string(number) + ": " +
                             request.status().message());
    }
    requests.push_back(std::move(*request));
  }
  return requests;
}

std::string FormatTraceLine(const TraceRequest& r) {
  std::string out = "{\"timestamp\": " + std::to_string(r.timestamp_ms) +
                    ", \"input_length\": " + std::to_string(r.input_length) +
                    ", \"output_length\": " + std::to_string(r.output_length) + ", \"hash_ids\": [";
  for (size_t i = 0; i < r.hash_ids.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(r.hash_ids[i]);
  }
  return out + "]}";
}

void PrefixHits::Add(const TraceRequest& request, uint64_t leading_hits) {
  ++requests;
  hit_blocks += leading_hits;
  total_blocks += request.hash_ids.size();
  hit_tokens += std::min(leading_hits * kTraceBlockTokens, request.input_length);
  total_tokens += request.input_length;
}

double PrefixHits::BlockRatio() const {
  return total_blocks == 0 ? 0 : static_cast<double>(hit_blocks) / total_blocks;
}

double PrefixHits::TokenRatio() const {
  return total_tokens == 0 ? 0 : static_cast<double>(hit_tokens) / total_tokens;
}

uint64_t PrefixLruSimulator::Access(const std::vector<uint64_t>& blocks) {
  uint64_t hits = 0;
  while (hits < blocks.size() && index_.count(blocks[hits]) != 0) ++hits;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    auto found = index_.find(*it);
    if (found != index_.end()) {
      order_.splice(order_.begin(), order_, found->second);
      continue;
    }
    if (capacity_ == 0) continue;
    if (index_.size() >= capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(*it);
    index_[*it] = order_.begin();
  }
  return hits;
}

}  // namespace kvtier::bench
