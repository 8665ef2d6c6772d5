// Spec tests of softverbs fault injection and seeded scheduling, all driven by the environment:
// SOFTVERBS_FAULT_QP_ERR_AFTER, SOFTVERBS_PORT_DOWN, SOFTVERBS_FAULT_REG_MR_ENOMEM/_AFTER and
// SOFTVERBS_SEED (reordering across QPs, never within one).
// Thread-safety: single-threaded tests.
#include <poll.h>
#include <stdlib.h>

#include <map>

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
