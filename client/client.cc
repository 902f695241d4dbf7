#include "client/client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "client/client_impl.h"
#include "client/client_region.h"
#include "common/checksum.h"
#include "protocol/asio.h"
#include "protocol/frame.h"
#include "protocol/rdma/provider.h"
#include "protocol/rdma/rdma_devices.h"
#include "protocol/shared_region.h"

namespace kvtier::client {
namespace {

using internal::Area;
using internal::PayloadSink;
using internal::ReplyFrame;
using internal::ValuePlacement;
using protocol::FrameHeader;
using protocol::Opcode;

// The whole-request status of a reply: its ErrorReply, or OK.
Status RequestStatus(const Result<ReplyFrame>& frame, Opcode expected) {
  if (!frame.ok()) return frame.status();
  if ((frame->header.flags & protocol::frame_flags::kError) != 0) {
    return protocol::DecodeErrorReply(frame->metadata);
  }
  if (frame->header.opcode != static_cast<uint8_t>(expected)) {
    return ProtocolError("reply opcode " + std::to_string(frame->header.opcode) +
                         " does not match the request");
  }
  return Status::Ok();
}

KeyStatuses ToKeyStatuses(const std::vector<StatusCode>& codes) {
  KeyStatuses out;
  out.statuses.reserve(codes.size());
  for (StatusCode code : codes) {
    out.statuses.emplace_back(code,
                              code == StatusCode::kOk ? "" : std::string(StatusCodeName(code)));
  }
  return out;
}

}  // namespace

std::optional<uint64_t> FindTierCounter(const StatsResult& stats, std::string_view tier,
                                        std::string_view name) {
  for (const auto& t : stats.tiers) {
    if (t.name != tier) continue;
    for (const auto& c : t.counters) {
      if (c.name == name) return c.value;
    }
  }
  return std::nullopt;
}

bool KeyStatuses::all_ok() const {
  for (const Status& s : statuses) {
    if (!s.ok()) return false;
  }
  return true;
}

namespace {

// Checks what the server would reject anyway, before sending anything.
Status CheckKeys(const protocol::Limits& limits, std::string_view ns,
                 std::span<const std::string> keys) {
  if (ns.empty()) return InvalidArgument("namespace name is empty");
  if (keys.size() > limits.max_keys_per_request) {
    return InvalidArgument(std::to_string(keys.size()) +
                           " keys in one request; the server allows " +
                           std::to_string(limits.max_keys_per_request));
  }
  for (const std::string& key : keys) {
    if (key.empty() || key.size() > limits.max_key_bytes) {
      return InvalidArgument("key of " + std::to_string(key.size()) +
                             " bytes; the server allows 1.." +
                             std::to_string(limits.max_key_bytes));
    }
  }
  return Status::Ok();
}

// The spans a reply's carried values are read into: value j, of `carried[j]`
// = (key index i, length), goes to buffers[i] when it fits; values that do
// not fit go to scratch memory the frame owns, and are dropped.
std::vector<std::span<std::byte>> SpansFor(
    ReplyFrame& frame, std::span<const std::span<std::byte>> buffers,
    const std::vector<std::pair<size_t, uint64_t>>& carried) {
  uint64_t dropped = 0;
  for (const auto& [i, length] : carried) {
    if (length > buffers[i].size()) dropped += length;
  }
  if (dropped > 0) frame.payload.reset(new std::byte[dropped]);
  std::vector<std::span<std::byte>> spans;
  spans.reserve(carried.size());
  uint64_t scratch = 0;
  for (const auto& [i, length] : carried) {
    if (length <= buffers[i].size()) {
      spans.push_back(buffers[i].first(length));
    } else {
      spans.emplace_back(frame.payload.get() + scratch, length);
      scratch += length;
    }
  }
  return spans;
}

Status TooLarge(size_t key, uint64_t length, size_t buffer) {
  return InvalidArgument("value " + std::to_string(key) + " is " + std::to_string(length) +
                         " bytes; its buffer holds " + std::to_string(buffer));
}

template <typename T>
std::future<Result<T>> Failed(Status status) {
  std::promise<Result<T>> promise;
  promise.set_value(std::move(status));
  return promise.get_future();
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() {
  // Inherited through fork(): joining an I/O thread that is not in this
  // process would crash, and closing the connection would be the parent's
  // loss. Leave it.
  if (impl_ != nullptr && impl_->owner_pid() != getpid()) static_cast<void>(impl_.release());
}

const ServerInfo& Client::server_info() const { return impl_->info(); }
bool Client::uses_shared_memory() const {
  return impl_->region() != nullptr && !impl_->uses_rdma();
}

bool Client::uses_rdma() const { return impl_->uses_rdma(); }

std::string Client::rdma_fallback() const { return impl_->rdma_fallback(); }

SharedBuffer Client::AllocateShared(uint64_t bytes) {
  ClientRegion* region = impl_->region();
  Area area = region != nullptr ? region->Allocate(bytes) : nullptr;
  if (!area) return {};
  return SharedBuffer{std::span<std::byte>(area->data(), bytes), std::move(area)};
}

struct Client::Placement {
  ValuePlacement request;
  // Runs with the failure of a request that fails (before its future).
  std::function<void(const Status&)> on_failure;
};

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  protocol::HelloRequest request;
  request.client_name = options.client_name;
  request.token = options.token;
  ValuePlacement attach;
  if (!options.unix_socket.empty() && options.shm_region_bytes > 0) {
    KVTIER_RETURN_IF_ERROR(impl->CreateRegion(options.shm_region_bytes));
    request.shm_region_bytes = options.shm_region_bytes;
    attach.pass_fd = impl->region()->fd();
  }
  // With ClientOptions::rdma: the region and queue pair to offer in Hello,
  // or why values will go over the stream.
  auto prepare_rdma = [&]() -> Result<std::unique_ptr<ClientRdma>> {
    if (!options.unix_socket.empty()) {
      return Unavailable("RDMA is for TCP connections; this one uses the server's Unix socket");
    }
    if (options.tls.enabled) {
      return Unavailable("RDMA is not used with TLS: one-sided transfers would bypass it");
    }
    if (options.rdma_device != protocol::rdma::kSoftProviderName) {
      const protocol::rdma::DeviceSurvey survey = protocol::rdma::SurveyDevices();
      if (survey.devices.empty()) {
        return Unavailable("no RDMA device on this host (" + survey.reason + ")");
      }
    }
    KVTIER_RETURN_IF_ERROR(impl->CreateRegion(options.rdma_region_bytes));
    auto opened =
        ClientRdma::Open(options.rdma_device, {impl->region()->base(), impl->region()->size()});
    if (!opened.ok()) impl->DropRegion();
    return opened;
  };
  std::unique_ptr<ClientRdma> rdma;
  if (options.rdma) {
    auto prepared = prepare_rdma();
    if (prepared.ok()) {
      rdma = std::move(*prepared);
      request.rdma = rdma->endpoint();
      request.rdma_regions = {rdma->registered()};
    } else {
      impl->SetRdmaFallback(prepared.status().message() + "; values go over the stream");
    }
  }
  KVTIER_RETURN_IF_ERROR(impl->Connect());
  std::promise<Result<ServerInfo>> hello;
  impl->Submit(
      Opcode::kHello, protocol::EncodeHelloRequest(request), {},
      [&hello](Result<ReplyFrame> frame) {
        Status status = RequestStatus(frame, Opcode::kHello);
        if (!status.ok()) {
          hello.set_value(status);
        } else {
          hello.set_value(protocol::DecodeHelloResponse(frame->metadata));
        }
      },
      attach);
  auto info = hello.get_future().get();
  if (!info.ok()) return info.status();
  if (rdma != nullptr) {
    // The server's queue pair, or why it set none up.
    Status connected = info->rdma ? rdma->Connect(*info->rdma)
                                  : Unavailable("the server refused: " + info->rdma_refusal);
    if (connected.ok()) {
      impl->UseRdma(std::move(rdma));
    } else {
      impl->SetRdmaFallback(connected.message());
      impl->DropRegion();
    }
  }
  impl->SetServerInfo(std::move(*info));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

namespace {

// Set by the waiting forms (Put, Get, ...) around the one XxxAsync they
// call on this thread: its request may run on this thread (CallHere), since
// the caller blocks for the answer anyway.
thread_local bool t_caller_waits = false;

// The Pipeline open on this thread, if any: Call holds requests in it.
thread_local Pipeline* t_pipeline = nullptr;

class CallerWaits {
 public:
  CallerWaits() { t_caller_waits = true; }
  ~CallerWaits() { t_caller_waits = false; }
  CallerWaits(const CallerWaits&) = delete;
  CallerWaits& operator=(const CallerWaits&) = delete;
};

}  // namespace

template <typename T, typename Decode>
std::future<Result<T>> Client::Call(Opcode opcode, protocol::Metadata metadata,
                                    std::vector<std::span<const std::byte>> payload, Decode decode,
                                    Placement region) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto complete = [promise, opcode, decode = std::move(decode),
                   on_failure = std::move(region.on_failure)](Result<ReplyFrame> frame) {
    Status status = RequestStatus(frame, opcode);
    if (!status.ok()) {
      if (on_failure) on_failure(status);
      promise->set_value(std::move(status));
    } else {
      promise->set_value(decode(*frame));
    }
  };
  if (t_caller_waits) {
    t_caller_waits = false;  // one request per waiting call
    if (auto reply = impl_->CallHere(opcode, metadata, payload, region.request)) {
      complete(std::move(*reply));
      return future;
    }
  } else if (t_pipeline != nullptr && &t_pipeline->client_ == this) {
    t_pipeline->held_.push_back({opcode, std::move(metadata), std::move(payload),
                                 std::move(complete), std::move(region.request)});
    return future;
  }
  impl_->Submit(opcode, std::move(metadata), std::move(payload), std::move(complete),
                std::move(region.request));
  return future;
}

template <typename T, typename Decode>
std::future<Result<T>> Client::Call(Opcode opcode, protocol::Metadata metadata,
                                    std::vector<std::span<const std::byte>> payload,
                                    Decode decode) {
  return Call<T>(opcode, std::move(metadata), std::move(payload), std::move(decode), Placement{});
}

std::future<Result<KeyStatuses>> Client::PutAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<const std::byte>> values, const PutOptions& options) {
  const protocol::Limits& limits = impl_->info().limits;
  if (Status s = CheckKeys(limits, ns, keys); !s.ok()) return Failed<KeyStatuses>(s);
  if (values.size() != keys.size()) {
    return Failed<KeyStatuses>(InvalidArgument("Put needs one value per key"));
  }
  if ((!options.ttls_ms.empty() && options.ttls_ms.size() != keys.size()) ||
      (!options.pins.empty() && options.pins.size() != keys.size()) ||
      (!options.kb.empty() && options.kb.size() != keys.size())) {
    return Failed<KeyStatuses>(
        InvalidArgument("Put options need one TTL, pin and KB entry per key (or none)"));
  }
  if (options.parent.size() > limits.max_key_bytes) {
    return Failed<KeyStatuses>(InvalidArgument("Put's parent key is longer than the server's " +
                                               std::to_string(limits.max_key_bytes) + " bytes"));
  }
  const protocol::PutChain chain{options.parent, options.partial_tail};
  std::vector<uint64_t> lengths;
  std::vector<uint64_t> checksums;
  uint64_t total = 0;
  for (const auto& value : values) {
    if (value.size() > limits.max_value_bytes) {
      return Failed<KeyStatuses>(InvalidArgument("value of " + std::to_string(value.size()) +
                                                 " bytes; the server allows " +
                                                 std::to_string(limits.max_value_bytes)));
    }
    total += value.size();
    lengths.push_back(value.size());
  }
  // The edge checksums: in the metadata when the values cross a shared
  // region (or would not leave room for a trailer within the payload
  // limit), else computed as the values are sent (TrailingChecksums).
  auto edge_checksums = [&] {
    for (const auto& value : values) checksums.push_back(BlockChecksum(value));
  };
  if (total > limits.max_payload_bytes) {
    return Failed<KeyStatuses>(InvalidArgument("values total " + std::to_string(total) +
                                               " bytes; one request may carry " +
                                               std::to_string(limits.max_payload_bytes)));
  }
  const size_t count = keys.size();
  auto decode = [count](const ReplyFrame& frame) -> Result<KeyStatuses> {
    KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodePutResponse(frame.metadata, count));
    return ToKeyStatuses(response.codes);
  };
  // Shared memory: values built in the region (AllocateShared) go as they
  // are; the others are copied into one free area; the server copies them
  // out. Without a region, or with no room in it, the values go on the stream.
  if (ClientRegion* region = impl_->region(); region != nullptr && total > 0) {
    std::vector<uint64_t> offsets(values.size());
    std::vector<bool> in_region(values.size());
    uint64_t to_copy = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      in_region[i] = region->Contains(values[i].data(), values[i].size(), &offsets[i]);
      if (!in_region[i]) to_copy += values[i].size();
    }
    Area area = to_copy > 0 ? region->Allocate(to_copy) : nullptr;
    if (to_copy == 0 || area) {
      uint64_t next = area ? area->offset() : 0;
      for (size_t i = 0; i < values.size(); ++i) {
        if (in_region[i]) continue;
        if (!values[i].empty())
          std::memcpy(area->data() + (next - area->offset()), values[i].data(), values[i].size());
        offsets[i] = next;
        next += values[i].size();
      }
      // Over RDMA the values cross a network: the client checksums them
      // here, the edge. Over shared memory the server reads the very bytes
      // the client wrote, so a checksum taken here would be of the same
      // bytes as the one the server takes after its copy: it computes that
      // one (a put without checksums) and the client saves a pass.
      const bool by_rdma = impl_->uses_rdma();
      if (by_rdma) edge_checksums();
      // On RDMA the server READs the values: it names them by address, and
      // a put it could not read (its queue pair down) fails with
      // kUnavailable, after which this connection uses the stream.
      for (uint64_t& offset : offsets) offset = impl_->RegionAddress(offset);
      std::function<void(const Status&)> on_failure;
      if (by_rdma) {
        on_failure = [impl = impl_.get()](const Status& status) {
          if (status.code() == StatusCode::kUnavailable) impl->StopRdma(status.message());
        };
      }
      return Call<KeyStatuses>(
          Opcode::kPut,
          protocol::EncodePutRequest(ns, keys, lengths, checksums, options.ttls_ms, options.pins,
                                     impl_->bulk(), options.kb, offsets, impl_->region_key(),
                                     chain),
          {}, std::move(decode),
          Placement{ValuePlacement{std::move(area), /*values_in_area=*/true, total},
                    std::move(on_failure)});
    }
  }
  ValuePlacement on_stream;
  on_stream.checksums_trail =
      total + protocol::kTrailingChecksumBytes * values.size() <= limits.max_payload_bytes;
  if (!on_stream.checksums_trail) edge_checksums();
  return Call<KeyStatuses>(
      Opcode::kPut,
      protocol::EncodePutRequest(ns, keys, lengths, checksums, options.ttls_ms, options.pins,
                                 impl_->bulk(), options.kb, {}, 0, chain),
      std::vector<std::span<const std::byte>>(values.begin(), values.end()), std::move(decode),
      Placement{std::move(on_stream)});
}

