// Spec tests of the softverbs RC QP state machine and post-time checks: the exact attribute
// masks of each transition (missing or extra bits give EINVAL), value ranges, illegal
// transitions, ibv_query_qp, create-time limits, and what posting does in each state.
// Thread-safety: single-threaded tests.
#include <cstring>

#include "test_util.h"

namespace softverbs_test {
namespace {

constexpr int kInitMask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
constexpr int kRtrMask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                         IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
constexpr int kRtsMask = IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                         IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;

class QpStateTest : public SoftverbsTest {
 protected:
  void SetUp() override {
    SoftverbsTest::SetUp();
    device_ = OpenDevice();
    ASSERT_NE(nullptr, device_.ctx);
    cq_ = ibv_create_cq(device_.ctx, 16, nullptr, nullptr, 0);
    qp_ = CreateRcQp(device_, cq_, 4, 4);
    ASSERT_NE(nullptr, qp_);
    memset(&attr_, 0, sizeof(attr_));
    attr_.port_num = 1;
    attr_.path_mtu = IBV_MTU_1024;
    attr_.dest_qp_num = 0x1234;
    attr_.ah_attr.dlid = 1;
    attr_.ah_attr.port_num = 1;
    attr_.max_dest_rd_atomic = 1;
    attr_.min_rnr_timer = 12;
    attr_.timeout = 14;
    attr_.retry_cnt = 7;
    attr_.rnr_retry = 7;
    attr_.max_rd_atomic = 1;
  }
  void TearDown() override {
    EXPECT_EQ(0, ibv_destroy_qp(qp_));
    EXPECT_EQ(0, ibv_destroy_cq(cq_));
    CloseDevice(&device_);
    SoftverbsTest::TearDown();
  }
  int Move(ibv_qp_state state, int mask) {
    attr_.qp_state = state;
    return ibv_modify_qp(qp_, &attr_, mask);
  }
  ibv_qp_state State() {
    ibv_qp_attr attr;
    ibv_qp_init_attr init;
    EXPECT_EQ(0, ibv_query_qp(qp_, &attr, IBV_QP_STATE, &init));
    return attr.qp_state;
  }

  Device device_;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  ibv_qp_attr attr_;
};

TEST_F(QpStateTest, FullPathWithExactMasks) {
  EXPECT_EQ(IBV_QPS_RESET, State());
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(IBV_QPS_INIT, State());
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  EXPECT_EQ(IBV_QPS_RTR, State());
  ASSERT_EQ(0, Move(IBV_QPS_RTS, kRtsMask));
  EXPECT_EQ(IBV_QPS_RTS, State());
  ibv_qp_attr attr;
  ibv_qp_init_attr init;
  ASSERT_EQ(0, ibv_query_qp(qp_, &attr, IBV_QP_STATE, &init));
  EXPECT_EQ(0x1234u, attr.dest_qp_num);
  EXPECT_EQ(IBV_MTU_1024, attr.path_mtu);
  EXPECT_EQ(7, attr.rnr_retry);
  EXPECT_EQ(4u, init.cap.max_send_wr);
  EXPECT_EQ(IBV_QPS_RTS, qp_->state);
}

TEST_F(QpStateTest, MissingRequiredAttributeIsEinval) {
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask & ~IBV_QP_PORT));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask & ~IBV_QP_ACCESS_FLAGS));
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask & ~IBV_QP_MIN_RNR_TIMER));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask & ~IBV_QP_AV));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask & ~IBV_QP_RQ_PSN));
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask & ~IBV_QP_RNR_RETRY));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask & ~IBV_QP_SQ_PSN));
  EXPECT_EQ(IBV_QPS_RTR, State()) << "a refused modify changes nothing";
}

TEST_F(QpStateTest, ExtraAttributeIsEinval) {
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask | IBV_QP_AV));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask | IBV_QP_QKEY));
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask | IBV_QP_SQ_PSN));
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask | IBV_QP_DEST_QPN));
  EXPECT_EQ(0, Move(IBV_QPS_RTS, kRtsMask | IBV_QP_MIN_RNR_TIMER)) << "optional for RTR->RTS";
}

TEST_F(QpStateTest, IllegalTransitionsAreEinval) {
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask));
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask));
  EXPECT_EQ(EINVAL, Move(IBV_QPS_SQD, IBV_QP_STATE));
  EXPECT_EQ(0, Move(IBV_QPS_INIT, IBV_QP_STATE)) << "INIT->INIT with nothing is legal";
}

TEST_F(QpStateTest, OutOfRangeValuesAreEinval) {
  attr_.port_num = 2;
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask));
  attr_.port_num = 1;
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  attr_.ah_attr.dlid = 0;
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask));
  attr_.ah_attr.dlid = 1;
  attr_.dest_qp_num = 1u << 24;
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTR, kRtrMask));
  attr_.dest_qp_num = 5;
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  attr_.retry_cnt = 8;
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask));
}

TEST_F(QpStateTest, CurStateMustMatch) {
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  attr_.cur_qp_state = IBV_QPS_INIT;
  EXPECT_EQ(EINVAL, Move(IBV_QPS_RTS, kRtsMask | IBV_QP_CUR_STATE));
  attr_.cur_qp_state = IBV_QPS_RTR;
  EXPECT_EQ(0, Move(IBV_QPS_RTS, kRtsMask | IBV_QP_CUR_STATE));
}

