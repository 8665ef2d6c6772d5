// The machine as hwloc sees it: packages, NUMA nodes, cores, NICs and GPUs with their
// locality, the NIC nearest a GPU or a set of cores, and where to run the progress thread.
// A Topology is immutable once loaded: const methods may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "topology/cpu_set.h"

namespace coll {
namespace topo {

// A package, NUMA node or core.
struct CpuGroup {
  int os_index = -1;  // -1 when hwloc does not know it
  CpuSet cpus;
};

enum class DeviceKind { kNic, kGpu };

// How close two things are in the machine; smaller is closer.
enum class Proximity {
  kPciSwitch = 0,  // below a common PCI-to-PCI bridge (one PCIe switch or root port)
  kHostBridge,     // below a common host bridge (one root complex)
  kNumaNode,       // local to the same NUMA node
  kPackage,        // same package (socket), different NUMA nodes
  kSystem,         // across the inter-socket link
};
const char* ProximityName(Proximity proximity);

struct Device {
  DeviceKind kind = DeviceKind::kNic;
  int id = -1;                        // index in Topology::devices()
  std::string name;                   // "mlx5_0", "eth0", "cuda0", else the PCI bus id
  std::vector<std::string> os_names;  // every OS device name: {"mlx5_0", "ib0"}
  std::string pci_busid;              // "0000:3b:00.0"; empty if not seen on PCI
  CpuSet local_cpus;                  // PUs of the nearest CPU-side object
  int numa_node = -1;                 // OS index; -1 when local to several or unknown
  int package = -1;                   // OS index; -1 when local to several or unknown

  // "mlx5_0 (pci 0000:01:00.0, NUMA 0, PUs 0-3)".
  std::string describe() const;
};

// Where a communicator's traffic and progress thread should live, and why.
struct Placement {
  std::optional<Device> gpu;      // the GPU served, if any
  std::optional<Device> nic;      // nearest NIC to the GPU, else to the affinity mask
  Proximity nic_proximity = Proximity::kSystem;
  CpuSet affinity;                // the process's mask the plan was made within
  CpuSet progress_cpus;           // where to bind the progress thread
  std::string progress_why;       // "the GPU's NUMA node 1", "near NIC mlx5_0", ...

  // One line for COLL_DEBUG=INFO.
  std::string describe() const;
  // The chain for COLL_DEBUG=INFO: "GPU cuda1 (...) -> NIC mlx5_2 (...), same NUMA node as the
  // GPU -> progress thread on PUs 1, the GPU's NUMA node 1 (process mask 0-1)".
  std::string describeChain() const;
};

class Topology {
 public:
  // This machine, or the hwloc XML file named by COLL_TOPO_XML when that is set.
  static Status Load(std::unique_ptr<Topology>* out);
  // An hwloc v2 XML file (lstopo --of xml). Binding still acts on this machine.
  static Status LoadXml(const std::string& path, std::unique_ptr<Topology>* out);

  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::string& source() const { return source_; }  // "this machine" or the XML path
  const std::vector<CpuGroup>& packages() const { return packages_; }
  const std::vector<CpuGroup>& numaNodes() const { return numa_nodes_; }
  // Physical cores; where hwloc reports none, one per PU.
  const std::vector<CpuGroup>& cores() const { return cores_; }
  const CpuSet& allCpus() const { return all_cpus_; }

  // NICs first, then GPUs; each group sorted by PCI bus id, then name.
  const std::vector<Device>& devices() const { return devices_; }
  std::vector<Device> nics() const;
  std::vector<Device> gpus() const;
  // By bus id in any case, with or without the domain ("0000:3B:00.0", "3b:00.0").
  std::optional<Device> findGpu(const std::string& pci_busid) const;
  // By any of its OS names ("mlx5_0" or "ib0").
  std::optional<Device> findNic(const std::string& name) const;

  Proximity proximity(const Device& a, const Device& b) const;
  Proximity proximityToCpuset(const Device& device, const CpuSet& cpus) const;
  // Closest NIC by Proximity; ties go to the first in devices(). Empty when the machine
  // has no NIC (or `device` is not from this topology).
  std::optional<Device> nearestNic(const Device& device) const;
  std::optional<Device> nearestNicToCpuset(const CpuSet& cpus) const;
  // The NIC nearest `gpu` (without one: nearest `affinity`) among those with one of `names` as
  // an OS name (the RDMA ports that are up); every NIC when `names` is empty. Ties go to the
  // first in devices(). Sets *proximity when found.
  std::optional<Device> nearestNicAmong(const std::optional<Device>& gpu, const CpuSet& affinity,
                                        const std::vector<std::string>& names, Proximity* proximity) const;

  // The union of the process's threads' CPU bindings.
  Status currentAffinity(CpuSet* out) const;
  // The calling thread's CPU binding (what a thread it starts inherits).
  Status threadAffinity(CpuSet* out) const;
  // device.local_cpus within `affinity`; all of `affinity` when they do not meet.
  CpuSet progressCpuset(const Device& device, const CpuSet& affinity) const;
  // The same within currentAffinity().
  Status progressCpuset(const Device& device, CpuSet* out) const;

  // NIC near the GPU (or near `affinity` without one); progress cores near the GPU,
  // else near the NIC, else all of `affinity`.
  Placement plan(const std::optional<Device>& gpu, const CpuSet& affinity) const;
  Status plan(const std::optional<Device>& gpu, Placement* out) const;

  Status bindCurrentThread(const CpuSet& cpus) const;

  // A summary line, then one line per device, for COLL_DEBUG=INFO.
  std::string describe() const;

  struct Impl;  // hwloc handles; defined in topology_impl.h

 private:
  Topology();
  Status loadFrom(const char* xml_path);
  void readCpus();

  std::unique_ptr<Impl> impl_;
  std::string source_;
  std::vector<CpuGroup> packages_;
  std::vector<CpuGroup> numa_nodes_;
  std::vector<CpuGroup> cores_;
  CpuSet all_cpus_;
  std::vector<Device> devices_;
};

}  // namespace topo
}  // namespace coll