std::future<Result<GetResult>> Client::GetAsync(std::string_view ns,
                                                std::span<const std::string> keys,
                                                uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) return Failed<GetResult>(s);
  const size_t count = keys.size();
  Area area = impl_->ReplyArea(count);
  const protocol::RegionArea offered = impl_->Offer(area);
  return Call<GetResult>(
      Opcode::kGet, protocol::EncodeKeysRequest(ns, keys, 0, lease_id, 0, impl_->bulk(), offered),
      {},
      [count](const ReplyFrame& frame) -> Result<GetResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetResponse(frame.metadata, count,
                                                                           frame.payload_length));
        GetResult result;
        result.payload = frame.payload;
        result.values.resize(count);
        uint64_t offset = 0;
        for (size_t i = 0; i < count; ++i) {
          GetValue& value = result.values[i];
          const StatusCode code = response.codes[i];
          value.tier = response.tiers[i];
          value.checksum = response.checksums[i];
          if (!response.kb.empty()) value.kb = response.kb[i];
          if (code != StatusCode::kOk) {
            value.status = Status(code, std::string(StatusCodeName(code)));
            continue;
          }
          value.bytes =
              std::span<const std::byte>(frame.payload.get() + offset, response.value_lengths[i]);
          offset += response.value_lengths[i];
          // Verify at the edge: bytes that changed on the way are never used.
          if (BlockChecksum(value.bytes) != value.checksum) {
            value.status = Corruption("value failed its checksum");
            value.bytes = {};
          }
        }
        return result;
      },
      Placement{ValuePlacement{std::move(area)}});
}

