// Spec tests of softverbs fault injection and seeded scheduling, all driven by the environment:
// SOFTVERBS_FAULT_QP_ERR_AFTER, SOFTVERBS_PORT_DOWN, SOFTVERBS_FAULT_REG_MR_ENOMEM/_AFTER,
// SOFTVERBS_FAULT_REM_ACCESS_AFTER, SOFTVERBS_FAULT_RNR_AFTER and SOFTVERBS_SEED (reordering
// across QPs, never within one).
// Thread-safety: single-threaded tests.
#include <poll.h>
#include <stdlib.h>

#include <map>
#include <vector>

#include "pair_fixture.h"

namespace softverbs_test {
namespace {

using FaultsTest = PairTest;

TEST_F(FaultsTest, QpGoesToErrAfterNWorkRequests) {
  setenv("SOFTVERBS_FAULT_QP_ERR_AFTER", "3", 1);
  Rebuild(16);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wrs[5];
  for (int i = 0; i < 5; ++i) {
    wrs[i] = WriteWr(uint64_t(i), &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
    if (i > 0) wrs[i - 1].next = &wrs[i];
  }
  Post(&wrs[0]);
  ibv_wc wc[5];
  ASSERT_EQ(5, PollUntil(pair_.cq_a, 5, wc));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(IBV_WC_SUCCESS, wc[i].status) << i;
  EXPECT_EQ(IBV_WC_RETRY_EXC_ERR, wc[3].status);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc[4].status);
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.a));
  pollfd pfd{pair_.device.ctx->async_fd, POLLIN, 0};
  ASSERT_EQ(1, poll(&pfd, 1, 5000));
  ibv_async_event event;
  ASSERT_EQ(0, ibv_get_async_event(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_QP_FATAL, event.event_type);
  EXPECT_EQ(pair_.a, event.element.qp);
}

TEST_F(FaultsTest, PortDown) {
  setenv("SOFTVERBS_PORT_DOWN", "1", 1);
  Rebuild(16);
  ibv_port_attr port;
  ASSERT_EQ(0, ibv_query_port(pair_.device.ctx, 1, &port));
  EXPECT_EQ(IBV_PORT_DOWN, port.state);
  ibv_async_event event;
  ASSERT_EQ(0, ibv_get_async_event(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_PORT_ERR, event.event_type);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RETRY_EXC_ERR, wc.status);
}

TEST_F(FaultsTest, RegMrEnomem) {
  setenv("SOFTVERBS_FAULT_REG_MR_ENOMEM", "1", 1);
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  char buf[64];
  EXPECT_EQ(nullptr, ibv_reg_mr(device.pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE));
  EXPECT_EQ(ENOMEM, errno);
  CloseDevice(&device);
}

TEST_F(FaultsTest, RegMrEnomemAfterN) {
  setenv("SOFTVERBS_FAULT_REG_MR_AFTER", "2", 1);
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  char buf[64];
  ibv_mr* first = ibv_reg_mr(device.pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
  ibv_mr* second = ibv_reg_mr(device.pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
  EXPECT_NE(nullptr, first);
  EXPECT_NE(nullptr, second);
  EXPECT_EQ(nullptr, ibv_reg_mr(device.pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE));
  EXPECT_EQ(ENOMEM, errno);
  EXPECT_EQ(0, ibv_dereg_mr(first));
  EXPECT_EQ(0, ibv_dereg_mr(second));
  CloseDevice(&device);
}

// Reads one asynchronous event of `ctx`, waiting up to 5 s; false if none came.
bool NextAsyncEvent(ibv_context* ctx, ibv_async_event* event) {
  pollfd pfd{ctx->async_fd, POLLIN, 0};
  if (poll(&pfd, 1, 5000) != 1 || ibv_get_async_event(ctx, event) != 0) return false;
  ibv_ack_async_event(event);
  return true;
}

TEST_F(FaultsTest, RemoteAccessErrorAfterNWrites) {
  setenv("SOFTVERBS_FAULT_REM_ACCESS_AFTER", "2", 1);
  Rebuild(16);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wrs[4];
  for (int i = 0; i < 4; ++i) {
    wrs[i] = WriteWr(uint64_t(i), &sge, IBV_WR_RDMA_WRITE, DstAddr(8 * i), dst_mr_->rkey);
    if (i > 0) wrs[i - 1].next = &wrs[i];
  }
  Post(&wrs[0]);
  ibv_wc wc[4];
  ASSERT_EQ(4, PollUntil(pair_.cq_a, 4, wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[1].status);
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc[2].status) << "the third write is refused";
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc[3].status);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data(), 8));
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data() + 8, 8));
  EXPECT_EQ(std::vector<char>(16, 0), std::vector<char>(dst_.begin() + 16, dst_.begin() + 32));
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.a));
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.b));
  ibv_async_event event;
  ASSERT_TRUE(NextAsyncEvent(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_QP_ACCESS_ERR, event.event_type);
  EXPECT_EQ(pair_.b, event.element.qp);
}

