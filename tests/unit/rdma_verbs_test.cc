// The verbs layer of the RDMA transport. The queue pair attributes are
// plain structures, checked here without a device. RdmaLoopback runs the
// whole send path on a real device: two queue pairs of this process
// connected to each other, one as the server (no remote access) and one as
// the client (its registered memory open to READ and WRITE), moving bytes
// with PlanTransfers, SendQueue and QueuePair. Without a device it is
// skipped with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <span>
#include <thread>
#include <vector>

#include "protocol/rdma/rdma_devices.h"

#if defined(KVTIER_HAVE_IBVERBS)
#include "protocol/rdma/send_queue.h"
#include "protocol/rdma/transfers.h"
#include "protocol/rdma/verbs.h"
#endif

namespace kvtier::protocol::rdma {
namespace {

#if defined(KVTIER_HAVE_IBVERBS)

RdmaEndpoint Endpoint(uint32_t qp_num, uint32_t psn, uint8_t mtu) {
  RdmaEndpoint endpoint;
  endpoint.qp_num = qp_num;
  endpoint.psn = psn;
  endpoint.lid = 0x21;
  endpoint.mtu = mtu;
  return endpoint;
}

TEST(QueuePairAttributes, OnlyAClientOpensItsMemoryToTheRemoteSide) {
  int mask = 0;
  ibv_qp_attr server = InitAttributes(1, RemoteAccess::kNone, &mask);
  EXPECT_EQ(server.qp_state, IBV_QPS_INIT);
  EXPECT_EQ(server.port_num, 1);
  EXPECT_EQ(server.qp_access_flags, 0u);
  EXPECT_EQ(mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
  ibv_qp_attr client = InitAttributes(2, RemoteAccess::kReadWrite, &mask);
  EXPECT_EQ(client.port_num, 2);
  EXPECT_EQ(client.qp_access_flags,
            static_cast<unsigned>(IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE));
}

TEST(QueuePairAttributes, ReadyToReceiveConnectsToTheRemoteQueuePair) {
  int mask = 0;
  const RdmaEndpoint remote = Endpoint(0x1234, 0x777, IBV_MTU_4096);
  ibv_qp_attr attr = ReadyToReceiveAttributes(remote, IBV_MTU_1024, 1, 3, 8, &mask);
  EXPECT_EQ(attr.qp_state, IBV_QPS_RTR);
  EXPECT_EQ(attr.path_mtu, IBV_MTU_1024) << "the smaller of the two sides' MTUs";
  EXPECT_EQ(attr.dest_qp_num, 0x1234u);
  EXPECT_EQ(attr.rq_psn, 0x777u);
  EXPECT_EQ(attr.max_dest_rd_atomic, 8);
  EXPECT_EQ(attr.ah_attr.dlid, 0x21);
  EXPECT_EQ(attr.ah_attr.port_num, 1);
  EXPECT_EQ(attr.ah_attr.is_global, 0) << "no GID: a local InfiniBand route by LID";
  EXPECT_EQ(mask & (IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN),
            IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN);

  RdmaEndpoint roce = Endpoint(0x99, 1, IBV_MTU_512);
  roce.gid[10] = 0xff;
  roce.gid[11] = 0xff;
  roce.gid[15] = 7;
  attr = ReadyToReceiveAttributes(roce, IBV_MTU_4096, 1, 3, 8, &mask);
  EXPECT_EQ(attr.path_mtu, IBV_MTU_512);
  EXPECT_EQ(attr.ah_attr.is_global, 1) << "a GID: a global route (RoCE)";
  EXPECT_EQ(attr.ah_attr.grh.sgid_index, 3);
  EXPECT_EQ(attr.ah_attr.grh.dgid.raw[15], 7);
  EXPECT_GT(attr.ah_attr.grh.hop_limit, 1);
}

TEST(QueuePairAttributes, ReadyToSendStartsAtTheLocalPsn) {
  int mask = 0;
  ibv_qp_attr attr = ReadyToSendAttributes(0xabcde, 4, &mask);
  EXPECT_EQ(attr.qp_state, IBV_QPS_RTS);
  EXPECT_EQ(attr.sq_psn, 0xabcdeu);
  EXPECT_EQ(attr.max_rd_atomic, 4);
  EXPECT_GT(attr.retry_cnt, 0);
  EXPECT_EQ(mask & (IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC),
            IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

// Posts `transfers` as request `request_id` and polls until the send queue
// reports it finished. False (with a test failure) on any error or after
// many polls with nothing finished.
bool RunTransfers(QueuePair& pair, SendQueue& queue, uint64_t request_id,
                  const std::vector<Transfer>& transfers, const RegisteredRegions& client,
                  const LocalRegions& server) {
  auto planned = PlanTransfers(request_id, transfers, client, server, 4, queue);
  EXPECT_TRUE(planned.ok()) << planned.status().ToString();
  if (!planned.ok()) return false;
  Status posted = pair.Post(*planned);
  EXPECT_TRUE(posted.ok()) << posted.ToString();
  if (!posted.ok()) return false;
  for (int polls = 0; polls < 100000; ++polls) {
    auto completions = pair.Poll(8);
    EXPECT_TRUE(completions.ok());
    if (!completions.ok()) return false;
    for (const WorkCompletion& done : *completions) {
      EXPECT_TRUE(done.status.ok()) << done.status.ToString();
      if (!done.status.ok()) return false;
      auto finished = queue.Complete(done.wr_id);
      EXPECT_TRUE(finished.ok()) << finished.status().ToString();
      for (uint64_t id : *finished) {
        if (id == request_id) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  ADD_FAILURE() << "request " << request_id << " never completed";
  return false;
}

TEST(RdmaLoopback, WriteAndReadMoveTheBytesBetweenTwoQueuePairs) {
  const DeviceSurvey survey = SurveyDevices();
  if (survey.devices.empty()) GTEST_SKIP() << "no RDMA device: " << survey.reason;
  auto device = VerbsDevice::Open("");
  if (!device.ok()) GTEST_SKIP() << "RDMA device unusable: " << device.status().ToString();

  auto server_qp = QueuePair::Create(**device, 16, 4, RemoteAccess::kNone);
  auto client_qp = QueuePair::Create(**device, 16, 4, RemoteAccess::kReadWrite);
  ASSERT_TRUE(server_qp.ok()) << server_qp.status().ToString();
  ASSERT_TRUE(client_qp.ok()) << client_qp.status().ToString();
  ASSERT_TRUE((*server_qp)->Connect((*client_qp)->LocalEndpoint()).ok());
  ASSERT_TRUE((*client_qp)->Connect((*server_qp)->LocalEndpoint()).ok());

  std::vector<std::byte> server_memory(1 << 20);
  std::vector<std::byte> client_memory(1 << 20);
  for (size_t i = 0; i < server_memory.size(); ++i) {
    server_memory[i] = static_cast<std::byte>(i * 7 + 1);
  }
  auto server_mr = MemoryRegistration::Register(**device, server_memory, RemoteAccess::kNone);
  auto client_mr = MemoryRegistration::Register(**device, client_memory, RemoteAccess::kReadWrite);
  ASSERT_TRUE(server_mr.ok()) << server_mr.status().ToString();
  ASSERT_TRUE(client_mr.ok()) << client_mr.status().ToString();
  LocalRegions server;
  ASSERT_TRUE(server
                  .Add(reinterpret_cast<uint64_t>(server_memory.data()), server_memory.size(),
                       (*server_mr)->lkey())
                  .ok());
  RegisteredRegions client;
  ASSERT_TRUE(client
                  .Add(reinterpret_cast<uint64_t>(client_memory.data()), client_memory.size(),
                       (*client_mr)->rkey())
                  .ok());
  SendQueue queue(16, 4);

  // A get: the server WRITEs 256 KiB, gathered from two pieces of its memory.
  const size_t length = 256 << 10;
  Transfer write;
  write.op = Transfer::Op::kWrite;
  write.local = {std::span(server_memory).subspan(0, length / 2),
                 std::span(server_memory).subspan(length, length / 2)};
  write.remote = {reinterpret_cast<uint64_t>(client_memory.data()) + 4096, length,
                  (*client_mr)->rkey()};
  ASSERT_TRUE(RunTransfers(**server_qp, queue, 1, {write}, client, server));
  EXPECT_TRUE(std::equal(client_memory.begin() + 4096, client_memory.begin() + 4096 + length / 2,
                         server_memory.begin()));
  EXPECT_TRUE(std::equal(client_memory.begin() + 4096 + length / 2,
                         client_memory.begin() + 4096 + length, server_memory.begin() + length));

  // A put: the server READs the client's bytes into its memory.
  for (size_t i = 0; i < length; ++i) client_memory[i] = static_cast<std::byte>(i * 13 + 5);
  Transfer read;
  read.op = Transfer::Op::kRead;
  read.local = {std::span(server_memory).subspan(512 << 10, length)};
  read.remote = {reinterpret_cast<uint64_t>(client_memory.data()), length, (*client_mr)->rkey()};
  ASSERT_TRUE(RunTransfers(**server_qp, queue, 2, {read}, client, server));
  EXPECT_TRUE(std::equal(client_memory.begin(), client_memory.begin() + length,
                         server_memory.begin() + (512 << 10)));
  EXPECT_EQ(queue.outstanding(), 0u);
}

#else

TEST(RdmaLoopback, WriteAndReadMoveTheBytesBetweenTwoQueuePairs) {
  GTEST_SKIP() << "built without libibverbs";
}

#endif

}  // namespace
}  // namespace kvtier::protocol::rdma
