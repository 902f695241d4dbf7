// The transport seam above the wire: descriptor validation against what a
// connection registered, shared regions (seals, sizes, bounds), the client's
// region allocator and the RDMA device survey.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "client/client_region.h"
#include "protocol/rdma/rdma_devices.h"
#include "protocol/shared_region.h"
#include "protocol/transport.h"

namespace kvtier::protocol {
namespace {

TEST(RegisteredRegions, AcceptsOnlyRangesInsideARegistrationWithItsKey) {
  RegisteredRegions regions;
  ASSERT_TRUE(regions.Add(0x1000, 0x1000, 7).ok());
  EXPECT_TRUE(regions.Check({0x1000, 0x1000, 7}).ok());
  EXPECT_TRUE(regions.Check({0x1800, 0x10, 7}).ok());
  EXPECT_TRUE(regions.Check({0x2000, 0, 7}).ok());            // empty, at the end
  EXPECT_FALSE(regions.Check({0x1800, 0x1000, 7}).ok());      // runs past the end
  EXPECT_FALSE(regions.Check({0x0800, 0x1000, 7}).ok());      // starts before
  EXPECT_FALSE(regions.Check({0x1000, 0x10, 8}).ok());        // another key
  EXPECT_FALSE(regions.Check({UINT64_MAX - 4, 16, 7}).ok());  // wraps
  EXPECT_EQ(regions.Check({0x3000, 1, 7}).code(), StatusCode::kInvalidArgument);
}

TEST(RegisteredRegions, RefusesEmptyWrappingAndOverlappingRegistrations) {
  RegisteredRegions regions;
  EXPECT_FALSE(regions.Add(0x1000, 0, 1).ok());
  EXPECT_FALSE(regions.Add(UINT64_MAX - 10, 100, 1).ok());
  ASSERT_TRUE(regions.Add(0x1000, 0x1000, 1).ok());
  EXPECT_FALSE(regions.Add(0x1800, 0x1000, 1).ok());  // overlaps under the same key
  EXPECT_TRUE(regions.Add(0x1800, 0x1000, 2).ok());   // another key may
  EXPECT_EQ(regions.size(), 2u);
  EXPECT_TRUE(regions.Remove(0x1000, 1).ok());
  EXPECT_FALSE(regions.Check({0x1000, 1, 1}).ok());
  EXPECT_EQ(regions.Remove(0x1000, 1).code(), StatusCode::kNotFound);
}

TEST(RegisteredRegions, IsBounded) {
  RegisteredRegions regions;
  for (size_t i = 0; i < RegisteredRegions::kMaxRegions; ++i) {
    ASSERT_TRUE(regions.Add(i * 0x1000, 0x1000, 0).ok());
  }
  EXPECT_EQ(regions.Add(1ull << 40, 0x1000, 0).code(), StatusCode::kResourceExhausted);
}

TEST(Transport, CapabilitiesDescribeHowValuesMove) {
  EXPECT_TRUE(CapsOf(TransportKind::kTcp).kernel_copies);
  EXPECT_FALSE(CapsOf(TransportKind::kTcp).one_sided);
  EXPECT_TRUE(CapsOf(TransportKind::kSharedMemory).one_sided);
  EXPECT_TRUE(CapsOf(TransportKind::kRdma).one_sided);
  EXPECT_GT(CapsOf(TransportKind::kRdma).max_sge, 0u);
  EXPECT_EQ(TransportName(TransportKind::kSharedMemory), "shm");
}

TEST(SharedRegion, AttachChecksSealsAndSize) {
  auto created = SharedRegion::Create(1 << 20);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto attached = SharedRegion::Attach(::dup((*created)->fd()), 1 << 20, 1 << 30);
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  // The two mappings share bytes.
  std::memcpy((*created)->data() + 100, "kvtier", 6);
  EXPECT_EQ(std::memcmp((*attached)->data() + 100, "kvtier", 6), 0);

  EXPECT_FALSE(SharedRegion::Attach(::dup((*created)->fd()), 2 << 20, 1 << 30).ok());  // size
  EXPECT_FALSE(SharedRegion::Attach(::dup((*created)->fd()), 1 << 20, 1 << 19).ok());  // max
  const int unsealed = ::memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_EQ(::ftruncate(unsealed, 4096), 0);
  auto refused = SharedRegion::Attach(unsealed, 4096, 1 << 30);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("sealed"), std::string::npos);
}

TEST(SharedMemoryChannel, MovesBytesOnlyInsideTheRegion) {
  auto created = SharedRegion::Create(4096);
  ASSERT_TRUE(created.ok());
  std::byte* client_view = (*created)->data();
  auto attached = SharedRegion::Attach(::dup((*created)->fd()), 4096, 1 << 20);
  ASSERT_TRUE(attached.ok());
  SharedMemoryChannel channel(std::move(*attached));

  std::memcpy(client_view + 10, "abcdef", 6);
  std::array<std::byte, 6> pulled;
  ASSERT_TRUE(channel.Pull({10, 6, 0}, pulled).ok());
  EXPECT_EQ(std::memcmp(pulled.data(), "abcdef", 6), 0);
  EXPECT_FALSE(channel.Pull({4092, 6, 0}, pulled).ok());  // past the end
  EXPECT_FALSE(channel.Pull({10, 5, 0}, pulled).ok());    // length disagrees

  const std::string a = "xyz", b = "12";
  const std::vector<std::span<const std::byte>> pieces = {std::as_bytes(std::span(a)),
                                                          std::as_bytes(std::span(b))};
  ASSERT_TRUE(channel.Push(pieces, {100, 5, 0}).ok());
  EXPECT_EQ(std::memcmp(client_view + 100, "xyz12", 5), 0);
  EXPECT_FALSE(channel.Push(pieces, {100, 4, 0}).ok());     // area too small
  EXPECT_FALSE(channel.Push(pieces, {4094, 100, 0}).ok());  // area past the end
}

TEST(ClientRegion, AllocatesFreesAndCoalesces) {
  auto region = client::ClientRegion::Create(1 << 16);
  ASSERT_TRUE(region.ok());
  auto a = (*region)->Allocate(100);  // rounded to 128
  auto b = (*region)->Allocate(1 << 15);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 128u);
  EXPECT_NE(a->offset(), b->offset());
  EXPECT_EQ((*region)->Allocate(1 << 16), nullptr);  // not while a and b are held
  a.reset();
  b.reset();
  EXPECT_EQ((*region)->free_bytes(), 1u << 16);
  EXPECT_NE((*region)->Allocate(1 << 16), nullptr);  // the free runs merged back into one
  EXPECT_EQ((*region)->Allocate(0), nullptr);
}

TEST(RdmaSurvey, ReportsDevicesOrSaysWhyNone) {
  const rdma::DeviceSurvey survey = rdma::SurveyDevices();
  if (survey.devices.empty()) {
    EXPECT_FALSE(survey.reason.empty());
    std::cout << "no RDMA device here: " << survey.reason << "\n";
  } else {
    EXPECT_TRUE(survey.built_with_verbs);
  }
}

}  // namespace
}  // namespace kvtier::protocol
