#pragma once

// The XML bodies of the Blob-compatible endpoint, in the shapes the Azure
// SDKs parse (Blob service REST, version 2021-12-02 and later): errors,
// List Blobs and List Containers.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace kvtier::server::blob_endpoint {

// Escapes &, <, >, " and ' for element text and attribute values.
std::string XmlEscape(std::string_view text);

// The quoted ETag of a version, as headers carry it (an already quoted one
// stays as it is).
std::string EtagOf(std::string_view version);
// The same without quotes, as listings carry it.
std::string BareEtagOf(std::string_view version);

// <Error><Code>..</Code><Message>..</Message></Error>
std::string ErrorXml(std::string_view code, std::string_view message, std::string_view request_id);

struct ListedBlob {
  std::string name;
  uint64_t size = 0;
  std::string etag;  // unquoted, as Azure lists it
  std::time_t modified = 0;
};

struct BlobListPage {
  std::string service_endpoint;  // "http://host:port/account/"
  std::string container;
  std::string prefix;
  std::string marker;
  std::string delimiter;
  uint32_t max_results = 0;  // as asked; 0: not given
  std::vector<ListedBlob> blobs;
  std::vector<std::string> prefixes;  // BlobPrefix names
  std::string next_marker;
};

// Blobs and BlobPrefix entries are written in name order, merged.
std::string ListBlobsXml(const BlobListPage& page);

std::string ListContainersXml(std::string_view service_endpoint, std::string_view prefix,
                              const std::vector<std::string>& containers, std::time_t modified);

}  // namespace kvtier::server::blob_endpoint
