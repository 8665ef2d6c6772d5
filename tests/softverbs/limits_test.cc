// Spec tests of softverbs timing and capacity behaviour: RNR retry (finite and infinite, and
// head-of-line blocking within a QP), transport retries when the peer is unreachable (wrong
// LID, PSN mismatch, peer not yet in RTR), CQ overflow, and completion-channel notification.
// Thread-safety: single-threaded tests.
#include <arpa/inet.h>
#include <poll.h>

#include <thread>

#include "pair_fixture.h"

namespace softverbs_test {
namespace {

using LimitsTest = PairTest;

TEST_F(LimitsTest, RnrRetryExceededWithoutReceive) {
  ConnectOptions options;
  options.rnr_retry = 2;
  options.min_rnr_timer = 1;
  Rebuild(16, options);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RNR_RETRY_EXC_ERR, wc.status);
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.a));
  EXPECT_EQ(0, dst_[0]) << "an RNR-NAKed write-with-imm leaves no data";
}

TEST_F(LimitsTest, SendWithoutReceiveIsRnr) {
  ConnectOptions options;
  options.rnr_retry = 0;
  Rebuild(16, options);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_SEND, 0, 0);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RNR_RETRY_EXC_ERR, wc.status);
}

TEST_F(LimitsTest, InfiniteRnrRetryWaitsForReceiveAndKeepsOrder) {
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr first = WriteWr(1, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, DstAddr(0), dst_mr_->rkey);
  ibv_sge sge2 = SrcSge(8, 8);
  ibv_send_wr second = WriteWr(2, &sge2, IBV_WR_RDMA_WRITE, DstAddr(8), dst_mr_->rkey);
  first.next = &second;
  Post(&first);
  ibv_wc wc[2];
  EXPECT_EQ(0, PollFor(pair_.cq_a, wc, 2, 30)) << "blocked on RNR, and so is the next WQE";
  EXPECT_EQ(0, dst_[8]);
  PostRecvOnB(5, nullptr, 0);
  ASSERT_EQ(2, PollUntil(pair_.cq_a, 2, wc));
  EXPECT_EQ(1u, wc[0].wr_id);
  EXPECT_EQ(2u, wc[1].wr_id);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[1].status);
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, wc));
  EXPECT_EQ(IBV_WC_RECV_RDMA_WITH_IMM, wc[0].opcode);
}

TEST_F(LimitsTest, WrongDlidIsRetryExceeded) {
  ibv_qp_attr attr;
  ibv_qp_init_attr init;
  ASSERT_EQ(0, ibv_query_qp(pair_.a, &attr, IBV_QP_AV, &init));
  ASSERT_EQ(0, ibv_destroy_qp(pair_.a));
  pair_.a = CreateRcQp(pair_.device, pair_.cq_a);
  Endpoint eb = EndpointOf(pair_.device, pair_.b, 200);
  eb.lid = uint16_t(eb.lid + 1);
  ASSERT_EQ(0, Connect(pair_.a, 100, eb));
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RETRY_EXC_ERR, wc.status);
}

TEST_F(LimitsTest, PsnMismatchIsRetryExceeded) {
  ASSERT_EQ(0, ibv_destroy_qp(pair_.a));
  pair_.a = CreateRcQp(pair_.device, pair_.cq_a);
  ASSERT_EQ(0, Connect(pair_.a, 101, EndpointOf(pair_.device, pair_.b, 200)));  // b expects 100
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RETRY_EXC_ERR, wc.status);
}

TEST_F(LimitsTest, PeerReachingRtrWithinTheTimeoutSucceeds) {
  ConnectOptions slow;
  slow.timeout = 14;  // 67 ms per try, 8 tries
  slow.retry_cnt = 7;
  ASSERT_EQ(0, ibv_destroy_qp(pair_.a));
  ASSERT_EQ(0, ibv_destroy_qp(pair_.b));
  pair_.a = CreateRcQp(pair_.device, pair_.cq_a);
  pair_.b = CreateRcQp(pair_.device, pair_.cq_b);
  Endpoint ea = EndpointOf(pair_.device, pair_.a, 100);
  Endpoint eb = EndpointOf(pair_.device, pair_.b, 200);
  ASSERT_EQ(0, Connect(pair_.a, 100, eb, slow));
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  EXPECT_EQ(0, PollFor(pair_.cq_a, &wc, 1, 20));
  ASSERT_EQ(0, ModifyToInit(pair_.b, kRw));
  ASSERT_EQ(0, ModifyToRtr(pair_.b, ea, 1));
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
}

TEST_F(LimitsTest, CqOverflowIsReportedNotHidden) {
  Rebuild(16, ConnectOptions(), /*cqe=*/2);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wrs[3];
  for (int i = 0; i < 3; ++i) {
    wrs[i] = WriteWr(uint64_t(i), &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
    if (i > 0) wrs[i - 1].next = &wrs[i];
  }
  Post(&wrs[0]);
  ibv_async_event event;
  pollfd pfd{pair_.device.ctx->async_fd, POLLIN, 0};
  ASSERT_EQ(1, poll(&pfd, 1, 5000));
  ASSERT_EQ(0, ibv_get_async_event(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_CQ_ERR, event.event_type);
  EXPECT_EQ(pair_.cq_a, event.element.cq);
  ibv_ack_async_event(&event);
  ASSERT_EQ(1, poll(&pfd, 1, 5000));
  ASSERT_EQ(0, ibv_get_async_event(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_QP_FATAL, event.event_type) << "the QP that lost a completion fails";
  EXPECT_EQ(pair_.a, event.element.qp);
  ibv_ack_async_event(&event);
  ibv_wc wc[4];
  EXPECT_LT(ibv_poll_cq(pair_.cq_a, 4, wc), 0);
}

TEST_F(LimitsTest, CompletionChannelNotifiesArmedCq) {
  ibv_comp_channel* channel = ibv_create_comp_channel(pair_.device.ctx);
  ASSERT_NE(nullptr, channel);
  ibv_cq* cq = ibv_create_cq(pair_.device.ctx, 8, this, channel, 0);
  ASSERT_NE(nullptr, cq);
  EXPECT_EQ(EBUSY, ibv_destroy_comp_channel(channel));
  ASSERT_EQ(0, ibv_req_notify_cq(cq, 0));
  ibv_qp* qp = CreateRcQp(pair_.device, cq);
  ASSERT_EQ(0, ModifyToInit(qp, kRw));
  ASSERT_EQ(0, ModifyToRtr(qp, EndpointOf(pair_.device, qp, 1), 1));  // loop onto itself
  ASSERT_EQ(0, ModifyToRts(qp, 1, 7, 8, 3));
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(0, ibv_post_send(qp, &wr, &bad));
  pollfd pfd{channel->fd, POLLIN, 0};
  ASSERT_EQ(1, poll(&pfd, 1, 5000));
  ibv_cq* got = nullptr;
  void* context = nullptr;
  ASSERT_EQ(0, ibv_get_cq_event(channel, &got, &context));
  EXPECT_EQ(cq, got);
  EXPECT_EQ(this, context);
  ibv_ack_cq_events(got, 1);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(cq, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  ASSERT_EQ(0, ibv_destroy_qp(qp));
  ASSERT_EQ(0, ibv_destroy_cq(cq));
  ASSERT_EQ(0, ibv_destroy_comp_channel(channel));
}

}  // namespace
}  // namespace softverbs_test
