// The ibverbs loader and device probe: a missing or foreign library is a clear "unavailable",
// dlvsym binds softverbs' versioned symbols, the port must be ACTIVE, COLL_IB_* parsing, and
// the RLIMIT_MEMLOCK check. Device-touching cases run in forked children (fresh caches).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "support/child_check.h"
#include "support/process_group.h"
#include "support/ranks.h"
#include "transport/ibverbs/device.h"
#include "transport/ibverbs/ib_link.h"
#include "transport/ibverbs/memory.h"
#include "transport/ibverbs/verbs_api.h"

namespace coll {
namespace ibverbs {
namespace {

using colltest::EnvList;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs fn in a forked child with env; expects exit 0.
void InChild(const EnvList& env, std::function<int()> fn) {
  colltest::ProcessGroup group(std::chrono::seconds(30));
  group.Spawn("child", env, std::move(fn));
  colltest::GroupResult r = group.Wait();
  EXPECT_TRUE(r.AllSucceeded()) << r.Describe();
}

#define REQUIRE_SOFTVERBS() COLL_REQUIRE_SOFTVERBS()

TEST(IbverbsLoaderTest, MissingLibraryIsUnsupportedNamingThePath) {
  const VerbsApi* api = nullptr;
  Status st = LoadVerbs("/nonexistent/libibverbs-missing.so.1", &api);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(api, nullptr);
  EXPECT_TRUE(Contains(st.message(), "/nonexistent/libibverbs-missing.so.1")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "COLL_IBVERBS_LIB")) << st.message();
  // Cached: the same answer again.
  EXPECT_EQ(LoadVerbs("/nonexistent/libibverbs-missing.so.1", &api).message(), st.message());
}

TEST(IbverbsLoaderTest, LibraryWithoutVerbsSymbolsIsUnsupported) {
  const VerbsApi* api = nullptr;
  Status st = LoadVerbs("libc.so.6", &api);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_TRUE(Contains(st.message(), "ibv_get_device_list@IBVERBS_1.1")) << st.message();
}

TEST(IbverbsLoaderTest, AvailableIsFalseWhenTheLibraryIsMissing) {
  InChild({{"COLL_IBVERBS_LIB", std::string("/nonexistent/libverbs.so")}}, [] {
    Config config;
    CCHECK(!Available(config));
    Status why = Unavailability();
    CCHECK(why.code() == COLL_ERR_UNSUPPORTED && Contains(why.message(), "/nonexistent/libverbs.so"))
        << why.message();
    std::unique_ptr<SendLink> link;
    LinkSetup setup;
    setup.config = &config;
    Status st = MakeSendLink(std::move(setup), &link);
    CCHECK(st.code() == COLL_ERR_UNSUPPORTED) << st.message();
    return 0;
  });
}

TEST(IbverbsLoaderTest, BindsSoftverbsByVersion) {
  REQUIRE_SOFTVERBS();
  const VerbsApi* api = nullptr;
  Status st = LoadVerbs(colltest::SoftverbsLibrary(), &api);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_NE(api, nullptr);
  EXPECT_NE(api->create_comp_channel, nullptr);  // IBVERBS_1.0 only
  EXPECT_NE(api->reg_mr_iova2, nullptr);         // IBVERBS_1.8
  int n = 0;
  ibv_device** list = api->get_device_list(&n);
  ASSERT_NE(list, nullptr);
  ASSERT_GE(n, 1);
  EXPECT_STREQ(api->get_device_name(list[0]), "softverbs0");
  api->free_device_list(list);
  EXPECT_TRUE(Contains(api->StatusName(IBV_WC_REM_ACCESS_ERR), "IBV_WC_REM_ACCESS_ERR"));
}

TEST(IbverbsLoaderTest, SoftverbsIsAvailableWithAnActivePort) {
  REQUIRE_SOFTVERBS();
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}}, [] {
    CCHECK(Available(Config())) << Unavailability().message();
    IbConfig config;
    CCHECK(IbConfig::FromEnv(&config).ok());
    std::shared_ptr<Device> a, b;
    Status st = Device::Open(config, &a);
    CCHECK(st.ok()) << st.message();
    CCHECK(Device::Open(config, &b).ok());
    CCHECK(a == b) << "the device is shared by the process";
    CCHECK(a->port() == 1 && !a->ethernet() && a->gidIndex() == -1) << a->describe();
    return 0;
  });
}