TEST_F(FaultsTest, RemoteAccessErrorAtZeroSparesSendAndRead) {
  setenv("SOFTVERBS_FAULT_REM_ACCESS_AFTER", "0", 1);
  Rebuild(16);
  PostRecvOnB(10, nullptr, 0);
  PostRecvOnB(11, nullptr, 0);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wrs[3] = {WriteWr(0, nullptr, IBV_WR_SEND, 0, 0),
                        WriteWr(1, &sge, IBV_WR_RDMA_READ, DstAddr(0), dst_mr_->rkey),
                        WriteWr(2, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, DstAddr(0), dst_mr_->rkey)};
  wrs[0].next = &wrs[1];
  wrs[1].next = &wrs[2];
  Post(&wrs[0]);
  ibv_wc wc[3];
  ASSERT_EQ(3, PollUntil(pair_.cq_a, 3, wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status) << "a SEND is no RDMA write";
  EXPECT_EQ(IBV_WC_SUCCESS, wc[1].status) << "an RDMA READ is no RDMA write";
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc[2].status) << "the very first write is refused";
  ASSERT_EQ(2, PollUntil(pair_.cq_b, 2, wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(10u, wc[0].wr_id);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc[1].status) << "the responder's receives flush";
  EXPECT_EQ(11u, wc[1].wr_id);
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.b));
}

TEST_F(FaultsTest, RnrAfterNReceives) {
  setenv("SOFTVERBS_FAULT_RNR_AFTER", "2", 1);
  ConnectOptions options;
  options.rnr_retry = 3;
  Rebuild(16, options);
  for (int i = 0; i < 4; ++i) PostRecvOnB(uint64_t(10 + i), nullptr, 0);
  ibv_send_wr wrs[3];
  for (int i = 0; i < 3; ++i) {
    wrs[i] = WriteWr(uint64_t(i), nullptr, IBV_WR_SEND, 0, 0);
    if (i > 0) wrs[i - 1].next = &wrs[i];
  }
  Post(&wrs[0]);
  ibv_wc wc[3];
  ASSERT_EQ(3, PollUntil(pair_.cq_a, 3, wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[1].status);
  EXPECT_EQ(IBV_WC_RNR_RETRY_EXC_ERR, wc[2].status) << "two receives are still posted";
  ASSERT_EQ(2, PollUntil(pair_.cq_b, 2, wc));
  EXPECT_EQ(10u, wc[0].wr_id);
  EXPECT_EQ(11u, wc[1].wr_id);
  EXPECT_EQ(0, PollFor(pair_.cq_b, wc, 1, 20)) << "withheld receives are neither used nor flushed";
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.a));
  EXPECT_EQ(IBV_QPS_RTS, StateOf(pair_.b)) << "RNR exhaustion fails the requester only";
}