std::future<Result<ExistsResult>> Client::ExistsAsync(std::string_view ns,
                                                      std::span<const std::string> keys) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<ExistsResult>(s);
  }
  const size_t count = keys.size();
  return Call<ExistsResult>(Opcode::kExists, protocol::EncodeKeysRequest(ns, keys), {},
                            [count](const ReplyFrame& frame) -> Result<ExistsResult> {
                              KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeExistsResponse(
                                                                         frame.metadata, count));
                              return ExistsResult{std::move(response.tiers)};
                            });
}

std::future<Result<KeyStatuses>> Client::DeleteAsync(std::string_view ns,
                                                     std::span<const std::string> keys) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<KeyStatuses>(s);
  }
  const size_t count = keys.size();
  return Call<KeyStatuses>(
      Opcode::kDelete, protocol::EncodeKeysRequest(ns, keys, 0, 0, 0, impl_->bulk()), {},
      [count](const ReplyFrame& frame) -> Result<KeyStatuses> {
        KVTIER_ASSIGN_OR_RETURN(auto response,
                                protocol::DecodeDeleteResponse(frame.metadata, count));
        return ToKeyStatuses(response.codes);
      });
}

std::future<Result<MatchResult>> Client::MatchPrefixAsync(std::string_view ns,
                                                          std::span<const std::string> keys,
                                                          uint32_t lease_ms) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<MatchResult>(s);
  }
  const size_t count = keys.size();
  return Call<MatchResult>(Opcode::kMatchPrefix, protocol::EncodeKeysRequest(ns, keys, lease_ms),
                           {}, [count](const ReplyFrame& frame) -> Result<MatchResult> {
                             KVTIER_ASSIGN_OR_RETURN(
                                 auto response,
                                 protocol::DecodeMatchPrefixResponse(frame.metadata, count));
                             return MatchResult{response.matched, std::move(response.tiers),
                                                response.lease_id, response.lease_ms};
                           });
}