TEST(IbverbsLoaderTest, PortDownIsUnavailable) {
  REQUIRE_SOFTVERBS();
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}, {"SOFTVERBS_PORT_DOWN", std::string("1")}}, [] {
    CCHECK(!Available(Config()));
    Status why = Unavailability();
    CCHECK(Contains(why.message(), "no ACTIVE RDMA port") && Contains(why.message(), "softverbs0:1"))
        << why.message();
    return 0;
  });
}

TEST(IbverbsLoaderTest, UnknownHcaIsUnavailable) {
  REQUIRE_SOFTVERBS();
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}, {"COLL_IB_HCA", std::string("mlx5_9:1")}}, [] {
    Status why = Device::Probe([] {
      IbConfig c;
      IbConfig::FromEnv(&c);
      return c;
    }());
    CCHECK(Contains(why.message(), "COLL_IB_HCA=mlx5_9")) << why.message();
    return 0;
  });
}

TEST(IbverbsConfigTest, ParsesHcaAndRanges) {
  InChild({{"COLL_IB_HCA", std::string("mlx5_2:2")}, {"COLL_IB_TIMEOUT", std::string("18")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    CCHECK(c.hcas.size() == 1 && c.hcas[0].name == "mlx5_2" && c.hcas[0].port == 2 && c.timeout == 18 &&
           c.retry_cnt == 7)
        << c.describe();
    CCHECK(c.hcaAllows("mlx5_2", 2) && !c.hcaAllows("mlx5_2", 1) && !c.hcaAllows("mlx5_3", 2));
    return 0;
  });
  InChild({{"COLL_IB_HCA", std::string("mlx5_2:x")}}, [] {
    IbConfig c;
    Status st = IbConfig::FromEnv(&c);
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT && Contains(st.message(), "COLL_IB_HCA")) << st.message();
    return 0;
  });
  InChild({{"COLL_IB_RETRY_CNT", std::string("8")}}, [] {
    IbConfig c;
    Status st = IbConfig::FromEnv(&c);
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT && Contains(st.message(), "COLL_IB_RETRY_CNT")) << st.message();
    return 0;
  });
}

// COLL_IB_HCA as NCCL_IB_HCA: a list of name prefixes with optional ports, '=' for exact
// names, '^' to exclude.
TEST(IbverbsConfigTest, HcaListsPrefixesExactNamesAndExclusion) {
  InChild({{"COLL_IB_HCA", std::string("mlx5_0:1,mlx5_1")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    CCHECK(c.hcaAllows("mlx5_0", 1) && !c.hcaAllows("mlx5_0", 2) && c.hcaAllows("mlx5_1", 2));
    CCHECK(c.hcaAllows("mlx5_10", 1));  // a prefix, as NCCL
    CCHECK(!c.hcaAllows("mlx5_2", 1) && !c.hcaMayAllow("mlx5_2") && c.hcaMayAllow("mlx5_0"));
    return 0;
  });
  InChild({{"COLL_IB_HCA", std::string("=mlx5_1")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    CCHECK(c.hcaAllows("mlx5_1", 1) && !c.hcaAllows("mlx5_10", 1));
    return 0;
  });
  InChild({{"COLL_IB_HCA", std::string("^mlx5_2,mlx5_3:2")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    CCHECK(!c.hcaAllows("mlx5_2", 1) && !c.hcaMayAllow("mlx5_2") && c.hcaAllows("mlx5_3", 1) &&
           !c.hcaAllows("mlx5_3", 2) && c.hcaMayAllow("mlx5_3") && c.hcaAllows("rxe0", 1));
    return 0;
  });
  InChild({{"COLL_IB_HCA", std::string("mlx5_0,,mlx5_1")}}, [] {
    IbConfig c;
    Status st = IbConfig::FromEnv(&c);
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT && Contains(st.message(), "COLL_IB_HCA=mlx5_0,,mlx5_1")) << st.message();
    return 0;
  });
}

TEST(IbverbsLoaderTest, ExcludedHcaIsUnavailableNamingTheDevices) {
  REQUIRE_SOFTVERBS();
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}, {"COLL_IB_HCA", std::string("^softverbs")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    Status why = Device::Probe(c);
    CCHECK(why.code() == COLL_ERR_UNSUPPORTED && Contains(why.message(), "COLL_IB_HCA=^softverbs") &&
           Contains(why.message(), "its devices: softverbs0"))
        << why.message();
    return 0;
  });
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}, {"COLL_IB_HCA", std::string("mlx5_0,softverbs0:1")}},
          [] {
            IbConfig c;
            CCHECK(IbConfig::FromEnv(&c).ok());
            Status st = Device::Probe(c);
            CCHECK(st.ok()) << st.message();
            return 0;
          });
}