TEST_F(FaultsTest, RnrAtZeroHitsWriteWithImmNotPlainWrite) {
  setenv("SOFTVERBS_FAULT_RNR_AFTER", "0", 1);
  ConnectOptions options;
  options.rnr_retry = 0;
  Rebuild(16, options);
  PostRecvOnB(10, nullptr, 0);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wrs[2] = {WriteWr(0, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey),
                        WriteWr(1, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, DstAddr(8), dst_mr_->rkey)};
  wrs[0].next = &wrs[1];
  Post(&wrs[0]);
  ibv_wc wc[2];
  ASSERT_EQ(2, PollUntil(pair_.cq_a, 2, wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status) << "a plain write consumes no receive";
  EXPECT_EQ(IBV_WC_RNR_RETRY_EXC_ERR, wc[1].status);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data(), 8));
  EXPECT_EQ(std::vector<char>(8, 0), std::vector<char>(dst_.begin() + 8, dst_.begin() + 16))
      << "an RNR-NAKed write moves no data";
  EXPECT_EQ(0, PollFor(pair_.cq_b, wc, 1, 20));
}

TEST_F(FaultsTest, RnrWithInfiniteRetryKeepsWaiting) {
  setenv("SOFTVERBS_FAULT_RNR_AFTER", "0", 1);
  Rebuild(16);  // rnr_retry 7: forever
  PostRecvOnB(10, nullptr, 0);
  ibv_send_wr wr = WriteWr(0, nullptr, IBV_WR_SEND, 0, 0);
  Post(&wr);
  ibv_wc wc;
  EXPECT_EQ(0, PollFor(pair_.cq_a, &wc, 1, 100));
  EXPECT_EQ(IBV_QPS_RTS, StateOf(pair_.a));
}

// Posts kPerQp writes on each of kQps QPs sharing one CQ, QP after QP; returns the qp_num of
// each completion in arrival order and checks per-QP order.
std::vector<uint32_t> CompletionOrder(const Device& device, std::vector<char>& buf) {
  constexpr int kQps = 4, kPerQp = 16;
  std::vector<uint32_t> order;
  ibv_cq* cq = ibv_create_cq(device.ctx, kQps * kPerQp * 2, nullptr, nullptr, 0);
  ibv_mr* mr = ibv_reg_mr(device.pd, buf.data(), buf.size(), kRw);
  std::vector<ibv_qp*> qps;
  for (int i = 0; i < kQps; ++i) {
    ibv_qp* qp = CreateRcQp(device, cq, kPerQp);
    EXPECT_EQ(0, Connect(qp, 5, EndpointOf(device, qp, 5)));  // each QP loops onto itself
    qps.push_back(qp);
  }
  for (ibv_qp* qp : qps) {
    for (int j = 0; j < kPerQp; ++j) {
      ibv_sge sge{uint64_t(uintptr_t(buf.data())), 8, mr->lkey};
      ibv_send_wr wr = WriteWr(uint64_t(j), &sge, IBV_WR_RDMA_WRITE,
                               uint64_t(uintptr_t(buf.data() + 64)), mr->rkey);
      ibv_send_wr* bad = nullptr;
      EXPECT_EQ(0, ibv_post_send(qp, &wr, &bad));
    }
  }
  std::vector<ibv_wc> wc(kQps * kPerQp);
  EXPECT_EQ(kQps * kPerQp, PollUntil(cq, kQps * kPerQp, wc.data()));
  std::map<uint32_t, uint64_t> next;
  for (const ibv_wc& c : wc) {
    EXPECT_EQ(IBV_WC_SUCCESS, c.status);
    EXPECT_EQ(next[c.qp_num]++, c.wr_id) << "order within a QP is never changed";
    order.push_back(c.qp_num);
  }
  for (ibv_qp* qp : qps) EXPECT_EQ(0, ibv_destroy_qp(qp));
  EXPECT_EQ(0, ibv_dereg_mr(mr));
  EXPECT_EQ(0, ibv_destroy_cq(cq));
  return order;
}

TEST_F(FaultsTest, SeededModeReordersAcrossQpsOnly) {
  Teardown();
  setenv("SOFTVERBS_SEED", "12345", 1);
  setenv("SOFTVERBS_MAX_DELAY_US", "3000", 1);
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  std::vector<uint32_t> order = CompletionOrder(device, src_);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()))
      << "QPs posted one after the other should interleave under random delays";
  CloseDevice(&device);
}

TEST_F(FaultsTest, UnseededModeRunsQpsInPostingOrder) {
  Teardown();
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  CompletionOrder(device, src_);
  CloseDevice(&device);
}

}  // namespace
}  // namespace softverbs_test