std::future<Result<StatsResult>> Client::StatsAsync() {
  return Call<StatsResult>(Opcode::kStats, protocol::EncodeStatsRequest(), {},
                           [](const ReplyFrame& frame) -> Result<StatsResult> {
                             return protocol::DecodeStatsResponse(frame.metadata);
                           });
}

Result<KeyStatuses> Client::Put(std::string_view ns, std::span<const std::string> keys,
                                std::span<const std::span<const std::byte>> values,
                                const PutOptions& options) {
  const bool by_rdma = impl_->uses_rdma();
  Result<KeyStatuses> result = [&] {
    CallerWaits here;
    return PutAsync(ns, keys, values, options).get();
  }();
  if (by_rdma && !impl_->uses_rdma() && result.status().code() == StatusCode::kUnavailable) {
    // RDMA stopped with this put (StopRdma): it goes again, on the stream.
    CallerWaits here;
    return PutAsync(ns, keys, values, options).get();
  }
  return result;
}
std::future<Result<GetIntoResult>> Client::GetIntoAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<std::byte>> buffers, uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<GetIntoResult>(s);
  }
  if (buffers.size() != keys.size()) {
    return Failed<GetIntoResult>(InvalidArgument("GetInto needs one buffer per key"));
  }
  const size_t count = keys.size();
  std::vector<std::span<std::byte>> targets(buffers.begin(), buffers.end());
  ValuePlacement placement;
  placement.sink = [count,
                    targets](ReplyFrame& frame) -> Result<std::vector<std::span<std::byte>>> {
    KVTIER_ASSIGN_OR_RETURN(
        auto response, protocol::DecodeGetResponse(frame.metadata, count, frame.payload_length));
    std::vector<std::pair<size_t, uint64_t>> carried;
    for (size_t i = 0; i < count; ++i) {
      if (response.codes[i] == StatusCode::kOk) carried.emplace_back(i, response.value_lengths[i]);
    }
    return SpansFor(frame, targets, carried);
  };
  return Call<GetIntoResult>(
      Opcode::kGet, protocol::EncodeKeysRequest(ns, keys, 0, lease_id, 0, impl_->bulk()), {},
      [count, targets](const ReplyFrame& frame) -> Result<GetIntoResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetResponse(frame.metadata, count,
                                                                           frame.payload_length));
        GetIntoResult result;
        result.statuses.resize(count);
        result.lengths.assign(count, 0);
        result.tiers = response.tiers;
        for (size_t i = 0; i < count; ++i) {
          const StatusCode code = response.codes[i];
          const uint64_t length = response.value_lengths[i];
          if (code != StatusCode::kOk) {
            result.statuses[i] = Status(code, std::string(StatusCodeName(code)));
          } else if (length > targets[i].size()) {
            result.statuses[i] = TooLarge(i, length, targets[i].size());
          } else if (BlockChecksum(targets[i].first(length)) != response.checksums[i]) {
            // Verified at the edge: the caller must not use these bytes.
            result.statuses[i] = Corruption("value failed its checksum");
          } else {
            result.lengths[i] = length;
          }
        }
        return result;
      },
      Placement{std::move(placement)});
}

