// Tests for src/topology/: ring order and host identity, CpuSet, and hwloc discovery on the
// handwritten XML machines in tests/data (topo-*.xml) and on the real machine.
// Single-threaded except where a test starts its own thread to bind it.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "topology/hosts.h"
#include "topology/topology.h"

namespace coll {
namespace topo {
namespace {

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string DataPath(const std::string& file) {
  const char* dir = std::getenv("COLL_TEST_DATA_DIR");
  if (dir != nullptr && dir[0] != '\0') return std::string(dir) + "/" + file;
  // Without the variable (a binary run by hand), use the source tree this file is in.
  std::string here = __FILE__;  // <root>/tests/unit/topology_test.cc
  return here.substr(0, here.rfind("/unit/")) + "/data/" + file;
}

std::unique_ptr<Topology> LoadData(const std::string& file) {
  std::unique_ptr<Topology> topology;
  Status s = Topology::LoadXml(DataPath(file), &topology);
  EXPECT_TRUE(s.ok()) << s.message();
  return topology;
}

CpuSet Cpus(std::vector<int> pus) { return CpuSet(std::move(pus)); }

TEST(RingOrderTest, OneHostKeepsRankOrder) {
  EXPECT_EQ(RingOrder({"a", "a", "a", "a"}), (std::vector<int>{0, 1, 2, 3}));
}

TEST(RingOrderTest, TwoHostsInterleavedGroupHosts) {
  EXPECT_EQ(RingOrder({"A", "B", "A", "B"}), (std::vector<int>{0, 2, 1, 3}));
}

TEST(RingOrderTest, SingleRankAndEmpty) {
  EXPECT_EQ(RingOrder({"a"}), (std::vector<int>{0}));
  EXPECT_TRUE(RingOrder({}).empty());
}

TEST(RingOrderTest, ThreeHostsOrderedByLowestRank) {
  // Host C's lowest rank (3) is above B's (1), so B's ranks come before C's.
  std::vector<std::string> hosts = {"A", "B", "B", "C", "A", "C", "B"};
  EXPECT_EQ(RingOrder(hosts), (std::vector<int>{0, 4, 1, 2, 6, 3, 5}));
  EXPECT_EQ(HostCount(hosts), 3);
  EXPECT_EQ(HostLocalRanks(hosts, 2), (std::vector<int>{1, 2, 6}));
  EXPECT_EQ(HostLocalRanks(hosts, 3), (std::vector<int>{3, 5}));
  EXPECT_TRUE(HostLocalRanks(hosts, 7).empty());
}

TEST(RingOrderTest, DescribeRingNamesEachLink) {
  EXPECT_EQ(DescribeRing({0, 2, 1, 3}, {"shm", "tcp", "shm", "tcp"}),
            "ring 0 -shm-> 2 -tcp-> 1 -shm-> 3 -tcp-> 0");
  EXPECT_EQ(DescribeRing({0, 1}, {"ibverbs"}), "ring 0 -ibverbs-> 1 -?-> 0");
  EXPECT_EQ(DescribeRing({0}, {}), "ring 0 (single rank)");
}

TEST(HostIdentityTest, TestOverrideReplacesIdentity) {
  ScopedEnv env("COLL_TEST_HOST_ID", "fake-host-7");
  EXPECT_EQ(HostIdentity(), "fake-host-7");
}

TEST(HostIdentityTest, RealIdentityIsHostnameAndBootId) {
  ScopedEnv env("COLL_TEST_HOST_ID", nullptr);
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  std::string id = HostIdentity();
  EXPECT_EQ(id.rfind(std::string(name), 0), 0u) << id;
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  if (boot && std::getline(boot, boot_id)) {
    EXPECT_EQ(id, std::string(name) + "/" + boot_id);
  }
  EXPECT_EQ(HostIdentity(), id);  // stable
}

TEST(CpuSetTest, SortsDedupesAndFormatsAsList) {
  CpuSet set = Cpus({11, 3, 0, 1, 2, 8, 10, 3, -1});
  EXPECT_EQ(set.pus(), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(set.toString(), "0-3,8,10-11");
  EXPECT_EQ(CpuSet().toString(), "(empty)");
  EXPECT_EQ(set.intersect(Cpus({3, 4, 8})), Cpus({3, 8}));
  EXPECT_TRUE(set.includes(Cpus({0, 10})));
  EXPECT_FALSE(set.includes(Cpus({4})));
}

class TwoSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topo_ = LoadData("topo-2socket-nic-gpu.xml");
    ASSERT_NE(topo_, nullptr);
  }
  Device Nic(const std::string& name) const { return *topo_->findNic(name); }
  Device Gpu(const std::string& busid) const { return *topo_->findGpu(busid); }