// RC over iWARP cannot carry RDMA write with immediate, which every chunk is: such a device
// is never chosen, and the reason says so.
TEST(IbverbsLoaderTest, IwarpDeviceIsUnavailableSayingWhy) {
  REQUIRE_SOFTVERBS();
  InChild({{"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()}, {"SOFTVERBS_TRANSPORT", std::string("iwarp")}}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    Status why = Device::Probe(c);
    CCHECK(why.code() == COLL_ERR_UNSUPPORTED && Contains(why.message(), "softverbs0: iWARP (the links need RDMA write "
                                                                         "with immediate, which iWARP lacks)"))
        << why.message();
    return 0;
  });
}

TEST(IbverbsConfigTest, DefaultsAndGidChoiceSettings) {
  InChild({}, [] {
    IbConfig c;
    CCHECK(IbConfig::FromEnv(&c).ok());
    CCHECK(c.timeout == 20 && c.gid_index == -1 && c.gid_policy.family == 0 && c.gid_policy.range.family == 0)
        << c.describe();
    return 0;
  });
  InChild({{"COLL_IB_ADDR_FAMILY", std::string("AF_INET6")}, {"COLL_IB_ADDR_RANGE", std::string("fd00::/8")},
           {"COLL_SOCKET_IFNAME", std::string("lo")}},
          [] {
            IbConfig c;
            CCHECK(IbConfig::FromEnv(&c).ok());
            CCHECK(c.gid_policy.family == AF_INET6 && c.gid_policy.range.family == AF_INET6 &&
                   c.gid_policy.range.prefix == 8 && c.gid_policy.ifindex != 0)
                << c.describe();
            CCHECK(c.gidSettings() == "COLL_IB_ADDR_FAMILY=AF_INET6 COLL_IB_ADDR_RANGE=fd00::/8") << c.gidSettings();
            return 0;
          });
  InChild({{"COLL_IB_ADDR_RANGE", std::string("10.0.0.0/40")}}, [] {
    IbConfig c;
    Status st = IbConfig::FromEnv(&c);
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT && Contains(st.message(), "COLL_IB_ADDR_RANGE=10.0.0.0/40"))
        << st.message();
    return 0;
  });
  InChild({{"COLL_IB_ADDR_FAMILY", std::string("inet")}}, [] {
    IbConfig c;
    Status st = IbConfig::FromEnv(&c);
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT && Contains(st.message(), "COLL_IB_ADDR_FAMILY=inet")) << st.message();
    return 0;
  });
}

// Drops CAP_IPC_LOCK from this process, so RLIMIT_MEMLOCK applies to it.
bool DropIpcLock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[0].effective &= ~(1u << CAP_IPC_LOCK);
  data[0].permitted &= ~(1u << CAP_IPC_LOCK);
  return syscall(SYS_capset, &header, data) == 0;
}

TEST(IbverbsMemoryTest, MemlockTooLowNamesTheLimitAndTheSize) {
  InChild({}, [] {
    rlimit lim{65536, 65536};
    CCHECK(setrlimit(RLIMIT_MEMLOCK, &lim) == 0);
    CCHECK(DropIpcLock());
    Status st = CheckMemlock(size_t{1} << 20, "receive pool for rank 1");
    CCHECK(st.code() == COLL_ERR_SYSTEM) << st.message();
    CCHECK(Contains(st.message(), "RLIMIT_MEMLOCK") && Contains(st.message(), "65536") &&
           Contains(st.message(), "1048576") && Contains(st.message(), "receive pool for rank 1"))
        << st.message();
    CCHECK(CheckMemlock(4096, "small").ok());
    return 0;
  });
}

}  // namespace
}  // namespace ibverbs
}  // namespace coll
