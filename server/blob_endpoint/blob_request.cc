#include "server/blob_endpoint/blob_request.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace kvtier::server::blob_endpoint {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseUnsigned(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::optional<std::string_view> BlobTarget::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view HeaderValue(const std::vector<tiers::blob::HeaderField>& headers,
                             std::string_view name) {
  auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  for (const tiers::blob::HeaderField& field : headers) {
    if (field.name.size() == name.size() &&
        std::equal(field.name.begin(), field.name.end(), name.begin(), same)) {
      return field.value;
    }
  }
  return {};
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return InvalidArgument("a '%' escape is cut short");
    }
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return InvalidArgument("a '%' escape is not two hex digits");
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

Result<BlobTarget> ParseTarget(std::string_view target, std::string_view account) {
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("the request target must be a path starting with '/'");
  }
  BlobTarget out;
  const size_t question = target.find('?');
  out.raw_path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      KVTIER_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq)));
      std::string value;
      if (eq != std::string_view::npos) {
        KVTIER_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1)));
      }
      out.query.emplace_back(std::move(name), std::move(value));
    }
  }
  std::string_view path = std::string_view(out.raw_path).substr(1);
  auto next_segment = [&path]() {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    return segment;
  };
  std::string_view container = next_segment();
  if (!account.empty() && container == account) container = next_segment();
  KVTIER_ASSIGN_OR_RETURN(out.container, PercentDecode(container));
  KVTIER_ASSIGN_OR_RETURN(out.blob, PercentDecode(path));
  if (out.blob.size() > kMaxBlobNameBytes) {
    return InvalidArgument("the blob name is longer than 1024 bytes");
  }
  return out;
}

Result<std::optional<ByteRange>> ParseRange(std::string_view header) {
  if (header.empty()) return std::optional<ByteRange>();
  if (!header.starts_with("bytes=")) return InvalidArgument("a range must start with 'bytes='");
  header.remove_prefix(6);
  if (header.find(',') != std::string_view::npos) {
    return InvalidArgument("one range only: Azure reads no multi-range requests");
  }
  const size_t dash = header.find('-');
  if (dash == std::string_view::npos) return InvalidArgument("a range needs 'first-last'");
  ByteRange range;
  if (!ParseUnsigned(header.substr(0, dash), range.first)) {
    return InvalidArgument("a range needs a first byte (suffix ranges are not served)");
  }
  const std::string_view last = header.substr(dash + 1);
  if (!last.empty()) {
    uint64_t value = 0;
    if (!ParseUnsigned(last, value)) return InvalidArgument("a range's last byte is not a number");
    if (value < range.first) return InvalidArgument("a range ends before it starts");
    range.last = value;
  }
  return std::optional<ByteRange>(range);
}

std::string HttpDateOf(std::time_t seconds) {
  std::tm gmt{};
  gmtime_r(&seconds, &gmt);
  char text[64];
  std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &gmt);
  return text;
}

std::optional<std::time_t> ParseHttpDate(std::string_view text) {
  // "Sun, 06 Dec 2026 10:00:00 GMT"
  char weekday[4] = {}, month[4] = {}, zone[4] = {};
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", weekday, &day, month, &year, &hour,
                  &minute, &second, zone) != 8 ||
      std::strcmp(zone, "GMT") != 0) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_mon = -1;
  for (int m = 0; m < 12; ++m) {
    if (std::strcmp(month, kMonths[m]) == 0) tm.tm_mon = m;
  }
  if (tm.tm_mon < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return timegm(&tm);
}

std::optional<std::time_t> ParseIsoTime(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 10) return std::nullopt;
  const std::string copy(text);
  int used = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3 || used != 10) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(10);
  if (!rest.empty()) {
    if (rest.front() != 'T' || rest.back() != 'Z') return std::nullopt;
    const std::string time(rest.substr(1, rest.size() - 2));
    int consumed = 0;
    if (std::sscanf(time.c_str(), "%2d:%2d%n", &hour, &minute, &consumed) != 2 || consumed != 5) {
      return std::nullopt;
    }
    std::string_view tail = std::string_view(time).substr(5);
    if (!tail.empty()) {
      if (tail.size() < 3 || tail[0] != ':' || !std::isdigit(static_cast<unsigned char>(tail[1])) ||
          !std::isdigit(static_cast<unsigned char>(tail[2]))) {
        return std::nullopt;
      }
      second = (tail[1] - '0') * 10 + (tail[2] - '0');
      tail.remove_prefix(3);
      if (!tail.empty()) {  // fractional seconds
        if (tail[0] != '.' || tail.size() < 2) return std::nullopt;
        for (char c : tail.substr(1)) {
          if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        }
      }
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return timegm(&tm);
}

}  // namespace kvtier::server::blob_endpoint
