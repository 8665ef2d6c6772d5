// Loads libsoftverbs the way the ibverbs transport's loader does: dlopen() by path, then dlvsym()
// of every control-path symbol with the version real libibverbs gives it, and drives a
// write-with-imm through the bound pointers and the standard inline data path.
// Thread-safety: single-threaded tests.
#include <arpa/inet.h>
#include <dlfcn.h>

#include <cstring>
#include <utility>
#include <vector>

#include "test_util.h"

namespace softverbs_test {
namespace {

using DlopenTest = SoftverbsTest;

const std::vector<std::pair<const char*, const char*>>& Symbols() {
  static const std::vector<std::pair<const char*, const char*>> kSymbols = {
      {"ibv_get_device_list", "IBVERBS_1.1"},  {"ibv_free_device_list", "IBVERBS_1.1"},
      {"ibv_get_device_name", "IBVERBS_1.1"},  {"ibv_get_device_guid", "IBVERBS_1.1"},
      {"ibv_open_device", "IBVERBS_1.1"},      {"ibv_close_device", "IBVERBS_1.1"},
      {"ibv_query_device", "IBVERBS_1.1"},     {"ibv_query_port", "IBVERBS_1.1"},
      {"ibv_query_gid", "IBVERBS_1.1"},        {"ibv_query_pkey", "IBVERBS_1.1"},
      {"ibv_alloc_pd", "IBVERBS_1.1"},         {"ibv_dealloc_pd", "IBVERBS_1.1"},
      {"ibv_reg_mr", "IBVERBS_1.1"},           {"ibv_dereg_mr", "IBVERBS_1.1"},
      {"ibv_create_cq", "IBVERBS_1.1"},        {"ibv_destroy_cq", "IBVERBS_1.1"},
      {"ibv_create_qp", "IBVERBS_1.1"},        {"ibv_destroy_qp", "IBVERBS_1.1"},
      {"ibv_modify_qp", "IBVERBS_1.1"},        {"ibv_query_qp", "IBVERBS_1.1"},
      {"ibv_fork_init", "IBVERBS_1.1"},        {"ibv_wc_status_str", "IBVERBS_1.1"},
      {"ibv_get_async_event", "IBVERBS_1.1"},  {"ibv_ack_async_event", "IBVERBS_1.1"},
      {"ibv_get_cq_event", "IBVERBS_1.1"},     {"ibv_ack_cq_events", "IBVERBS_1.1"},
      {"ibv_event_type_str", "IBVERBS_1.1"},   {"ibv_port_state_str", "IBVERBS_1.1"},
      {"ibv_create_comp_channel", "IBVERBS_1.0"}, {"ibv_destroy_comp_channel", "IBVERBS_1.0"},
      {"ibv_reg_mr_iova", "IBVERBS_1.7"},      {"ibv_reg_mr_iova2", "IBVERBS_1.8"},
      {"_ibv_query_gid_ex", "IBVERBS_1.11"},   {"_ibv_query_gid_table", "IBVERBS_1.11"},
      {"ibv_is_fork_initialized", "IBVERBS_1.13"}};
  return kSymbols;
}

TEST_F(DlopenTest, EverySymbolBindsWithItsLibibverbsVersion) {
  void* lib = dlopen(SOFTVERBS_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(nullptr, lib) << dlerror();
  for (const auto& [name, version] : Symbols()) {
    EXPECT_NE(nullptr, dlvsym(lib, name, version)) << name << "@" << version;
  }
  EXPECT_EQ(nullptr, dlvsym(lib, "ibv_create_comp_channel", "IBVERBS_1.1"))
      << "as in rdma-core, the comp channel functions exist only at IBVERBS_1.0";
  dlclose(lib);
}

template <typename T>
T Bind(void* lib, const char* name, const char* version = "IBVERBS_1.1") {
  return reinterpret_cast<T>(dlvsym(lib, name, version));
}

TEST_F(DlopenTest, DrivesWriteWithImmThroughBoundSymbols) {
  void* lib = dlopen(SOFTVERBS_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(nullptr, lib) << dlerror();
  auto get_list = Bind<ibv_device** (*)(int*)>(lib, "ibv_get_device_list");
  auto free_list = Bind<void (*)(ibv_device**)>(lib, "ibv_free_device_list");
  auto open_dev = Bind<ibv_context* (*)(ibv_device*)>(lib, "ibv_open_device");
  auto close_dev = Bind<int (*)(ibv_context*)>(lib, "ibv_close_device");
  auto query_port = Bind<int (*)(ibv_context*, uint8_t, ibv_port_attr*)>(lib, "ibv_query_port");
  auto alloc_pd = Bind<ibv_pd* (*)(ibv_context*)>(lib, "ibv_alloc_pd");
  auto dealloc_pd = Bind<int (*)(ibv_pd*)>(lib, "ibv_dealloc_pd");
  auto reg_mr = Bind<ibv_mr* (*)(ibv_pd*, void*, size_t, uint64_t, unsigned)>(
      lib, "ibv_reg_mr_iova2", "IBVERBS_1.8");
  auto dereg_mr = Bind<int (*)(ibv_mr*)>(lib, "ibv_dereg_mr");
  auto create_cq = Bind<ibv_cq* (*)(ibv_context*, int, void*, ibv_comp_channel*, int)>(
      lib, "ibv_create_cq");
  auto destroy_cq = Bind<int (*)(ibv_cq*)>(lib, "ibv_destroy_cq");
  auto create_qp = Bind<ibv_qp* (*)(ibv_pd*, ibv_qp_init_attr*)>(lib, "ibv_create_qp");
  auto destroy_qp = Bind<int (*)(ibv_qp*)>(lib, "ibv_destroy_qp");
  auto modify_qp = Bind<int (*)(ibv_qp*, ibv_qp_attr*, int)>(lib, "ibv_modify_qp");

  int n = 0;
  ibv_device** list = get_list(&n);
  ASSERT_EQ(1, n);
  ibv_context* ctx = open_dev(list[0]);
  free_list(list);
  ASSERT_NE(nullptr, ctx);
  ibv_port_attr port;
  memset(&port, 0, sizeof(port));
  ASSERT_EQ(0, query_port(ctx, 1, &port));
  ibv_pd* pd = alloc_pd(ctx);
  std::vector<char> buf(256, 'q');
  ibv_mr* mr = reg_mr(pd, buf.data(), buf.size(), uint64_t(uintptr_t(buf.data())),
                      IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  ASSERT_NE(nullptr, mr);
  ibv_cq* cq = create_cq(ctx, 8, nullptr, nullptr, 0);
  ibv_qp_init_attr init;
  memset(&init, 0, sizeof(init));
  init.send_cq = init.recv_cq = cq;
  init.qp_type = IBV_QPT_RC;
  init.cap = ibv_qp_cap{4, 4, 1, 1, 0};
  ibv_qp* qp = create_qp(pd, &init);
  ASSERT_NE(nullptr, qp);
  ibv_qp_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.qp_state = IBV_QPS_INIT;
  attr.port_num = 1;
  attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
  ASSERT_EQ(0, modify_qp(qp, &attr,
                         IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS));
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = IBV_MTU_4096;
  attr.dest_qp_num = qp->qp_num;  // loops onto itself
  attr.ah_attr.dlid = port.lid;
  attr.ah_attr.port_num = 1;
  attr.min_rnr_timer = 1;
  ASSERT_EQ(0, modify_qp(qp, &attr,
                         IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                             IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER));
  attr.qp_state = IBV_QPS_RTS;
  attr.timeout = 8;
  attr.retry_cnt = 3;
  attr.rnr_retry = 7;
  ASSERT_EQ(0, modify_qp(qp, &attr,
                         IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                             IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC));
  ibv_recv_wr rwr;
  memset(&rwr, 0, sizeof(rwr));
  rwr.wr_id = 1;
  ibv_recv_wr* rbad = nullptr;
  ASSERT_EQ(0, ibv_post_recv(qp, &rwr, &rbad));  // the inline, through context->ops
  ibv_sge sge{uint64_t(uintptr_t(buf.data())), 16, mr->lkey};
  ibv_send_wr wr = WriteWr(2, &sge, IBV_WR_RDMA_WRITE_WITH_IMM,
                           uint64_t(uintptr_t(buf.data() + 128)), mr->rkey);
  wr.imm_data = htonl(99);
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(0, ibv_post_send(qp, &wr, &bad));
  ibv_wc wc[2];
  ASSERT_EQ(2, PollUntil(cq, 2, wc));
  for (const ibv_wc& c : wc) {
    EXPECT_EQ(IBV_WC_SUCCESS, c.status);
    if (c.opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
      EXPECT_EQ(99u, ntohl(c.imm_data));
    }
  }
  EXPECT_EQ(0, destroy_qp(qp));
  EXPECT_EQ(0, destroy_cq(cq));
  EXPECT_EQ(0, dereg_mr(mr));
  EXPECT_EQ(0, dealloc_pd(pd));
  EXPECT_EQ(0, close_dev(ctx));
  dlclose(lib);
}

}  // namespace
}  // namespace softverbs_test
