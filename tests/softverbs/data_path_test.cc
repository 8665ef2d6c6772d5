// Spec tests of the softverbs data path on a loopback pair of RC QPs: each opcode, exact receive
// completions (opcode, byte_len, imm_data, src_qp), inline sends, signalled vs unsignalled
// completions and send-queue slot accounting, ordering within a QP, and multi-SGE transfers.
// Thread-safety: single-threaded tests.
#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "pair_fixture.h"

namespace softverbs_test {
namespace {

using DataPathTest = PairTest;

TEST_F(DataPathTest, RdmaWriteCopiesBytesAndCompletesOnSender) {
  ibv_sge sge = SrcSge(0, 1000);
  ibv_send_wr wr = WriteWr(7, &sge, IBV_WR_RDMA_WRITE, DstAddr(100), dst_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(7u, wc.wr_id);
  EXPECT_EQ(IBV_WC_RDMA_WRITE, wc.opcode);
  EXPECT_EQ(pair_.a->qp_num, wc.qp_num);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data() + 100, 1000));
  EXPECT_EQ(0, dst_[99]);
  EXPECT_EQ(0, dst_[1100]);
  EXPECT_EQ(0, PollFor(pair_.cq_b, &wc, 1, 20)) << "plain RDMA_WRITE consumes no receive";
}

TEST_F(DataPathTest, WriteWithImmProducesExactReceiveCompletion) {
  PostRecvOnB(55, nullptr, 0);
  ibv_sge sge = SrcSge(0, 777);
  ibv_send_wr wr = WriteWr(8, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, DstAddr(0), dst_mr_->rkey);
  wr.imm_data = htonl(0xdeadbeef);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(55u, wc.wr_id);
  EXPECT_EQ(IBV_WC_RECV_RDMA_WITH_IMM, wc.opcode);
  EXPECT_EQ(777u, wc.byte_len);
  EXPECT_TRUE(wc.wc_flags & IBV_WC_WITH_IMM);
  EXPECT_EQ(0xdeadbeefu, ntohl(wc.imm_data));
  EXPECT_EQ(pair_.b->qp_num, wc.qp_num);
  EXPECT_EQ(pair_.a->qp_num, wc.src_qp);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data(), 777));
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_RDMA_WRITE, wc.opcode);
}

TEST_F(DataPathTest, ZeroByteWriteWithImm) {
  PostRecvOnB(1, nullptr, 0);
  ibv_send_wr wr = WriteWr(2, nullptr, IBV_WR_RDMA_WRITE_WITH_IMM, 0, dst_mr_->rkey);
  wr.imm_data = htonl(42);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(0u, wc.byte_len);
  EXPECT_EQ(42u, ntohl(wc.imm_data));
}

TEST_F(DataPathTest, SendWithImmScattersIntoReceiveSges) {
  ibv_sge rsge[2] = {{uint64_t(uintptr_t(dst_.data())), 100, dst_mr_->lkey},
                     {uint64_t(uintptr_t(dst_.data() + 1000)), 400, dst_mr_->lkey}};
  PostRecvOnB(9, rsge, 2);
  ibv_sge sge = SrcSge(0, 300);
  ibv_send_wr wr = WriteWr(3, &sge, IBV_WR_SEND_WITH_IMM, 0, 0);
  wr.imm_data = htonl(5);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(IBV_WC_RECV, wc.opcode);
  EXPECT_EQ(300u, wc.byte_len);
  EXPECT_TRUE(wc.wc_flags & IBV_WC_WITH_IMM);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data(), 100));
  EXPECT_EQ(0, memcmp(src_.data() + 100, dst_.data() + 1000, 200));
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SEND, wc.opcode);
}

TEST_F(DataPathTest, PlainSendHasNoImmFlag) {
  ibv_sge rsge = {uint64_t(uintptr_t(dst_.data())), 4096, dst_mr_->lkey};
  PostRecvOnB(9, &rsge, 1);
  ibv_sge sge = SrcSge(0, 64);
  ibv_send_wr wr = WriteWr(3, &sge, IBV_WR_SEND, 0, 0);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_b, 1, &wc));
  EXPECT_EQ(IBV_WC_RECV, wc.opcode);
  EXPECT_EQ(64u, wc.byte_len);
  EXPECT_FALSE(wc.wc_flags & IBV_WC_WITH_IMM);
}

TEST_F(DataPathTest, RdmaReadFetchesRemoteBytes) {
  ibv_sge sge = {uint64_t(uintptr_t(dst_.data())), 512, dst_mr_->lkey};
  ibv_send_wr wr = WriteWr(4, &sge, IBV_WR_RDMA_READ,
                           uint64_t(uintptr_t(src_.data() + 8)), src_mr_->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(IBV_WC_RDMA_READ, wc.opcode);
  EXPECT_EQ(512u, wc.byte_len);
  EXPECT_EQ(0, memcmp(src_.data() + 8, dst_.data(), 512));
}

TEST_F(DataPathTest, InlineDataIsCopiedAtPostTime) {
  char bytes[32];
  memset(bytes, 'x', sizeof(bytes));
  ibv_sge sge = {uint64_t(uintptr_t(bytes)), sizeof(bytes), 0};  // no lkey needed
  ibv_send_wr wr = WriteWr(5, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey,
                           IBV_SEND_SIGNALED | IBV_SEND_INLINE);
  Post(&wr);
  memset(bytes, 'y', sizeof(bytes));  // allowed: inline data was consumed by post_send
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(std::string(32, 'x'), std::string(dst_.data(), 32));
}

TEST_F(DataPathTest, UnsignalledWritesProduceNoCompletion) {
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr first = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  ibv_send_wr second = WriteWr(2, &sge, IBV_WR_RDMA_WRITE, DstAddr(8), dst_mr_->rkey);
  first.next = &second;
  Post(&first);
  ibv_wc wc[2];
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, wc));
  EXPECT_EQ(2u, wc[0].wr_id);
  EXPECT_EQ(0, PollFor(pair_.cq_a, wc, 2, 20));
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data() + 8, 8));
}

