// Spec tests of softverbs' RoCE port (SOFTVERBS_LINK_LAYER=ethernet): rxe's port limits, the
// kernel's GID table layout through ibv_query_gid_ex / ibv_query_gid_table, and address
// vectors that must carry a GRH from a non-empty source GID. Reachability across L2 segments
// needs two processes: tests/unit/ibverbs_link_test.cc covers it.
// Thread-safety: single-threaded tests.
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "test_util.h"

namespace softverbs_test {
namespace {

class RoceTest : public SoftverbsTest {
 protected:
  void SetUp() override {
    SoftverbsTest::SetUp();
    setenv("SOFTVERBS_LINK_LAYER", "ethernet", 1);
    device_ = OpenDevice();
    ASSERT_NE(nullptr, device_.ctx);
  }
  void TearDown() override {
    CloseDevice(&device_);
    SoftverbsTest::TearDown();
  }
  std::string Text(const ibv_gid& gid) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, gid.raw, text, sizeof text);
    return text;
  }

  Device device_;
};

TEST_F(RoceTest, PortIsEthernetWithRxeLimits) {
  ibv_port_attr port;
  ASSERT_EQ(0, ibv_query_port(device_.ctx, 1, &port));
  EXPECT_EQ(IBV_LINK_LAYER_ETHERNET, port.link_layer);
  EXPECT_EQ(0, port.lid);
  EXPECT_EQ(IBV_MTU_1024, port.active_mtu);
  EXPECT_EQ(8u << 20, port.max_msg_sz);
  EXPECT_EQ(16, port.gid_tbl_len);
}

TEST_F(RoceTest, GidTableHasTheKernelLayout) {
  const unsigned lo = if_nametoindex("lo") ? if_nametoindex("lo") : 1;
  const char* prefixes[4] = {"fe80::200:ff:fe00:", "::ffff:10.", "::ffff:10.", "fd00::"};
  const uint32_t netdevs[4] = {lo, 0x7ffe, lo, lo};
  for (uint32_t i = 0; i < 8; ++i) {
    ibv_gid_entry e;
    ASSERT_EQ(0, ibv_query_gid_ex(device_.ctx, 1, i, &e, 0)) << i;
    EXPECT_EQ(i, e.gid_index);
    EXPECT_EQ(1u, e.port_num);
    EXPECT_EQ(i % 2 ? IBV_GID_TYPE_ROCE_V2 : IBV_GID_TYPE_ROCE_V1, e.gid_type) << i;
    EXPECT_EQ(0u, Text(e.gid).find(prefixes[i / 2])) << i << ": " << Text(e.gid);
    EXPECT_EQ(netdevs[i / 2], e.ndev_ifindex) << i;
    ibv_gid plain;
    ASSERT_EQ(0, ibv_query_gid(device_.ctx, 1, int(i), &plain));
    EXPECT_EQ(0, memcmp(plain.raw, e.gid.raw, 16));
  }
  ibv_gid_entry e;
  EXPECT_EQ(ENODATA, ibv_query_gid_ex(device_.ctx, 1, 12, &e, 0));  // empty
  EXPECT_EQ(EINVAL, ibv_query_gid_ex(device_.ctx, 1, 16, &e, 0));   // past the table
  EXPECT_EQ(EINVAL, ibv_query_gid_ex(device_.ctx, 2, 0, &e, 0));
  ibv_gid_entry table[16];
  ASSERT_EQ(8, ibv_query_gid_table(device_.ctx, table, 16, 0));
  EXPECT_EQ(7u, table[7].gid_index);
  EXPECT_EQ(-EINVAL, ibv_query_gid_table(device_.ctx, table, 4, 0));  // too small
}

TEST_F(RoceTest, AddressVectorNeedsAGrhFromANonEmptySourceGid) {
  ibv_cq* cq = ibv_create_cq(device_.ctx, 16, nullptr, nullptr, 0);
  ASSERT_NE(nullptr, cq);
  ibv_qp* qp = CreateRcQp(device_, cq, 4, 4);
  ASSERT_NE(nullptr, qp);
  ASSERT_EQ(0, ModifyToInit(qp, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE));
  ibv_qp_attr a;
  memset(&a, 0, sizeof(a));
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = IBV_MTU_1024;
  a.dest_qp_num = qp->qp_num;
  a.ah_attr.port_num = 1;  // dlid 0: RoCE has no LIDs
  const int mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                   IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
  EXPECT_EQ(EINVAL, ibv_modify_qp(qp, &a, mask));  // no GRH
  a.ah_attr.is_global = 1;
  a.ah_attr.grh.hop_limit = 64;
  a.ah_attr.grh.sgid_index = 12;
  EXPECT_EQ(ENODATA, ibv_modify_qp(qp, &a, mask));  // an empty source GID, as the kernel says
  a.ah_attr.grh.sgid_index = 16;
  EXPECT_EQ(EINVAL, ibv_modify_qp(qp, &a, mask));
  a.ah_attr.grh.sgid_index = 5;
  ASSERT_EQ(0, ibv_query_gid(device_.ctx, 1, 5, &a.ah_attr.grh.dgid));
  EXPECT_EQ(0, ibv_modify_qp(qp, &a, mask));
  EXPECT_EQ(0, ibv_destroy_qp(qp));
  EXPECT_EQ(0, ibv_destroy_cq(cq));
}

}  // namespace
}  // namespace softverbs_test
