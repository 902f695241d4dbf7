#include "server/resp/resp_parser.h"

#include <charconv>

namespace kvtier::server::resp {
namespace {

ParseResult NeedMore(uint64_t needed) {
  ParseResult result;
  result.outcome = ParseOutcome::kNeedMore;
  result.needed = needed == 0 ? 1 : needed;
  return result;
}

ParseResult Broken(std::string message) {
  ParseResult result;
  result.outcome = ParseOutcome::kError;
  result.error = "Protocol error: " + std::move(message);
  return result;
}

// The longest header line we accept: a type byte, 20 digits, "\r\n".
constexpr size_t kMaxHeaderLine = 32;

enum class LineOutcome { kLine, kNeedMore, kBroken };

// Reads "<type><decimal>\r\n" at input[*pos]; on success *pos is past it.
LineOutcome ReadLength(std::string_view input, size_t* pos, int64_t* value) {
  const size_t begin = *pos + 1;  // after the type byte
  const size_t end = input.find('\r', begin);
  if (end == std::string_view::npos) {
    return input.size() - *pos > kMaxHeaderLine ? LineOutcome::kBroken : LineOutcome::kNeedMore;
  }
  if (end - *pos > kMaxHeaderLine) return LineOutcome::kBroken;
  if (end + 1 >= input.size()) return LineOutcome::kNeedMore;
  if (input[end + 1] != '\n' || end == begin) return LineOutcome::kBroken;
  const auto [ptr, ec] = std::from_chars(input.data() + begin, input.data() + end, *value);
  if (ec != std::errc() || ptr != input.data() + end) return LineOutcome::kBroken;
  *pos = end + 2;
  return LineOutcome::kLine;
}

ParseResult ParseInline(std::string_view input, const ParserLimits& limits,
                        std::vector<std::string_view>& args) {
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    if (input.size() > limits.max_inline_bytes) return Broken("too big inline request");
    return NeedMore(1);
  }
  if (newline > limits.max_inline_bytes) return Broken("too big inline request");
  std::string_view line = input.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Words split on spaces and tabs; quoting is not supported inline.
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    const size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
    if (pos > start) {
      if (args.size() == limits.max_arguments) return Broken("too many arguments");
      args.push_back(line.substr(start, pos - start));
    }
  }
  ParseResult result;
  result.outcome = ParseOutcome::kCommand;
  result.consumed = newline + 1;
  return result;
}

}  // namespace

ParseResult ParseCommand(std::string_view input, const ParserLimits& limits,
                         std::vector<std::string_view>& args) {
  args.clear();
  if (input.empty()) return NeedMore(1);
  if (input[0] != '*') return ParseInline(input, limits, args);

  size_t pos = 0;
  int64_t count = 0;
  switch (ReadLength(input, &pos, &count)) {
    case LineOutcome::kNeedMore:
      return NeedMore(1);
    case LineOutcome::kBroken:
      return Broken("invalid multibulk length");
    case LineOutcome::kLine:
      break;
  }
  if (count > static_cast<int64_t>(limits.max_arguments)) return Broken("invalid multibulk length");
  if (count <= 0) {  // "*0" and "*-1" are no command, as in Redis
    ParseResult result;
    result.outcome = ParseOutcome::kCommand;
    result.consumed = pos;
    return result;
  }
  args.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    if (pos >= input.size()) return NeedMore(1);
    if (input[pos] != '$') {
      return Broken("expected '$', got '" + std::string(1, input[pos]) + "'");
    }
    int64_t length = 0;
    switch (ReadLength(input, &pos, &length)) {
      case LineOutcome::kNeedMore:
        return NeedMore(1);
      case LineOutcome::kBroken:
        return Broken("invalid bulk length");
      case LineOutcome::kLine:
        break;
    }
    if (length < 0) return Broken("invalid bulk length");
    if (static_cast<uint64_t>(length) > limits.max_bulk_bytes) {
      return Broken("bulk of " + std::to_string(length) + " bytes is over the limit of " +
                    std::to_string(limits.max_bulk_bytes));
    }
    const uint64_t end = pos + static_cast<uint64_t>(length) + 2;
    if (end > limits.max_command_bytes) {
      return Broken("command is over the limit of " + std::to_string(limits.max_command_bytes) +
                    " bytes");
    }
    if (end > input.size()) return NeedMore(end - input.size());
    if (input[end - 2] != '\r' || input[end - 1] != '\n') {
      return Broken("bulk string not terminated by CRLF");
    }
    args.push_back(input.substr(pos, static_cast<size_t>(length)));
    pos = static_cast<size_t>(end);
  }
  ParseResult result;
  result.outcome = ParseOutcome::kCommand;
  result.consumed = pos;
  return result;
}

}  // namespace kvtier::server::resp
