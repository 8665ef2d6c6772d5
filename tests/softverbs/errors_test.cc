// Spec tests of softverbs strictness: local and remote protection errors (bad keys, swapped
// lkey/rkey, bounds, access flags, deregistered memory), error completions even when
// unsignalled, flushing after an error, the responder going to ERR, receive-too-small,
// and registration argument checks. RNR, transport and CQ limits are in limits_test.cc.
// Thread-safety: single-threaded tests.
#include <sys/mman.h>

#include "pair_fixture.h"

namespace softverbs_test {
namespace {

using ErrorsTest = PairTest;

TEST_F(ErrorsTest, BadLkeyIsLocProtErrThenFlush) {
  ibv_sge bad_sge = SrcSge(0, 8);
  bad_sge.lkey ^= 0x40;
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr first = WriteWr(1, &bad_sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  ibv_send_wr second = WriteWr(2, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  first.next = &second;
  Post(&first);
  ibv_wc wc[2];
  ASSERT_EQ(2, PollUntil(pair_.cq_a, 2, wc));
  EXPECT_EQ(1u, wc[0].wr_id);
  EXPECT_EQ(IBV_WC_LOC_PROT_ERR, wc[0].status) << "errors complete even when unsignalled";
  EXPECT_EQ(2u, wc[1].wr_id);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc[1].status);
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.a));
  EXPECT_EQ(0, dst_[0]);
}

TEST_F(ErrorsTest, LocalBoundsAreChecked) {
  ibv_sge sge = SrcSge(4090, 8);  // 2 bytes past the end of the source MR
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_LOC_PROT_ERR, wc.status);
}

TEST_F(ErrorsTest, BadRkeyIsRemAccessErrAndResponderGoesToErr) {
  PostRecvOnB(9, nullptr, 0);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey + 1);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(9u, wc.wr_id);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc.status);
  EXPECT_EQ(IBV_QPS_ERR, StateOf(pair_.b));
  ibv_async_event event;
  ASSERT_EQ(0, ibv_get_async_event(pair_.device.ctx, &event));
  EXPECT_EQ(IBV_EVENT_QP_ACCESS_ERR, event.event_type);
  EXPECT_EQ(pair_.b, event.element.qp);
  ibv_ack_async_event(&event);
}

TEST_F(ErrorsTest, LkeyUsedAsRkeyIsRemAccessErr) {
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->lkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
}

TEST_F(ErrorsTest, RemoteBoundsAreChecked) {
  ibv_sge sge = SrcSge(0, 9);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(4088), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
  EXPECT_EQ(0, dst_[4088]) << "nothing is written on an access error";
}

TEST_F(ErrorsTest, MrWithoutRemoteWriteIsRemAccessErr) {
  std::vector<char> local_only(64);
  ibv_mr* mr = ibv_reg_mr(pair_.device.pd, local_only.data(), 64, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_NE(nullptr, mr);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, uint64_t(uintptr_t(local_only.data())),
                           mr->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
  EXPECT_EQ(0, ibv_dereg_mr(mr));
}

TEST_F(ErrorsTest, QpWithoutRemoteWriteAccessIsRemAccessErr) {
  ConnectOptions options;
  options.access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ;
  Rebuild(16, options);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
}

TEST_F(ErrorsTest, DeregisteredKeyIsRemAccessErr) {
  uint32_t rkey = dst_mr_->rkey;
  ASSERT_EQ(0, ibv_dereg_mr(dst_mr_));
  dst_mr_ = nullptr;
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc.status);
}

TEST_F(ErrorsTest, ReceiveTooSmallIsLenErrOnBothSides) {
  ibv_sge rsge = {uint64_t(uintptr_t(dst_.data())), 50, dst_mr_->lkey};
  PostRecvOnB(3, &rsge, 1);
  ibv_sge sge = SrcSge(0, 100);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_SEND, 0, 0);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(3u, wc.wr_id);
  EXPECT_EQ(IBV_WC_LOC_LEN_ERR, wc.status);
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_INV_REQ_ERR, wc.status);
}

TEST_F(ErrorsTest, ReceiveWithBadLkeyIsProtErrAtResponder) {
  ibv_sge rsge = {uint64_t(uintptr_t(dst_.data())), 50, dst_mr_->rkey};
  PostRecvOnB(3, &rsge, 1);
  ibv_sge sge = SrcSge(0, 10);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_SEND, 0, 0);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(IBV_WC_LOC_PROT_ERR, wc.status);
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_REM_OP_ERR, wc.status);
}

TEST_F(ErrorsTest, RegistrationChecksArguments) {
  ibv_pd* pd = pair_.device.pd;
  EXPECT_EQ(nullptr, ibv_reg_mr(pd, src_.data(), 64, IBV_ACCESS_REMOTE_WRITE));
  EXPECT_EQ(EINVAL, errno) << "remote write needs local write";
  EXPECT_EQ(nullptr, ibv_reg_mr(pd, src_.data(), 0, IBV_ACCESS_LOCAL_WRITE));
  EXPECT_EQ(EINVAL, errno);
  void* hole = mmap(nullptr, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, hole);
  ASSERT_EQ(0, munmap(hole, 8192));
  EXPECT_EQ(nullptr, ibv_reg_mr(pd, hole, 8192, IBV_ACCESS_LOCAL_WRITE));
  EXPECT_EQ(EFAULT, errno);
  EXPECT_EQ(EBUSY, ibv_dealloc_pd(pd)) << "MRs and QPs still use the PD";
  EXPECT_EQ(EBUSY, ibv_destroy_cq(pair_.cq_a)) << "a QP still uses the CQ";
}

TEST_F(ErrorsTest, LkeyAndRkeyDiffer) {
  EXPECT_NE(src_mr_->lkey, src_mr_->rkey);
}

}  // namespace
}  // namespace softverbs_test
