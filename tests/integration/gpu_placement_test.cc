// GPU/NIC affinity through the public API, without a GPU: fakecuda (COLL_CUDA_LIB) reports the
// CUDA device current at init and its PCI id, COLL_TOPO_XML describes a machine with one GPU
// under each package (tests/data/topo-2socket-2gpu.xml, PU 0 in package 0, PU 1 in package 1),
// and each rank checks where its progress thread runs (read back from /proc) and the chain
// GPU -> NIC -> cores that COLL_DEBUG=INFO prints.
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/child_check.h"
#include "support/ranks.h"
#include "support/threads.h"

namespace colltest {
namespace {

const std::string kXml = std::string(COLL_TEST_DATA_DIR) + "/topo-2socket-2gpu.xml";

std::string ProgressThreadCpus() { return ThreadCpus("coll-progress"); }

bool CanUsePus01() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

struct RankLog {
  std::string progress_cpus;
  std::string log;  // everything the rank wrote to stderr
};

// Init (stderr into a file), one non-blocking barrier to start the progress thread, its
// binding, destroy; then the log.
int InitAndObserve(int rank, int nranks, RankLog* out) {
  char path[] = "/tmp/coll-gpu-placement-XXXXXX";
  int fd = mkstemp(path);
  CCHECK(fd >= 0) << "mkstemp";
  unlink(path);
  const int saved = dup(2);
  dup2(fd, 2);
  int rc = RunWithComm(rank, nranks, [out](coll_comm_t comm, int, int) -> int {
    coll_request_t request = nullptr;
    CCHECK_OK(coll_ibarrier(comm, &request), comm);
    CCHECK_OK(coll_wait(&request), comm);
    out->progress_cpus = ProgressThreadCpus();
    return 0;
  });
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string log;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) log.append(buf, static_cast<size_t>(n));
  close(fd);
  out->log = log;
  if (rc != 0) fprintf(stderr, "%s", log.c_str());
  return rc;
}

RankOptions Options(const char* current_device) {
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv("tcp");
  options.env.push_back({"COLL_CUDA_LIB", COLL_TEST_FAKECUDA_LIB});
  options.env.push_back({"COLL_TOPO_XML", kXml});
  options.env.push_back({"COLL_DEBUG", "INFO"});
  options.env.push_back({"FAKECUDA_PCI_BUSIDS", "0000:03:00.0,0000:81:00.0"});
  if (current_device != nullptr) options.env.push_back({"FAKECUDA_CURRENT_DEVICE", current_device});
  return options;
}

#define CCHECK_LOGGED(log, text) \
  CCHECK((log).find(text) != std::string::npos) << "COLL_DEBUG=INFO did not say \"" << (text) << "\":\n" << (log)

TEST(GpuPlacement, ProgressThreadAndNicFollowTheGpuOnPackage1) {
  if (!CanUsePus01()) GTEST_SKIP() << "needs PUs 0 and 1 in this process's mask";
  GroupResult result = RunRanks(Options("1"), [](int rank, int nranks) -> int {
    RankLog seen;
    if (int rc = InitAndObserve(rank, nranks, &seen)) return rc;
    CCHECK_EQ(seen.progress_cpus, std::string("1"));
    CCHECK_LOGGED(seen.log, "GPU: CUDA device 1 (pci 0000:81:00.0), current at init");
    CCHECK_LOGGED(seen.log,
                  "GPU -> NIC -> cores: GPU cuda1 (pci 0000:81:00.0, NUMA 1, package 1, PUs 1) -> NIC mlx5_2/ib2 "
                  "(pci 0000:91:00.0, NUMA 1, package 1, PUs 1), same NUMA node as the GPU -> progress thread on "
                  "PUs 1, the GPU's NUMA node 1");
    CCHECK_LOGGED(seen.log, "progress thread runs on PUs 1 (the GPU's NUMA node 1;");
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(GpuPlacement, TheGpuOnPackage0TakesTheNicOnItsPcieSwitch) {
  if (!CanUsePus01()) GTEST_SKIP() << "needs PUs 0 and 1 in this process's mask";
  GroupResult result = RunRanks(Options("0"), [](int rank, int nranks) -> int {
    RankLog seen;
    if (int rc = InitAndObserve(rank, nranks, &seen)) return rc;
    CCHECK_EQ(seen.progress_cpus, std::string("0"));
    CCHECK_LOGGED(seen.log,
                  "GPU -> NIC -> cores: GPU cuda0 (pci 0000:03:00.0, NUMA 0, package 0, PUs 0) -> NIC mlx5_1/ib1 "
                  "(pci 0000:04:00.0, NUMA 0, package 0, PUs 0), same PCIe switch as the GPU -> progress thread "
                  "on PUs 0, the GPU's NUMA node 0");
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(GpuPlacement, WithoutACurrentContextTheCoresDecide) {
  GroupResult result = RunRanks(Options(nullptr), [](int rank, int nranks) -> int {
    RankLog seen;
    if (int rc = InitAndObserve(rank, nranks, &seen)) return rc;
    CCHECK_LOGGED(seen.log,
                  "GPU: none (no CUDA context is current on the thread that created the communicator): placing by "
                  "the process's cores");
    CCHECK_LOGGED(seen.log, "GPU -> NIC -> cores: no GPU -> NIC ");
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(GpuPlacement, AGpuHwlocDoesNotListIsSaidAndLeftOut) {
  RankOptions options = Options("0");
  for (auto& kv : options.env)
    if (kv.first == "FAKECUDA_PCI_BUSIDS") kv.second = "0000:44:00.0";
  GroupResult result = RunRanks(options, [](int rank, int nranks) -> int {
    RankLog seen;
    if (int rc = InitAndObserve(rank, nranks, &seen)) return rc;
    CCHECK_LOGGED(seen.log, "GPU pci 0000:44:00.0 is not in the hwloc topology of " + kXml +
                                ": placing by the process's cores instead");
    CCHECK_LOGGED(seen.log, "GPU -> NIC -> cores: no GPU -> NIC ");
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
}  // namespace colltest