  std::unique_ptr<Topology> topo_;
};

TEST_F(TwoSocketTest, CpuSide) {
  EXPECT_EQ(topo_->source(), DataPath("topo-2socket-nic-gpu.xml"));
  ASSERT_EQ(topo_->packages().size(), 2u);
  EXPECT_EQ(topo_->packages()[0].cpus, Cpus({0, 1, 2, 3}));
  EXPECT_EQ(topo_->packages()[1].cpus, Cpus({4, 5, 6, 7}));
  ASSERT_EQ(topo_->numaNodes().size(), 2u);
  EXPECT_EQ(topo_->numaNodes()[1].os_index, 1);
  EXPECT_EQ(topo_->numaNodes()[1].cpus, Cpus({4, 5, 6, 7}));
  EXPECT_EQ(topo_->cores().size(), 8u);
  EXPECT_EQ(topo_->allCpus(), Cpus({0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(TwoSocketTest, ClassifiesNicsAndGpusButNotStorage) {
  std::vector<Device> nics = topo_->nics();
  ASSERT_EQ(nics.size(), 2u);
  EXPECT_EQ(nics[0].name, "mlx5_0");
  EXPECT_EQ(nics[0].os_names, (std::vector<std::string>{"mlx5_0", "ib0"}));
  EXPECT_EQ(nics[0].pci_busid, "0000:01:00.0");
  EXPECT_EQ(nics[0].numa_node, 0);
  EXPECT_EQ(nics[0].package, 0);
  EXPECT_EQ(nics[0].local_cpus, Cpus({0, 1, 2, 3}));
  EXPECT_EQ(nics[1].name, "mlx5_1");
  EXPECT_EQ(nics[1].numa_node, 1);
  EXPECT_EQ(nics[1].local_cpus, Cpus({4, 5, 6, 7}));

  std::vector<Device> gpus = topo_->gpus();
  ASSERT_EQ(gpus.size(), 2u);
  EXPECT_EQ(gpus[0].name, "cuda0");  // found through its CUDA OS device
  EXPECT_EQ(gpus[0].pci_busid, "0000:83:00.0");
  EXPECT_EQ(gpus[1].name, "0000:85:00.0");  // found through NVIDIA vendor + display class
  EXPECT_TRUE(gpus[1].os_names.empty());
  EXPECT_EQ(gpus[1].package, 1);
  EXPECT_EQ(topo_->devices().size(), 4u);  // the NVMe drive is neither
}

TEST_F(TwoSocketTest, FindsDevicesByBusIdAndName) {
  EXPECT_EQ(topo_->findGpu("0000:83:00.0")->name, "cuda0");
  EXPECT_EQ(topo_->findGpu("00000000:83:00.0")->name, "cuda0");  // nvidia-smi style
  EXPECT_EQ(topo_->findGpu("85:00.0")->pci_busid, "0000:85:00.0");
  EXPECT_FALSE(topo_->findGpu("0000:01:00.0"));  // a NIC
  EXPECT_FALSE(topo_->findGpu("not-a-bus-id"));
  EXPECT_EQ(topo_->findNic("ib1")->name, "mlx5_1");
  EXPECT_FALSE(topo_->findNic("eth9"));
}

TEST_F(TwoSocketTest, EachGpuGetsThePackageOneNic) {
  Device nic1 = Nic("mlx5_1");
  Device gpu_on_switch = Gpu("0000:83:00.0");
  Device gpu_on_root_port = Gpu("0000:85:00.0");
  EXPECT_EQ(topo_->nearestNic(gpu_on_switch)->name, "mlx5_1");
  EXPECT_EQ(topo_->nearestNic(gpu_on_root_port)->name, "mlx5_1");
  EXPECT_EQ(topo_->proximity(gpu_on_switch, nic1), Proximity::kPciSwitch);
  EXPECT_EQ(topo_->proximity(gpu_on_root_port, nic1), Proximity::kHostBridge);
  EXPECT_EQ(topo_->proximity(gpu_on_switch, Nic("mlx5_0")), Proximity::kSystem);
}

TEST_F(TwoSocketTest, NearestNicToCores) {
  EXPECT_EQ(topo_->nearestNicToCpuset(Cpus({0, 1, 2, 3}))->name, "mlx5_0");
  EXPECT_EQ(topo_->nearestNicToCpuset(Cpus({1}))->name, "mlx5_0");
  EXPECT_EQ(topo_->nearestNicToCpuset(Cpus({6}))->name, "mlx5_1");
  EXPECT_EQ(topo_->proximityToCpuset(Nic("mlx5_0"), Cpus({1})), Proximity::kNumaNode);
  // Cores of both packages: a tie, broken by device order.
  EXPECT_EQ(topo_->nearestNicToCpuset(Cpus({3, 4}))->name, "mlx5_0");
  EXPECT_EQ(topo_->proximityToCpuset(Nic("mlx5_1"), Cpus({3, 4})), Proximity::kSystem);
}

TEST_F(TwoSocketTest, ProgressCpusetsStayWithinAffinity) {
  Device gpu = Gpu("0000:83:00.0");
  EXPECT_EQ(topo_->progressCpuset(gpu, topo_->allCpus()), Cpus({4, 5, 6, 7}));
  EXPECT_EQ(topo_->progressCpuset(gpu, Cpus({2, 3, 5})), Cpus({5}));
  EXPECT_EQ(topo_->progressCpuset(gpu, Cpus({0, 1})), Cpus({0, 1}));  // none near: whole mask
  EXPECT_EQ(topo_->progressCpuset(Nic("mlx5_0"), topo_->allCpus()), Cpus({0, 1, 2, 3}));
}

TEST_F(TwoSocketTest, PlanForGpuAndForCpuOnly) {
  Placement with_gpu = topo_->plan(Gpu("0000:83:00.0"), topo_->allCpus());
  ASSERT_TRUE(with_gpu.nic);
  EXPECT_EQ(with_gpu.nic->name, "mlx5_1");
  EXPECT_EQ(with_gpu.nic_proximity, Proximity::kPciSwitch);
  EXPECT_EQ(with_gpu.progress_cpus, Cpus({4, 5, 6, 7}));
  EXPECT_NE(with_gpu.describe().find("mlx5_1"), std::string::npos) << with_gpu.describe();

  Placement cpu_only = topo_->plan(std::nullopt, Cpus({0, 1, 2, 3}));
  ASSERT_TRUE(cpu_only.nic);
  EXPECT_EQ(cpu_only.nic->name, "mlx5_0");
  EXPECT_EQ(cpu_only.progress_cpus, Cpus({0, 1, 2, 3}));
}

TEST_F(TwoSocketTest, DescribeListsMachineAndDevices) {
  std::string text = topo_->describe();
  EXPECT_NE(text.find("packages 2, NUMA nodes 2, cores 8"), std::string::npos) << text;
  EXPECT_NE(text.find("NIC mlx5_0/ib0 (pci 0000:01:00.0, NUMA 0"), std::string::npos) << text;
  EXPECT_NE(text.find("GPU cuda0/nvml0"), std::string::npos) << text;
}

TEST(SingleSocketTest, NoNicAndNoComputeGpu) {
  std::unique_ptr<Topology> topo = LoadData("topo-1socket-no-nic.xml");
  ASSERT_NE(topo, nullptr);
  EXPECT_EQ(topo->packages().size(), 1u);
  ASSERT_EQ(topo->cores().size(), 4u);
  EXPECT_EQ(topo->cores()[0].cpus, Cpus({0, 4}));  // hyperthreads
  EXPECT_TRUE(topo->nics().empty());
  EXPECT_TRUE(topo->gpus().empty()) << "the BMC's display adapter is not a GPU";
  EXPECT_FALSE(topo->nearestNicToCpuset(topo->allCpus()).has_value());

  std::unique_ptr<Topology> other = LoadData("topo-2socket-nic-gpu.xml");
  ASSERT_NE(other, nullptr);
  Device foreign_gpu = other->gpus()[0];
  EXPECT_FALSE(topo->nearestNic(foreign_gpu).has_value());

  Placement p = topo->plan(std::nullopt, Cpus({1, 5}));
  EXPECT_FALSE(p.nic.has_value());
  EXPECT_EQ(p.progress_cpus, Cpus({1, 5}));
  EXPECT_NE(p.describe().find("NIC none"), std::string::npos) << p.describe();
}

// GPU/NIC affinity on tests/data/topo-2socket-2gpu.xml: one GPU under each package, a NIC on
// the GPU's PCIe switch (package 0) or only on its NUMA node (package 1).
class TwoGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topo_ = LoadData("topo-2socket-2gpu.xml");
    ASSERT_NE(topo_, nullptr);
  }
  Device Gpu(const std::string& busid) const { return *topo_->findGpu(busid); }
  std::unique_ptr<Topology> topo_;
};

TEST_F(TwoGpuTest, SeesTwoGpusAndThreeNics) {
  ASSERT_EQ(topo_->gpus().size(), 2u);
  EXPECT_EQ(topo_->gpus()[0].name, "cuda0");
  EXPECT_EQ(topo_->gpus()[0].numa_node, 0);
  EXPECT_EQ(topo_->gpus()[1].name, "cuda1");
  EXPECT_EQ(topo_->gpus()[1].numa_node, 1);
  ASSERT_EQ(topo_->nics().size(), 3u);
  EXPECT_EQ(topo_->nics()[0].name, "mlx5_1");  // sorted by bus id: 04:00.0 before 05:00.0
  EXPECT_EQ(topo_->nics()[1].name, "mlx5_0");
  EXPECT_EQ(topo_->nics()[2].name, "mlx5_2");
}

TEST_F(TwoGpuTest, TheNicOnTheGpusSwitchWinsOverOneOnItsHostBridge) {
  Proximity p = Proximity::kSystem;
  std::optional<Device> nic = topo_->nearestNicAmong(Gpu("0000:03:00.0"), topo_->allCpus(), {}, &p);
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->name, "mlx5_1");
  EXPECT_EQ(p, Proximity::kPciSwitch);
  // Only mlx5_0 and mlx5_2 up (e.g. their ports are the active ones): the host bridge one.
  nic = topo_->nearestNicAmong(Gpu("0000:03:00.0"), topo_->allCpus(), {"mlx5_2", "ib0"}, &p);
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->name, "mlx5_0");
  EXPECT_EQ(p, Proximity::kHostBridge);
  // Only the other package's NIC: it, across packages.
  nic = topo_->nearestNicAmong(Gpu("0000:03:00.0"), topo_->allCpus(), {"mlx5_2"}, &p);
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->name, "mlx5_2");
  EXPECT_EQ(p, Proximity::kSystem);
  EXPECT_FALSE(topo_->nearestNicAmong(Gpu("0000:03:00.0"), topo_->allCpus(), {"eth7"}, &p));
}

TEST_F(TwoGpuTest, WithoutACommonSwitchTheNumaNodeDecides) {
  Proximity p = Proximity::kSystem;
  std::optional<Device> nic = topo_->nearestNicAmong(Gpu("0000:81:00.0"), topo_->allCpus(), {}, &p);
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->name, "mlx5_2");
  EXPECT_EQ(p, Proximity::kNumaNode);
  // Without a GPU the cores decide: PU 1 is package 1's.
  nic = topo_->nearestNicAmong(std::nullopt, Cpus({1}), {}, &p);
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->name, "mlx5_2");
}

