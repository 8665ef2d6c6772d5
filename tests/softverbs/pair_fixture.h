// GoogleTest fixture for softverbs spec tests on a loopback pair: QP a sends to QP b in one
// process, with a registered 4 KiB source and destination buffer.
// Thread-safety: test-thread only.
#pragma once

#include <cstring>
#include <vector>

#include "test_util.h"

namespace softverbs_test {

constexpr int kRw = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

class PairTest : public SoftverbsTest {
 protected:
  void SetUp() override {
    SoftverbsTest::SetUp();
    src_.assign(4096, 0);
    dst_.assign(4096, 0);
    for (size_t i = 0; i < src_.size(); ++i) src_[i] = char(i * 7 + 1);
    Build(16);
  }
  void TearDown() override {
    Teardown();
    SoftverbsTest::TearDown();
  }
  void Build(uint32_t max_send_wr, const ConnectOptions& options = ConnectOptions(),
             int cqe = 64) {
    ASSERT_TRUE(MakeLoopbackPair(&pair_, max_send_wr, 16, options, cqe));
    src_mr_ = ibv_reg_mr(pair_.device.pd, src_.data(), src_.size(), kRw);
    dst_mr_ = ibv_reg_mr(pair_.device.pd, dst_.data(), dst_.size(), kRw);
    ASSERT_NE(nullptr, src_mr_);
    ASSERT_NE(nullptr, dst_mr_);
  }
  void Rebuild(uint32_t max_send_wr, const ConnectOptions& options = ConnectOptions(),
               int cqe = 64) {
    Teardown();
    Build(max_send_wr, options, cqe);
  }
  void Teardown() {
    if (src_mr_ != nullptr) {
      EXPECT_EQ(0, ibv_dereg_mr(src_mr_));
    }
    if (dst_mr_ != nullptr) {
      EXPECT_EQ(0, ibv_dereg_mr(dst_mr_));
    }
    src_mr_ = dst_mr_ = nullptr;
    DestroyLoopbackPair(&pair_);
  }
  ibv_sge SrcSge(uint32_t offset, uint32_t len) {
    return ibv_sge{uint64_t(uintptr_t(src_.data() + offset)), len, src_mr_->lkey};
  }
  uint64_t DstAddr(uint32_t offset) { return uint64_t(uintptr_t(dst_.data() + offset)); }
  void PostRecvOnB(uint64_t wr_id, ibv_sge* sge, int num_sge) {
    ibv_recv_wr wr;
    memset(&wr, 0, sizeof(wr));
    wr.wr_id = wr_id;
    wr.sg_list = sge;
    wr.num_sge = num_sge;
    ibv_recv_wr* bad = nullptr;
    ASSERT_EQ(0, ibv_post_recv(pair_.b, &wr, &bad));
  }
  void Post(ibv_send_wr* wr) {
    ibv_send_wr* bad = nullptr;
    ASSERT_EQ(0, ibv_post_send(pair_.a, wr, &bad));
  }
  ibv_qp_state StateOf(ibv_qp* qp) {
    ibv_qp_attr attr;
    ibv_qp_init_attr init;
    EXPECT_EQ(0, ibv_query_qp(qp, &attr, IBV_QP_STATE, &init));
    return attr.qp_state;
  }

  LoopbackPair pair_;
  std::vector<char> src_, dst_;
  ibv_mr* src_mr_ = nullptr;
  ibv_mr* dst_mr_ = nullptr;
};

}  // namespace softverbs_test
