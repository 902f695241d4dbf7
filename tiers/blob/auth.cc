#include "tiers/blob/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <map>

namespace kvtier::tiers::blob {
namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = bytes[i] << 16;
    if (rest == 2) v |= bytes[i + 1] << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[static_cast<uint8_t>(kBase64Alphabet[i])] = i;
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int v = value[static_cast<uint8_t>(c)];
    if (v < 0) return InvalidArgument("not base64 (a storage account key is base64)");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<uint8_t>((bits >> count) & 0xff));
    }
  }
  return out;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm gmt{};
  gmtime_r(&now, &gmt);
  char text[64];
  std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &gmt);
  return text;
}

Result<SharedKeySigner> SharedKeySigner::Create(std::string account,
                                                std::string_view account_key_base64) {
  if (account.empty()) return InvalidArgument("blob account name is empty");
  auto key = Base64Decode(account_key_base64);
  if (!key.ok() || key->empty()) return InvalidArgument("blob account key is not valid base64");
  return SharedKeySigner(std::move(account), std::move(*key));
}

std::string SharedKeySigner::StringToSign(const RequestToSign& request) const {
  std::map<std::string, std::string> standard;  // lower-case name -> value
  std::map<std::string, std::string> ms;        // x-ms-* headers, sorted
  if (request.headers != nullptr) {
    for (const HeaderField& h : *request.headers) {
      std::string name = Lower(h.name);
      if (name.starts_with("x-ms-")) {
        ms[std::move(name)] = std::string(Trim(h.value));
      } else {
        standard[std::move(name)] = h.value;
      }
    }
  }
  auto header = [&](const char* name) -> std::string {
    auto it = standard.find(name);
    return it == standard.end() ? std::string() : it->second;
  };
  std::string out;
  out += request.verb;
  out += '\n';
  for (const char* name : {"content-encoding", "content-language"}) out += header(name) + '\n';
  // Since version 2015-02-21 a zero length is signed as the empty string.
  out += request.content_length == 0 ? std::string() : std::to_string(request.content_length);
  out += '\n';
  for (const char* name : {"content-md5", "content-type", "date", "if-modified-since", "if-match",
                           "if-none-match", "if-unmodified-since", "range"}) {
    out += header(name) + '\n';
  }
  for (const auto& [name, value] : ms) out += name + ':' + value + '\n';
  out += '/' + account_ + std::string(request.path);
  std::map<std::string, std::vector<std::string>> query;
  for (const auto& [name, value] : request.query) query[Lower(name)].push_back(value);
  for (auto& [name, values] : query) {
    std::sort(values.begin(), values.end());
    out += '\n' + name + ':';
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string HmacSha256Base64(std::span<const uint8_t> key, std::string_view text) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const uint8_t*>(text.data()), text.size(), mac.data(), &mac_size);
  return Base64Encode(std::span(mac.data(), mac_size));
}

Result<std::string> MakeAccountSas(const std::string& account, std::string_view account_key_base64,
                                   const std::string& permissions, const std::string& expiry) {
  auto key = Base64Decode(account_key_base64);
  if (!key.ok() || key->empty()) return InvalidArgument("blob account key is not valid base64");
  const std::string version = "2019-12-12";
  // account, permissions, services, resource types, start, expiry, IP,
  // protocols, version: one per line.
  const std::string to_sign =
      account + "\n" + permissions + "\nb\nsco\n\n" + expiry + "\n\nhttps,http\n" + version + "\n";
  return "sv=" + version + "&ss=b&srt=sco&sp=" + permissions +
         "&se=" + PercentEncode(expiry, false) +
         "&spr=https,http&sig=" + PercentEncode(HmacSha256Base64(*key, to_sign), false);
}

std::string SharedKeySigner::Authorization(const RequestToSign& request) const {
  return "SharedKey " + account_ + ':' + HmacSha256Base64(key_, StringToSign(request));
}

}  // namespace kvtier::tiers::blob