TEST_F(TwoGpuTest, PlanPutsTheProgressThreadOnTheGpusNumaNode) {
  Placement p0 = topo_->plan(Gpu("0000:03:00.0"), topo_->allCpus());
  EXPECT_EQ(p0.nic->name, "mlx5_1");
  EXPECT_EQ(p0.progress_cpus, Cpus({0}));
  EXPECT_EQ(p0.describeChain(),
            "GPU cuda0 (pci 0000:03:00.0, NUMA 0, package 0, PUs 0) -> NIC mlx5_1/ib1 (pci 0000:04:00.0, NUMA 0, "
            "package 0, PUs 0), same PCIe switch as the GPU -> progress thread on PUs 0, the GPU's NUMA node 0 "
            "(process mask 0-1)");
  Placement p1 = topo_->plan(Gpu("0000:81:00.0"), topo_->allCpus());
  EXPECT_EQ(p1.nic->name, "mlx5_2");
  EXPECT_EQ(p1.progress_cpus, Cpus({1}));
  EXPECT_EQ(p1.describeChain(),
            "GPU cuda1 (pci 0000:81:00.0, NUMA 1, package 1, PUs 1) -> NIC mlx5_2/ib2 (pci 0000:91:00.0, NUMA 1, "
            "package 1, PUs 1), same NUMA node as the GPU -> progress thread on PUs 1, the GPU's NUMA node 1 "
            "(process mask 0-1)");
  // A process bound away from the GPU keeps its mask, and the chain says so.
  Placement away = topo_->plan(Gpu("0000:81:00.0"), Cpus({0}));
  EXPECT_EQ(away.progress_cpus, Cpus({0}));
  EXPECT_EQ(away.progress_why, "none of the PUs 1 near GPU cuda1 is in the process's mask: the whole mask");
  Placement none = topo_->plan(std::nullopt, Cpus({0}));
  EXPECT_EQ(none.nic->name, "mlx5_1");
  EXPECT_EQ(none.describeChain(),
            "no GPU -> NIC mlx5_1/ib1 (pci 0000:04:00.0, NUMA 0, package 0, PUs 0), same NUMA node as the process's "
            "cores -> progress thread on PUs 0, the NIC's NUMA node 0 (process mask 0)");
}

