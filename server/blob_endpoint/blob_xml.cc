#include "server/blob_endpoint/blob_xml.h"

#include "server/blob_endpoint/blob_request.h"

namespace kvtier::server::blob_endpoint {
namespace {

constexpr std::string_view kDeclaration = "<?xml version=\"1.0\" encoding=\"utf-8\"?>";

void Element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  out += XmlEscape(text);
  out += "</";
  out += name;
  out += '>';
}

void BlobXml(std::string& out, const ListedBlob& blob) {
  const std::string date = HttpDateOf(blob.modified);
  out += "<Blob>";
  Element(out, "Name", blob.name);
  out += "<Properties>";
  Element(out, "Creation-Time", date);
  Element(out, "Last-Modified", date);
  Element(out, "Etag", blob.etag);
  Element(out, "Content-Length", std::to_string(blob.size));
  Element(out, "Content-Type", "application/octet-stream");
  out += "<Content-Encoding /><Content-Language /><Content-MD5 /><Cache-Control />";
  out += "<BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier>";
  out += "<AccessTierInferred>true</AccessTierInferred>";
  out += "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>";
  out += "<ServerEncrypted>true</ServerEncrypted>";
  out += "</Properties></Blob>";
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string EtagOf(std::string_view version) {
  if (version.size() >= 2 && version.front() == '"' && version.back() == '"') {
    return std::string(version);
  }
  return "\"" + std::string(version) + "\"";
}

std::string BareEtagOf(std::string_view version) {
  if (version.size() >= 2 && version.front() == '"' && version.back() == '"') {
    version = version.substr(1, version.size() - 2);
  }
  return std::string(version);
}

std::string ErrorXml(std::string_view code, std::string_view message, std::string_view request_id) {
  std::string out(kDeclaration);
  out += "<Error>";
  Element(out, "Code", code);
  Element(out, "Message",
          std::string(message) + "\nRequestId:" + std::string(request_id) +
              "\nTime:" + HttpDateOf(std::time(nullptr)));
  out += "</Error>";
  return out;
}

std::string ListBlobsXml(const BlobListPage& page) {
  std::string out(kDeclaration);
  out += "<EnumerationResults ServiceEndpoint=\"" + XmlEscape(page.service_endpoint) +
         "\" ContainerName=\"" + XmlEscape(page.container) + "\">";
  if (!page.prefix.empty()) Element(out, "Prefix", page.prefix);
  if (!page.marker.empty()) Element(out, "Marker", page.marker);
  if (page.max_results != 0) Element(out, "MaxResults", std::to_string(page.max_results));
  if (!page.delimiter.empty()) Element(out, "Delimiter", page.delimiter);
  out += "<Blobs>";
  size_t b = 0;
  size_t p = 0;
  while (b < page.blobs.size() || p < page.prefixes.size()) {
    if (p == page.prefixes.size() ||
        (b < page.blobs.size() && page.blobs[b].name < page.prefixes[p])) {
      BlobXml(out, page.blobs[b++]);
    } else {
      out += "<BlobPrefix>";
      Element(out, "Name", page.prefixes[p++]);
      out += "</BlobPrefix>";
    }
  }
  out += "</Blobs>";
  if (page.next_marker.empty()) {
    out += "<NextMarker />";
  } else {
    Element(out, "NextMarker", page.next_marker);
  }
  out += "</EnumerationResults>";
  return out;
}

std::string ListContainersXml(std::string_view service_endpoint, std::string_view prefix,
                              const std::vector<std::string>& containers, std::time_t modified) {
  std::string out(kDeclaration);
  out += "<EnumerationResults ServiceEndpoint=\"" + XmlEscape(service_endpoint) + "\">";
  if (!prefix.empty()) Element(out, "Prefix", prefix);
  out += "<Containers>";
  for (const std::string& name : containers) {
    if (!std::string_view(name).starts_with(prefix)) continue;
    out += "<Container>";
    Element(out, "Name", name);
    out += "<Properties>";
    Element(out, "Last-Modified", HttpDateOf(modified));
    Element(out, "Etag", "\"0x0\"");
    out += "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>";
    out += "<HasImmutabilityPolicy>false</HasImmutabilityPolicy>";
    out += "<HasLegalHold>false</HasLegalHold></Properties></Container>";
  }
  out += "</Containers><NextMarker /></EnumerationResults>";
  return out;
}

}  // namespace kvtier::server::blob_endpoint