Result<GetIntoResult> Client::GetInto(std::string_view ns, std::span<const std::string> keys,
                                      std::span<const std::span<std::byte>> buffers,
                                      uint64_t lease_id) {
  CallerWaits here;
  return GetIntoAsync(ns, keys, buffers, lease_id).get();
}

std::future<Result<PrefixIntoResult>> Client::GetPrefixIntoAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<std::byte>> buffers, std::chrono::milliseconds deadline,
    uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<PrefixIntoResult>(s);
  }
  if (buffers.size() != keys.size()) {
    return Failed<PrefixIntoResult>(InvalidArgument("GetPrefixInto needs one buffer per key"));
  }
  const size_t count = keys.size();
  const auto deadline_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(deadline.count(), 0, std::numeric_limits<uint32_t>::max()));
  std::vector<std::span<std::byte>> targets(buffers.begin(), buffers.end());
  ValuePlacement placement;
  placement.sink = [count,
                    targets](ReplyFrame& frame) -> Result<std::vector<std::span<std::byte>>> {
    KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(frame.metadata, count,
                                                                             frame.payload_length));
    std::vector<std::pair<size_t, uint64_t>> carried;
    for (uint32_t i = 0; i < response.delivered; ++i) {
      carried.emplace_back(i, response.value_lengths[i]);
    }
    return SpansFor(frame, targets, carried);
  };
  return Call<PrefixIntoResult>(
      Opcode::kGetPrefix,
      protocol::EncodeKeysRequest(ns, keys, 0, lease_id, deadline_ms, impl_->bulk()), {},
      [count, targets](const ReplyFrame& frame) -> Result<PrefixIntoResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(
                                                   frame.metadata, count, frame.payload_length));
        PrefixIntoResult result;
        result.stop_reason = response.stop_reason;
        result.stop_code = response.stop_code;
        for (uint32_t i = 0; i < response.delivered; ++i) {
          const uint64_t length = response.value_lengths[i];
          // Never a gap: the prefix ends before a value that is unusable here.
          StatusCode stop = StatusCode::kOk;
          if (length > targets[i].size()) {
            stop = StatusCode::kInvalidArgument;
          } else if (BlockChecksum(targets[i].first(length)) != response.checksums[i]) {
            stop = StatusCode::kCorruption;
          }
          if (stop != StatusCode::kOk) {
            result.stop_reason = protocol::PrefixStop::kError;
            result.stop_code = stop;
            break;
          }
          result.lengths.push_back(length);
          result.tiers.push_back(response.tiers[i]);
        }
        return result;
      },
      Placement{std::move(placement)});
}