TEST(TopologyLoadTest, BadXmlPathNamesThePath) {
  std::unique_ptr<Topology> topo;
  const std::string path = "/nonexistent/topo-missing.xml";
  Status s = Topology::LoadXml(path, &topo);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), COLL_ERR_SYSTEM);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(topo, nullptr);

  ScopedEnv env("COLL_TOPO_XML", path.c_str());
  s = Topology::Load(&topo);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("COLL_TOPO_XML"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(TopologyLoadTest, MalformedXmlNamesThePath) {
  std::string path = ::testing::TempDir() + "topo-malformed-" + std::to_string(getpid()) + ".xml";
  std::ofstream(path) << "<?xml version=\"1.0\"?>\n<topology version=\"2.0\"><object type=";
  std::unique_ptr<Topology> topo;
  Status s = Topology::LoadXml(path, &topo);
  std::remove(path.c_str());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(TopologyLoadTest, EnvironmentSelectsXml) {
  ScopedEnv env("COLL_TOPO_XML", DataPath("topo-2socket-nic-gpu.xml").c_str());
  std::unique_ptr<Topology> topo;
  Status s = Topology::Load(&topo);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(topo->packages().size(), 2u);
}

TEST(RealMachineTest, LoadsWithCoresAndAffinity) {
  ScopedEnv env("COLL_TOPO_XML", nullptr);
  std::unique_ptr<Topology> topo;
  Status s = Topology::Load(&topo);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(topo->source(), "this machine");
  EXPECT_GE(topo->cores().size(), 1u);
  CpuSet affinity;
  ASSERT_TRUE(topo->currentAffinity(&affinity).ok());
  EXPECT_FALSE(affinity.empty());
  EXPECT_TRUE(topo->allCpus().includes(affinity)) << affinity.toString();
  Placement p;
  ASSERT_TRUE(topo->plan(std::nullopt, &p).ok());
  EXPECT_TRUE(affinity.includes(p.progress_cpus));
  std::cout << topo->describe() << "\n" << p.describe() << "\n";
}

TEST(RealMachineTest, BindsThreadWithinCurrentMask) {
  ScopedEnv env("COLL_TOPO_XML", nullptr);
  std::unique_ptr<Topology> topo;
  ASSERT_TRUE(Topology::Load(&topo).ok());
  CpuSet affinity;
  ASSERT_TRUE(topo->currentAffinity(&affinity).ok());
  Status whole = topo->bindCurrentThread(affinity);
  EXPECT_TRUE(whole.ok()) << whole.message();

  // On a thread of its own, bind to one PU and check the kernel agrees.
  int first = affinity.pus().front();
  Status one;
  cpu_set_t seen;
  CPU_ZERO(&seen);
  std::thread([&] {
    one = topo->bindCurrentThread(Cpus({first}));
    sched_getaffinity(0, sizeof(seen), &seen);
  }).join();
  ASSERT_TRUE(one.ok()) << one.message();
  EXPECT_EQ(CPU_COUNT(&seen), 1);
  EXPECT_TRUE(CPU_ISSET(first, &seen));

  // threadAffinity reads the calling thread's binding, which a new thread inherits.
  CpuSet inherited;
  Status read;
  std::thread([&] {
    if (!topo->bindCurrentThread(Cpus({first})).ok()) return;
    std::thread([&] { read = topo->threadAffinity(&inherited); }).join();
  }).join();
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(inherited.toString(), Cpus({first}).toString());

  Status empty = topo->bindCurrentThread(CpuSet());
  EXPECT_EQ(empty.code(), COLL_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace topo
}  // namespace coll
