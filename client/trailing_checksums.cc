#include "client/trailing_checksums.h"

#include <algorithm>

namespace kvtier::client {

TrailingChecksums::TrailingChecksums(std::span<const std::span<const std::byte>> values)
    : values_(values), trailer_(values.size() * 8) {}

std::span<const std::span<const std::byte>> TrailingChecksums::Next() {
  group_.clear();
  uint64_t bytes = 0;
  while (index_ < values_.size() && bytes < kGroupBytes && group_.size() < kMaxGroupPieces) {
    const std::span<const std::byte> value = values_[index_];
    const uint64_t take = std::min<uint64_t>(value.size() - offset_, kGroupBytes - bytes);
    const std::span<const std::byte> piece = value.subspan(offset_, take);
    const bool whole = offset_ == 0 && take == value.size();
    if (!whole) {
      if (!partial_) partial_.emplace();
      partial_->Update(piece);
    }
    if (!piece.empty()) group_.push_back(piece);
    offset_ += take;
    bytes += take;
    if (offset_ < value.size()) break;  // the group is full
    uint64_t checksum = whole ? BlockChecksum(value) : partial_->Digest();
    if (!whole) partial_->Reset();
    for (size_t b = 0; b < 8; ++b, checksum >>= 8) {
      trailer_[index_ * 8 + b] = static_cast<std::byte>(checksum & 0xff);
    }
    ++index_;
    offset_ = 0;
  }
  // The trailer rides with the last values when there is room.
  if (index_ == values_.size() && !trailer_given_ && group_.size() < kMaxGroupPieces) {
    trailer_given_ = true;
    if (!trailer_.empty()) group_.push_back(trailer_);
  }
  return group_;
}

}  // namespace kvtier::client