Result<PrefixIntoResult> Client::GetPrefixInto(std::string_view ns,
                                               std::span<const std::string> keys,
                                               std::span<const std::span<std::byte>> buffers,
                                               std::chrono::milliseconds deadline,
                                               uint64_t lease_id) {
  CallerWaits here;
  return GetPrefixIntoAsync(ns, keys, buffers, deadline, lease_id).get();
}

Result<GetResult> Client::Get(std::string_view ns, std::span<const std::string> keys,
                              uint64_t lease_id) {
  CallerWaits here;
  return GetAsync(ns, keys, lease_id).get();
}
Result<ExistsResult> Client::Exists(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return ExistsAsync(ns, keys).get();
}
Result<KeyStatuses> Client::Delete(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return DeleteAsync(ns, keys).get();
}
Result<MatchResult> Client::MatchPrefix(std::string_view ns, std::span<const std::string> keys,
                                        uint32_t lease_ms) {
  CallerWaits here;
  return MatchPrefixAsync(ns, keys, lease_ms).get();
}

std::future<Result<PrefixResult>> Client::GetPrefixAsync(std::string_view ns,
                                                         std::span<const std::string> keys,
                                                         std::chrono::milliseconds deadline,
                                                         uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<PrefixResult>(s);
  }
  const size_t count = keys.size();
  const auto deadline_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(deadline.count(), 0, std::numeric_limits<uint32_t>::max()));
  Area area = impl_->ReplyArea(count);
  const protocol::RegionArea offered = impl_->Offer(area);
  return Call<PrefixResult>(
      Opcode::kGetPrefix,
      protocol::EncodeKeysRequest(ns, keys, 0, lease_id, deadline_ms, impl_->bulk(), offered), {},
      [count](const ReplyFrame& frame) -> Result<PrefixResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(
                                                   frame.metadata, count, frame.payload_length));
        PrefixResult result;
        result.payload = frame.payload;
        result.stop_reason = response.stop_reason;
        result.stop_code = response.stop_code;
        uint64_t offset = 0;
        for (uint32_t i = 0; i < response.delivered; ++i) {
          GetValue value;
          value.tier = response.tiers[i];
          value.checksum = response.checksums[i];
          if (!response.kb.empty()) value.kb = response.kb[i];
          value.bytes =
              std::span<const std::byte>(frame.payload.get() + offset, response.value_lengths[i]);
          offset += response.value_lengths[i];
          if (BlockChecksum(value.bytes) != value.checksum) {
            // Never a gap: the prefix ends before the bad block.
            result.stop_reason = protocol::PrefixStop::kError;
            result.stop_code = StatusCode::kCorruption;
            break;
          }
          result.values.push_back(value);
        }
        return result;
      },
      Placement{ValuePlacement{std::move(area)}});
}

