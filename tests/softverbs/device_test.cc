// Spec tests of softverbs device discovery and queries: the device list, the port through both
// ibv_query_port paths, the GID and P_Key tables, the per-process LID, and the status strings.
// Thread-safety: single-threaded tests.
#include <endian.h>
#include <unistd.h>

#include <cstring>

#include "test_util.h"

namespace softverbs_test {
namespace {

using DeviceTest = SoftverbsTest;

TEST_F(DeviceTest, ListsOneDeviceNamedSoftverbs0) {
  int n = -1;
  ibv_device** list = ibv_get_device_list(&n);
  ASSERT_NE(nullptr, list);
  EXPECT_EQ(1, n);
  EXPECT_STREQ("softverbs0", ibv_get_device_name(list[0]));
  EXPECT_EQ(nullptr, list[1]);
  EXPECT_NE(0u, ibv_get_device_guid(list[0]));
  ibv_free_device_list(list);
}

TEST_F(DeviceTest, PortIsActiveInfinibandWith4096Mtu) {
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  ibv_port_attr port;
  memset(&port, 0xab, sizeof(port));
  ASSERT_EQ(0, ibv_query_port(device.ctx, 1, &port));  // the inline, extended path
  EXPECT_EQ(IBV_PORT_ACTIVE, port.state);
  EXPECT_EQ(IBV_MTU_4096, port.active_mtu);
  EXPECT_EQ(IBV_LINK_LAYER_INFINIBAND, port.link_layer);
  EXPECT_NE(0, port.lid);
  EXPECT_EQ(2, port.gid_tbl_len);
  ibv_port_attr compat;
  memset(&compat, 0, sizeof(compat));
  // The exported symbol itself, as a dlsym-based loader calls it.
  ASSERT_EQ(0, (ibv_query_port)(device.ctx, 1, reinterpret_cast<_compat_ibv_port_attr*>(&compat)));
  EXPECT_EQ(port.lid, compat.lid);
  EXPECT_EQ(port.link_layer, compat.link_layer);
  EXPECT_NE(0, ibv_query_port(device.ctx, 2, &port));
  CloseDevice(&device);
}

TEST_F(DeviceTest, QueryDeviceReportsLimits) {
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  ibv_device_attr attr;
  ASSERT_EQ(0, ibv_query_device(device.ctx, &attr));
  EXPECT_EQ(1, attr.phys_port_cnt);
  EXPECT_GE(attr.max_qp_wr, 1024);
  EXPECT_GE(attr.max_sge, 4);
  EXPECT_GE(attr.max_cqe, 4096);
  CloseDevice(&device);
}

TEST_F(DeviceTest, GidTableHasLinkLocalAndRoceLikeEntries) {
  Device device = OpenDevice();
  ASSERT_NE(nullptr, device.ctx);
  ibv_gid gid0, gid1, bad;
  ASSERT_EQ(0, ibv_query_gid(device.ctx, 1, 0, &gid0));
  ASSERT_EQ(0, ibv_query_gid(device.ctx, 1, 1, &gid1));
  EXPECT_EQ(0xfe, gid0.raw[0]);
  EXPECT_EQ(0x80, gid0.raw[1]);
  EXPECT_EQ(0xff, gid1.raw[10]);  // ::ffff:a.b.c.d
  EXPECT_EQ(0xff, gid1.raw[11]);
  EXPECT_NE(0, ibv_query_gid(device.ctx, 1, 2, &bad));
  uint16_t pkey = 0;
  ASSERT_EQ(0, ibv_query_pkey(device.ctx, 1, 0, &pkey));
  EXPECT_EQ(0xffff, be16toh(pkey));
  CloseDevice(&device);
}

TEST_F(DeviceTest, EachProcessGetsItsOwnLid) {
  int to_parent[2], to_child[2];
  ASSERT_EQ(0, pipe(to_parent));
  ASSERT_EQ(0, pipe(to_child));
  // Fork before this process opens the device: the child of a multi-threaded process may not
  // start threads under ThreadSanitizer.
  pid_t child = StartChild([&] {
    Device mine = OpenDevice();
    ibv_port_attr port;
    if (mine.ctx == nullptr || ibv_query_port(mine.ctx, 1, &port) != 0) return 2;
    WriteAll(to_parent[1], &port.lid, sizeof(port.lid));
    char done;
    ReadAll(to_child[0], &done, 1, 10000);  // stay attached until the parent has its LID
    ibv_dealloc_pd(mine.pd);
    ibv_close_device(mine.ctx);
    return 0;
  });
  uint16_t child_lid = 0;
  bool got = ReadAll(to_parent[0], &child_lid, sizeof(child_lid), 10000);
  Device device = OpenDevice();
  ibv_port_attr port;
  memset(&port, 0, sizeof(port));
  if (device.ctx != nullptr) {
    EXPECT_EQ(0, ibv_query_port(device.ctx, 1, &port));
  }
  WriteAll(to_child[1], "x", 1);
  EXPECT_EQ(0, WaitChild(child, 10000));
  EXPECT_TRUE(got);
  EXPECT_NE(0, child_lid);
  EXPECT_NE(port.lid, child_lid);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) close(fd);
  CloseDevice(&device);
}

TEST_F(DeviceTest, StatusStrings) {
  EXPECT_STREQ("success", ibv_wc_status_str(IBV_WC_SUCCESS));
  EXPECT_STREQ("remote access error", ibv_wc_status_str(IBV_WC_REM_ACCESS_ERR));
  EXPECT_STREQ("Work Request Flushed Error", ibv_wc_status_str(IBV_WC_WR_FLUSH_ERR));
  EXPECT_STREQ("PORT_ACTIVE", ibv_port_state_str(IBV_PORT_ACTIVE));
  EXPECT_EQ(0, ibv_fork_init());
}

}  // namespace
}  // namespace softverbs_test