TEST_F(QpStateTest, AnyStateToErrAndReset) {
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  ASSERT_EQ(0, Move(IBV_QPS_ERR, IBV_QP_STATE));
  EXPECT_EQ(IBV_QPS_ERR, State());
  EXPECT_EQ(EINVAL, Move(IBV_QPS_INIT, kInitMask)) << "ERR only leaves through RESET";
  ASSERT_EQ(0, Move(IBV_QPS_RESET, IBV_QP_STATE));
  EXPECT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
}

TEST_F(QpStateTest, PostSendBeforeRtsIsEinval) {
  ibv_send_wr wr = WriteWr(1, nullptr, IBV_WR_RDMA_WRITE, 0, 0);
  ibv_send_wr* bad = nullptr;
  EXPECT_EQ(EINVAL, ibv_post_send(qp_, &wr, &bad));
  EXPECT_EQ(&wr, bad);
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  ASSERT_EQ(0, Move(IBV_QPS_RTR, kRtrMask));
  bad = nullptr;
  EXPECT_EQ(EINVAL, ibv_post_send(qp_, &wr, &bad));
  EXPECT_EQ(&wr, bad);
}

TEST_F(QpStateTest, PostRecvNeedsInitAndRespectsDepth) {
  ibv_recv_wr wr[5];
  memset(wr, 0, sizeof(wr));
  for (int i = 0; i < 4; ++i) wr[i].next = &wr[i + 1];
  ibv_recv_wr* bad = nullptr;
  EXPECT_EQ(EINVAL, ibv_post_recv(qp_, &wr[4], &bad)) << "RESET";
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(ENOMEM, ibv_post_recv(qp_, &wr[0], &bad)) << "max_recv_wr is 4";
  EXPECT_EQ(&wr[4], bad);
  ibv_sge sges[5];
  memset(sges, 0, sizeof(sges));
  ibv_recv_wr many;
  memset(&many, 0, sizeof(many));
  many.sg_list = sges;
  many.num_sge = 5;
  ASSERT_EQ(0, Move(IBV_QPS_RESET, IBV_QP_STATE));
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  EXPECT_EQ(EINVAL, ibv_post_recv(qp_, &many, &bad)) << "num_sge > max_recv_sge";
}

TEST_F(QpStateTest, ErrFlushesPostedReceivesAndLaterSends) {
  ibv_recv_wr rwr;
  memset(&rwr, 0, sizeof(rwr));
  rwr.wr_id = 77;
  ibv_recv_wr* rbad = nullptr;
  ASSERT_EQ(0, Move(IBV_QPS_INIT, kInitMask));
  ASSERT_EQ(0, ibv_post_recv(qp_, &rwr, &rbad));
  ASSERT_EQ(0, Move(IBV_QPS_ERR, IBV_QP_STATE));
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(cq_, 1, &wc));
  EXPECT_EQ(77u, wc.wr_id);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc.status);
  ibv_send_wr wr = WriteWr(78, nullptr, IBV_WR_RDMA_WRITE, 0, 0, 0);
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(0, ibv_post_send(qp_, &wr, &bad)) << "posting in ERR is allowed";
  ASSERT_EQ(1, PollUntil(cq_, 1, &wc));
  EXPECT_EQ(78u, wc.wr_id);
  EXPECT_EQ(IBV_WC_WR_FLUSH_ERR, wc.status) << "flushed even though unsignalled";
}

TEST_F(QpStateTest, CreateQpLimits) {
  ibv_qp_init_attr init;
  memset(&init, 0, sizeof(init));
  init.send_cq = init.recv_cq = cq_;
  init.qp_type = IBV_QPT_UD;
  init.cap.max_send_wr = init.cap.max_recv_wr = 1;
  EXPECT_EQ(nullptr, ibv_create_qp(device_.pd, &init));
  EXPECT_EQ(EOPNOTSUPP, errno);
  init.qp_type = IBV_QPT_RC;
  init.cap.max_inline_data = 4096;
  EXPECT_EQ(nullptr, ibv_create_qp(device_.pd, &init));
  EXPECT_EQ(EINVAL, errno);
  init.cap.max_inline_data = 0;
  init.cap.max_send_wr = 0;
  EXPECT_EQ(nullptr, ibv_create_qp(device_.pd, &init));
  init.cap.max_send_wr = 1;
  init.send_cq = nullptr;
  EXPECT_EQ(nullptr, ibv_create_qp(device_.pd, &init));
}

TEST_F(QpStateTest, PostSendChecksSgeInlineAndOpcode) {
  LoopbackPair pair;
  ASSERT_TRUE(MakeLoopbackPair(&pair));
  char buf[512] = {};
  ibv_sge sges[5];
  for (ibv_sge& sge : sges) sge = ibv_sge{uint64_t(uintptr_t(buf)), 8, 0};
  ibv_send_wr wr = WriteWr(1, sges, IBV_WR_RDMA_WRITE, 0, 0);
  wr.num_sge = 5;
  ibv_send_wr* bad = nullptr;
  EXPECT_EQ(EINVAL, ibv_post_send(pair.a, &wr, &bad)) << "num_sge > max_send_sge (4)";
  wr.num_sge = 1;
  sges[0].length = 65;
  wr.send_flags = IBV_SEND_INLINE;
  EXPECT_EQ(EINVAL, ibv_post_send(pair.a, &wr, &bad)) << "inline > max_inline_data (64)";
  wr.send_flags = 0;
  wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
  EXPECT_EQ(EINVAL, ibv_post_send(pair.a, &wr, &bad)) << "atomics are not emulated";
  DestroyLoopbackPair(&pair);
}

}  // namespace
}  // namespace softverbs_test