Result<PrefixResult> Client::GetPrefix(std::string_view ns, std::span<const std::string> keys,
                                       std::chrono::milliseconds deadline, uint64_t lease_id) {
  CallerWaits here;
  return GetPrefixAsync(ns, keys, deadline, lease_id).get();
}

Result<bool> Client::Release(uint64_t lease_id) {
  CallerWaits here;
  return Call<bool>(Opcode::kRelease, protocol::EncodeReleaseRequest(lease_id), {},
                    [](const ReplyFrame& frame) -> Result<bool> {
                      return protocol::DecodeReleaseResponse(frame.metadata);
                    })
      .get();
}
Result<StatsResult> Client::Stats() {
  CallerWaits here;
  return StatsAsync().get();
}

Status Client::CheckModel(std::string_view ns, const ModelIdentity& identity) const {
  const ServerInfo& info = impl_->info();
  for (size_t i = 0; i < info.namespaces.size(); ++i) {
    if (info.namespaces[i] != ns) continue;
    const std::string& declared = info.namespace_models[i];
    if (declared.empty() || declared == identity.Canonical()) return Status::Ok();
    return InvalidArgument("namespace '" + std::string(ns) + "' holds blocks of " + declared +
                           "; this client is " + identity.Canonical());
  }
  return UnknownNamespace("namespace '" + std::string(ns) + "' is not served by " +
                          info.server_name);
}

