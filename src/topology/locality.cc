// hwloc helpers: bitmap conversion, covering objects and the Proximity of two objects.
// Read-only on a loaded topology; thread-safe.
#include <algorithm>
#include <utility>
#include <vector>

#include "topology/topology_impl.h"

namespace coll {
namespace topo {

Topology::Impl::~Impl() {
  if (topo != nullptr) hwloc_topology_destroy(topo);
}

hwloc_obj_t Topology::Impl::objectOf(const std::vector<PciDevice>& devices,
                                     const PciDevice& device) const {
  if (device.id < 0 || static_cast<size_t>(device.id) >= devices.size()) return nullptr;
  const PciDevice& own = devices[static_cast<size_t>(device.id)];
  if (own.name != device.name || own.pci_busid != device.pci_busid) return nullptr;
  return device_objs[static_cast<size_t>(device.id)];
}

CpuSet ToCpuSet(hwloc_const_bitmap_t bitmap) {
  if (bitmap == nullptr || hwloc_bitmap_weight(bitmap) < 0) return CpuSet();  // infinite
  std::vector<int> pus;
  for (int i = hwloc_bitmap_first(bitmap); i >= 0; i = hwloc_bitmap_next(bitmap, i)) {
    pus.push_back(i);
  }
  return CpuSet(std::move(pus));
}

BitmapPtr ToBitmap(const CpuSet& cpus) {
  BitmapPtr bitmap(hwloc_bitmap_alloc());
  if (!bitmap) return bitmap;
  for (int pu : cpus.pus()) hwloc_bitmap_set(bitmap.get(), static_cast<unsigned>(pu));
  return bitmap;
}

int OsIndex(hwloc_obj_t obj) {
  if (obj == nullptr || obj->os_index == HWLOC_UNKNOWN_INDEX) return -1;
  return static_cast<int>(obj->os_index);
}

hwloc_obj_t UniqueCovering(hwloc_topology_t topo, hwloc_obj_type_t type,
                           hwloc_const_cpuset_t cpus) {
  if (cpus == nullptr || hwloc_bitmap_iszero(cpus)) return nullptr;
  hwloc_obj_t found = nullptr;
  int count = 0;
  for (hwloc_obj_t obj = hwloc_get_next_obj_by_type(topo, type, nullptr); obj != nullptr;
       obj = hwloc_get_next_obj_by_type(topo, type, obj)) {
    if (obj->cpuset != nullptr && hwloc_bitmap_isincluded(cpus, obj->cpuset)) {
      found = obj;
      ++count;
    }
  }
  return count == 1 ? found : nullptr;
}

hwloc_obj_t CommonAncestor(hwloc_obj_t a, hwloc_obj_t b) {
  std::vector<hwloc_obj_t> chain;
  for (hwloc_obj_t obj = a; obj != nullptr; obj = obj->parent) chain.push_back(obj);
  for (hwloc_obj_t obj = b; obj != nullptr; obj = obj->parent) {
    if (std::find(chain.begin(), chain.end(), obj) != chain.end()) return obj;
  }
  return nullptr;
}

namespace {

Proximity ProximityOfCpus(hwloc_topology_t topo, hwloc_const_cpuset_t cpus) {
  if (UniqueCovering(topo, HWLOC_OBJ_NUMANODE, cpus) != nullptr) return Proximity::kNumaNode;
  if (UniqueCovering(topo, HWLOC_OBJ_PACKAGE, cpus) != nullptr) return Proximity::kPackage;
  return Proximity::kSystem;
}

}  // namespace

Proximity ProximityOf(hwloc_topology_t topo, hwloc_obj_t a, hwloc_obj_t b) {
  hwloc_obj_t common = CommonAncestor(a, b);
  if (common == nullptr) return Proximity::kSystem;
  if (common->type == HWLOC_OBJ_BRIDGE) {
    return common->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI ? Proximity::kPciSwitch
                                                                      : Proximity::kHostBridge;
  }
  if (hwloc_obj_type_is_io(common->type)) return Proximity::kPciSwitch;  // one PCI device
  return ProximityOfCpus(topo, common->cpuset);
}

const char* ProximityName(Proximity proximity) {
  switch (proximity) {
    case Proximity::kPciSwitch: return "same PCIe switch";
    case Proximity::kHostBridge: return "same host bridge";
    case Proximity::kNumaNode: return "same NUMA node";
    case Proximity::kPackage: return "same package";
    case Proximity::kSystem: return "across packages";
  }
  return "unknown";
}

}  // namespace topo
}  // namespace coll
