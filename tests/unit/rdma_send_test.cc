// The RDMA send path above verbs: the bounded send queue with selective
// signalling, registration bookkeeping of server memory, the checks every
// client descriptor passes before a work request is admitted, and the
// ibv_send_wr chain handed to the device. None of it needs a device.

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "protocol/rdma/send_queue.h"
#include "protocol/rdma/transfers.h"
#include "protocol/rdma/verbs_chain.h"

namespace kvtier::protocol::rdma {
namespace {

TEST(SendQueue, SignalsTheLastWorkRequestOfEachRequestAndEveryNth) {
  SendQueue queue(/*depth=*/16, /*signal_every=*/4);
  auto a = queue.Admit(1, 6);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->signalled, (std::vector<bool>{false, false, false, true, false, true}));
  auto b = queue.Admit(2, 3);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->signalled, (std::vector<bool>{false, false, true}));
  auto c = queue.Admit(3, 5);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->signalled, (std::vector<bool>{false, false, false, true, true}));
  EXPECT_EQ(b->first_wr_id, a->first_wr_id + 6);
  EXPECT_EQ(c->first_wr_id, b->first_wr_id + 3);
  EXPECT_EQ(queue.outstanding(), 14u);
}

TEST(SendQueue, AdmitsWholeRequestsWithinItsDepth) {
  SendQueue queue(/*depth=*/8, /*signal_every=*/8);
  ASSERT_TRUE(queue.Admit(1, 5).ok());
  auto full = queue.Admit(2, 4);
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(full.status().retryable());
  EXPECT_EQ(queue.outstanding(), 5u);  // nothing of request 2 was taken
  ASSERT_TRUE(queue.Admit(3, 3).ok());
  EXPECT_EQ(queue.free_slots(), 0u);
  EXPECT_EQ(queue.Admit(4, 9).status().code(), StatusCode::kInvalidArgument);  // never fits
  EXPECT_EQ(queue.Admit(5, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(SendQueue, ASignalledCompletionRetiresEverythingPostedBeforeIt) {
  SendQueue queue(/*depth=*/8, /*signal_every=*/8);
  auto a = queue.Admit(1, 2);  // unsignalled, signalled
  auto b = queue.Admit(2, 3);  // unsignalled x2, signalled
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(queue.Complete(b->first_wr_id).status().code(), StatusCode::kInvalidArgument)
      << "an unsignalled work request never completes on its own";
  EXPECT_EQ(queue.Complete(999).status().code(), StatusCode::kInvalidArgument);

  auto first = queue.Complete(a->first_wr_id + 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, (std::vector<uint64_t>{1}));
  EXPECT_EQ(queue.outstanding(), 3u);
  auto c = queue.Admit(3, 1);
  ASSERT_TRUE(c.ok());
  // Request 3's completion also retires request 2, posted before it.
  auto both = queue.Complete(c->first_wr_id);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(queue.outstanding(), 0u);
  EXPECT_EQ(queue.Complete(c->first_wr_id).status().code(), StatusCode::kInvalidArgument);
}

TEST(SendQueue, AFailureFailsEveryOutstandingRequestOnceAndClosesTheQueue) {
  SendQueue queue(/*depth=*/8, /*signal_every=*/2);
  auto a = queue.Admit(1, 3);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(queue.Admit(2, 1).ok());
  auto done = queue.Complete(a->first_wr_id + 2);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, (std::vector<uint64_t>{1}));
  ASSERT_TRUE(queue.Admit(3, 2).ok());
  EXPECT_EQ(queue.Fail(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(queue.outstanding(), 0u);
  EXPECT_TRUE(queue.failed());
  EXPECT_EQ(queue.Admit(4, 1).status().code(), StatusCode::kUnavailable);
}

TEST(LocalRegions, FindTheKeyOfTheRegionHoldingABlock) {
  std::vector<std::byte> arena(1 << 20);
  std::vector<std::byte> other(4096);
  LocalRegions regions;
  const uint64_t base = reinterpret_cast<uint64_t>(arena.data());
  ASSERT_TRUE(regions.Add(base, arena.size(), 3).ok());
  EXPECT_EQ(regions.Add(base + 4096, 4096, 4).code(), StatusCode::kInvalidArgument);  // overlap
  EXPECT_EQ(regions.Add(base - 100, 200, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(regions.Add(0, 0, 4).code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(*regions.KeyFor(std::span(arena).subspan(8192, 65536)), 3u);
  EXPECT_EQ(*regions.KeyFor(std::span(arena).last(1)), 3u);
  EXPECT_EQ(regions.KeyFor(std::span(other)).status().code(), StatusCode::kNotFound);
  // A block running past the region's end is not in registered memory.
  const std::span<const std::byte> past(arena.data() + arena.size() - 10, 20);
  EXPECT_EQ(regions.KeyFor(past).status().code(), StatusCode::kNotFound);
}

class PlanTransfersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(client_.Add(kClientBase, 1 << 20, kRkey).ok());
    ASSERT_TRUE(local_.Add(reinterpret_cast<uint64_t>(blocks_.data()), blocks_.size(), kLkey).ok());
  }

  // A get value of two pieces written into the client's buffer at `offset`.
  Transfer Write(size_t first, size_t second, uint64_t offset) {
    Transfer t;
    t.op = Transfer::Op::kWrite;
    t.local = {std::span(blocks_).subspan(0, first), std::span(blocks_).subspan(first, second)};
    t.remote = {kClientBase + offset, first + second, kRkey};
    return t;
  }

  static constexpr uint64_t kClientBase = 0x7f0000000000;
  static constexpr uint32_t kRkey = 0x1234;
  static constexpr uint32_t kLkey = 0x55;
  std::vector<std::byte> blocks_ = std::vector<std::byte>(1 << 20);
  RegisteredRegions client_;
  LocalRegions local_;
  SendQueue queue_{/*depth=*/4, /*signal_every=*/4};
};

TEST_F(PlanTransfersTest, AdmitsCheckedTransfersAsOneWorkRequestEach) {
  const std::vector<Transfer> transfers = {Write(1000, 3000, 0), Write(4096, 4096, 65536)};
  auto planned = PlanTransfers(7, transfers, client_, local_, /*max_sge=*/4, queue_);
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  ASSERT_EQ(planned->size(), 2u);
  const PlannedWorkRequest& second = (*planned)[1];
  EXPECT_EQ(second.wr_id, (*planned)[0].wr_id + 1);
  EXPECT_FALSE((*planned)[0].signalled);
  EXPECT_TRUE(second.signalled);
  EXPECT_EQ(second.remote_address, kClientBase + 65536);
  EXPECT_EQ(second.rkey, kRkey);
  ASSERT_EQ(second.sges.size(), 2u);
  EXPECT_EQ(second.sges[1].address, reinterpret_cast<uint64_t>(blocks_.data() + 4096));
  EXPECT_EQ(second.sges[1].length, 4096u);
  EXPECT_EQ(second.sges[1].lkey, kLkey);
  EXPECT_EQ(queue_.outstanding(), 2u);
  auto done = queue_.Complete(second.wr_id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, (std::vector<uint64_t>{7}));
}

TEST_F(PlanTransfersTest, RefusesBadDescriptorsBeforeAdmittingAnything) {
  const Transfer good = Write(100, 100, 0);
  auto refuse = [&](Transfer bad, StatusCode code) {
    const std::vector<Transfer> transfers = {good, bad};
    auto planned = PlanTransfers(1, transfers, client_, local_, /*max_sge=*/2, queue_);
    EXPECT_EQ(planned.status().code(), code) << planned.status().ToString();
    EXPECT_EQ(queue_.outstanding(), 0u) << "nothing admitted";
  };
  Transfer outside = Write(100, 100, (1 << 20) - 50);  // runs past the client's registration
  refuse(outside, StatusCode::kInvalidArgument);
  Transfer wrong_key = Write(100, 100, 0);
  wrong_key.remote.key = kRkey + 1;
  refuse(wrong_key, StatusCode::kInvalidArgument);
  Transfer short_buffer = Write(100, 100, 0);
  short_buffer.remote.length = 150;
  refuse(short_buffer, StatusCode::kInvalidArgument);
  Transfer too_many_pieces = Write(100, 100, 0);
  too_many_pieces.local.push_back(std::span(blocks_).subspan(500, 10));
  refuse(too_many_pieces, StatusCode::kInvalidArgument);
  Transfer no_pieces = Write(100, 100, 0);
  no_pieces.local.clear();
  refuse(no_pieces, StatusCode::kInvalidArgument);
  std::vector<std::byte> unregistered(200);
  Transfer from_elsewhere = Write(100, 100, 0);
  from_elsewhere.local = {std::span(unregistered)};
  refuse(from_elsewhere, StatusCode::kNotFound);

  // A queue with no room: retryable, and nothing taken.
  ASSERT_TRUE(queue_.Admit(99, 3).ok());
  const std::vector<Transfer> two = {good, good};
  EXPECT_EQ(PlanTransfers(2, two, client_, local_, 2, queue_).status().code(),
            StatusCode::kResourceExhausted);
  const std::vector<Transfer> five(5, good);
  EXPECT_EQ(PlanTransfers(3, five, client_, local_, 2, queue_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_.outstanding(), 3u);
}

#if defined(KVTIER_HAVE_IBVERBS)
TEST(GatherIntoArea, PlacesPiecesBackToBackWithAtMostMaxSgePerWrite) {
  std::vector<std::byte> memory(100);
  const std::vector<std::span<std::byte>> pieces = {
      std::span(memory).subspan(0, 10), std::span(memory).subspan(10, 0),
      std::span(memory).subspan(20, 30), std::span(memory).subspan(50, 5),
      std::span(memory).subspan(60, 40)};
  auto transfers = GatherIntoArea(pieces, BufferRef{1000, 90, 9}, /*max_sge=*/2);
  ASSERT_TRUE(transfers.ok()) << transfers.status().ToString();
  ASSERT_EQ(transfers->size(), 2u);  // the empty piece moves nothing
  EXPECT_EQ((*transfers)[0].op, Transfer::Op::kWrite);
  EXPECT_EQ((*transfers)[0].local.size(), 2u);
  EXPECT_EQ((*transfers)[0].remote.address, 1000u);
  EXPECT_EQ((*transfers)[0].remote.length, 40u);
  EXPECT_EQ((*transfers)[1].remote.address, 1040u);
  EXPECT_EQ((*transfers)[1].remote.length, 45u);
  EXPECT_EQ((*transfers)[1].remote.key, 9u);
  EXPECT_EQ(GatherIntoArea(pieces, BufferRef{1000, 84, 9}, 2).status().code(),
            StatusCode::kInvalidArgument);
  auto none = GatherIntoArea({}, BufferRef{1000, 0, 9}, 2);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ScatterFromClient, OneReadPerValueFromItsAddress) {
  std::vector<std::byte> memory(64);
  const std::vector<std::span<std::byte>> targets = {std::span(memory).subspan(0, 16),
                                                     std::span(memory).subspan(16, 0),
                                                     std::span(memory).subspan(16, 48)};
  const std::vector<uint64_t> addresses = {5000, 6000, 7000};
  auto transfers = ScatterFromClient(targets, addresses, 3);
  ASSERT_TRUE(transfers.ok());
  ASSERT_EQ(transfers->size(), 2u);
  EXPECT_EQ((*transfers)[1].op, Transfer::Op::kRead);
  EXPECT_EQ((*transfers)[1].remote.address, 7000u);
  EXPECT_EQ((*transfers)[1].remote.length, 48u);
  EXPECT_EQ((*transfers)[1].local[0].data(), memory.data() + 16);
  EXPECT_FALSE(ScatterFromClient(targets, std::span(addresses).first(2), 3).ok());
}

TEST_F(PlanTransfersTest, TheIbvChainCarriesEveryPlannedField) {
  std::vector<Transfer> transfers = {Write(1000, 3000, 0), Write(64, 64, 8192)};
  transfers[1].op = Transfer::Op::kRead;
  auto planned = PlanTransfers(7, transfers, client_, local_, /*max_sge=*/4, queue_);
  ASSERT_TRUE(planned.ok());
  IbvChain chain(*planned);
  const std::vector<ibv_send_wr>& wrs = chain.work_requests();
  ASSERT_EQ(wrs.size(), 2u);
  EXPECT_EQ(chain.head(), &chain.work_requests()[0]);
  EXPECT_EQ(wrs[0].next, &wrs[1]);
  EXPECT_EQ(wrs[1].next, nullptr);
  EXPECT_EQ(wrs[0].opcode, IBV_WR_RDMA_WRITE);
  EXPECT_EQ(wrs[1].opcode, IBV_WR_RDMA_READ);
  EXPECT_EQ(wrs[0].send_flags, 0u);
  EXPECT_EQ(wrs[1].send_flags, static_cast<unsigned>(IBV_SEND_SIGNALED));
  EXPECT_EQ(wrs[1].wr_id, (*planned)[1].wr_id);
  EXPECT_EQ(wrs[1].wr.rdma.remote_addr, kClientBase + 8192);
  EXPECT_EQ(wrs[1].wr.rdma.rkey, kRkey);
  ASSERT_EQ(wrs[0].num_sge, 2);
  EXPECT_EQ(wrs[0].sg_list[1].addr, reinterpret_cast<uint64_t>(blocks_.data() + 1000));
  EXPECT_EQ(wrs[0].sg_list[1].length, 3000u);
  EXPECT_EQ(wrs[0].sg_list[1].lkey, kLkey);
  EXPECT_EQ(wrs[1].sg_list, wrs[0].sg_list + 2);
  IbvChain empty{std::span<const PlannedWorkRequest>()};
  EXPECT_EQ(empty.head(), nullptr);
}
#endif

}  // namespace
}  // namespace kvtier::protocol::rdma