std::future<Status> Client::FlushAsync(std::string_view ns, std::span<const std::string> keys) {
  std::promise<Status> promise;
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    promise.set_value(std::move(s));
    return promise.get_future();
  }
  auto reply = Call<bool>(Opcode::kFlush, protocol::EncodeKeysRequest(ns, keys), {},
                          [](const ReplyFrame& frame) -> Result<bool> {
                            KVTIER_RETURN_IF_ERROR(protocol::DecodeFlushResponse(frame.metadata));
                            return true;
                          });
  return std::async(std::launch::deferred,
                    [reply = std::move(reply)]() mutable { return reply.get().status(); });
}

Status Client::Flush(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return FlushAsync(ns, keys).get();
}

template <typename T>
std::future<Result<T>> Client::CallDecoded(
    Opcode opcode, protocol::Metadata metadata,
    std::function<Result<T>(const internal::ReplyFrame&)> decode) {
  return Call<T>(opcode, std::move(metadata), {}, std::move(decode));
}
// The replies client_objects.cc decodes.
template std::future<Result<ObjectPage>> Client::CallDecoded(
    Opcode, protocol::Metadata, std::function<Result<ObjectPage>(const internal::ReplyFrame&)>);
template std::future<Result<ObjectEntry>> Client::CallDecoded(
    Opcode, protocol::Metadata, std::function<Result<ObjectEntry>(const internal::ReplyFrame&)>);
template std::future<Result<RangeBytes>> Client::CallDecoded(
    Opcode, protocol::Metadata, std::function<Result<RangeBytes>(const internal::ReplyFrame&)>);
template std::future<Result<protocol::ObjectWriteResponse>> Client::CallDecoded(
    Opcode, protocol::Metadata,
    std::function<Result<protocol::ObjectWriteResponse>(const internal::ReplyFrame&)>);

Pipeline::Pipeline(Client& client) : client_(client), outer_(t_pipeline) { t_pipeline = this; }

Pipeline::~Pipeline() {
  Run();
  t_pipeline = outer_;
}

void Pipeline::Run(const std::function<void(size_t)>& on_reply) {
  if (held_.empty()) return;
  std::vector<internal::HeldRequest> requests = std::move(held_);
  held_.clear();
  if (client_.impl_->RunHere(requests, on_reply)) return;
  for (internal::HeldRequest& request : requests) {
    // Through the I/O thread, which may complete it after Run returns.
    client_.impl_->Submit(request.opcode, std::move(request.metadata), std::move(request.payload),
                          std::move(request.done), std::move(request.region));
  }
}

size_t Pipeline::held() const { return held_.size(); }

}  // namespace kvtier::client