TEST_F(DataPathTest, SqSigAllSignalsEveryWqe) {
  ibv_qp* qp = CreateRcQp(pair_.device, pair_.cq_a, 4, 4, /*sq_sig_all=*/1);
  ASSERT_NE(nullptr, qp);
  Endpoint eb = EndpointOf(pair_.device, pair_.b, 200);
  ASSERT_EQ(0, Connect(qp, 100, eb));
  // b is connected to a, not to qp: re-point b at qp.
  ASSERT_EQ(0, ibv_destroy_qp(pair_.b));
  pair_.b = CreateRcQp(pair_.device, pair_.cq_b);
  ASSERT_EQ(0, Connect(pair_.b, 200, EndpointOf(pair_.device, qp, 100)));
  ibv_qp_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.qp_state = IBV_QPS_ERR;
  ASSERT_EQ(0, ibv_modify_qp(qp, &attr, IBV_QP_STATE));
  attr.qp_state = IBV_QPS_RESET;
  ASSERT_EQ(0, ibv_modify_qp(qp, &attr, IBV_QP_STATE));
  ibv_wc wc[4];
  PollFor(pair_.cq_a, wc, 4, 5);
  ASSERT_EQ(0, Connect(qp, 100, EndpointOf(pair_.device, pair_.b, 200)));
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr wr = WriteWr(11, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(0, ibv_post_send(qp, &wr, &bad));
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, wc));
  EXPECT_EQ(11u, wc[0].wr_id);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  ASSERT_EQ(0, ibv_destroy_qp(qp));
}

TEST_F(DataPathTest, UnpolledOrUnsignalledWqesHoldSendQueueSlots) {
  Rebuild(/*max_send_wr=*/2);
  ibv_sge sge = SrcSge(0, 8);
  ibv_send_wr w1 = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  ibv_send_wr w2 = WriteWr(2, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  ibv_send_wr w3 = WriteWr(3, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  w1.next = &w2;
  w2.next = &w3;
  ibv_send_wr* bad = nullptr;
  EXPECT_EQ(ENOMEM, ibv_post_send(pair_.a, &w1, &bad));
  EXPECT_EQ(&w3, bad) << "two unsignalled WQEs fill a 2-deep send queue forever";
  ibv_wc wc;
  EXPECT_EQ(0, PollFor(pair_.cq_a, &wc, 1, 20));
  w2.send_flags = IBV_SEND_SIGNALED;  // the correct pattern: signal the last of a batch
  w2.next = nullptr;
  bad = nullptr;
  EXPECT_EQ(ENOMEM, ibv_post_send(pair_.a, &w2, &bad)) << "slots are still held";
  Rebuild(2);
  sge = SrcSge(0, 8);
  w1 = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey, 0);
  w2 = WriteWr(2, &sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  w1.next = &w2;
  ASSERT_EQ(0, ibv_post_send(pair_.a, &w1, &bad));
  ibv_send_wr again = w2;
  again.next = nullptr;
  EXPECT_EQ(ENOMEM, ibv_post_send(pair_.a, &again, &bad)) << "completion not polled yet";
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(2u, wc.wr_id);
  EXPECT_EQ(0, ibv_post_send(pair_.a, &w1, &bad)) << "polling freed both slots";
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
}

TEST_F(DataPathTest, WqesOfOneQpCompleteInOrder) {
  constexpr int kCount = 12;
  std::vector<ibv_send_wr> wrs(kCount);
  std::vector<ibv_sge> sges(kCount);
  for (int i = 0; i < kCount; ++i) {
    sges[i] = SrcSge(uint32_t(i), 1);
    wrs[i] = WriteWr(uint64_t(i), &sges[i], IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
    if (i > 0) wrs[i - 1].next = &wrs[i];
  }
  Post(&wrs[0]);
  ibv_wc wc[kCount];
  ASSERT_EQ(kCount, PollUntil(pair_.cq_a, kCount, wc));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(uint64_t(i), wc[i].wr_id);
  EXPECT_EQ(src_[kCount - 1], dst_[0]) << "the last write to the same byte wins";
}

TEST_F(DataPathTest, MultiSgeGather) {
  ibv_sge sge[3] = {SrcSge(0, 10), SrcSge(100, 20), SrcSge(200, 30)};
  ibv_send_wr wr = WriteWr(1, sge, IBV_WR_RDMA_WRITE, DstAddr(0), dst_mr_->rkey);
  wr.num_sge = 3;
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(60u, wc.byte_len);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data(), 10));
  EXPECT_EQ(0, memcmp(src_.data() + 100, dst_.data() + 10, 20));
  EXPECT_EQ(0, memcmp(src_.data() + 200, dst_.data() + 30, 30));
}

TEST_F(DataPathTest, IovaRegistrationTranslatesAddresses) {
  ibv_mr* mr = ibv_reg_mr_iova2(pair_.device.pd, dst_.data(), 1024, 0x100000, kRw);
  ASSERT_NE(nullptr, mr);
  ibv_sge sge = SrcSge(0, 16);
  ibv_send_wr wr = WriteWr(1, &sge, IBV_WR_RDMA_WRITE, 0x100000 + 64, mr->rkey);
  Post(&wr);
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(pair_.cq_a, 1, &wc));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status);
  EXPECT_EQ(0, memcmp(src_.data(), dst_.data() + 64, 16));
  EXPECT_EQ(0, ibv_dereg_mr(mr));
}

}  // namespace
}  // namespace softverbs_test
