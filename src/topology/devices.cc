// Finding NICs and GPUs among hwloc's I/O objects, and their locality.
// Runs once at load on a private topology; PciDevice::describe is pure.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "topology/topology_impl.h"

namespace coll {
namespace topo {
namespace {

constexpr unsigned kNvidiaVendor = 0x10de;
constexpr unsigned kDisplayClass = 0x03;  // PCI base class: VGA, 3D, display controllers

// Subtypes of OS devices created by compute APIs, as opposed to a BMC's display adapter,
// which is a "GPU" OS device (DRM "card0") too.
bool IsComputeSubtype(const char* subtype) {
  static const char* const kCompute[] = {"CUDA", "NVML", "RSMI", "OpenCL", "LevelZero"};
  if (subtype == nullptr) return false;
  for (const char* name : kCompute) {
    if (std::strcmp(subtype, name) == 0) return true;
  }
  return false;
}

bool IsNicOsdev(hwloc_obj_t osdev) {
  return osdev->attr->osdev.type == HWLOC_OBJ_OSDEV_NETWORK ||
         osdev->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS;
}

bool IsGpuOsdev(hwloc_obj_t osdev) {
  hwloc_obj_osdev_type_t type = osdev->attr->osdev.type;
  return (type == HWLOC_OBJ_OSDEV_GPU || type == HWLOC_OBJ_OSDEV_COPROC) &&
         IsComputeSubtype(osdev->subtype);
}

bool IsNvidiaGpu(hwloc_obj_t obj) {
  return obj->type == HWLOC_OBJ_PCI_DEVICE && obj->attr->pcidev.vendor_id == kNvidiaVendor &&
         (obj->attr->pcidev.class_id >> 8) == kDisplayClass;
}

std::string BusId(hwloc_obj_t obj) {
  if (obj->type != HWLOC_OBJ_PCI_DEVICE) return std::string();
  const auto& pci = obj->attr->pcidev;
  return StrFormat("%04x:%02x:%02x.%01x", static_cast<unsigned>(pci.domain), pci.bus, pci.dev,
                   pci.func);
}

// One PCI device (or a lone OS device) and the OS devices it carries.
struct Candidate {
  hwloc_obj_t obj;
  std::vector<hwloc_obj_t> osdevs;
};

Candidate& CandidateFor(std::vector<Candidate>* all, hwloc_obj_t obj) {
  for (Candidate& c : *all) {
    if (c.obj == obj) return c;
  }
  all->push_back(Candidate{obj, {}});
  return all->back();
}

std::vector<Candidate> CollectCandidates(hwloc_topology_t topo) {
  std::vector<Candidate> all;
  for (hwloc_obj_t osdev = hwloc_get_next_osdev(topo, nullptr); osdev != nullptr;
       osdev = hwloc_get_next_osdev(topo, osdev)) {
    bool on_pci = osdev->parent != nullptr && osdev->parent->type == HWLOC_OBJ_PCI_DEVICE;
    CandidateFor(&all, on_pci ? osdev->parent : osdev).osdevs.push_back(osdev);
  }
  // GPUs whose driver hwloc does not see (no CUDA/NVML plugin) have no OS device.
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topo, nullptr); pci != nullptr;
       pci = hwloc_get_next_pcidev(topo, pci)) {
    if (IsNvidiaGpu(pci)) CandidateFor(&all, pci);
  }
  return all;
}

std::optional<DeviceKind> Classify(const Candidate& c) {
  if (std::any_of(c.osdevs.begin(), c.osdevs.end(), IsNicOsdev)) return DeviceKind::kNic;
  if (std::any_of(c.osdevs.begin(), c.osdevs.end(), IsGpuOsdev)) return DeviceKind::kGpu;
  if (IsNvidiaGpu(c.obj)) return DeviceKind::kGpu;
  return std::nullopt;
}

// The first OS device name that `accept` takes; empty if none does.
template <typename Pred>
std::string FirstName(const Candidate& c, Pred accept) {
  for (hwloc_obj_t osdev : c.osdevs) {
    if (osdev->name != nullptr && accept(osdev)) return osdev->name;
  }
  return std::string();
}

std::string PickName(const Candidate& c, DeviceKind kind) {
  std::string name;
  if (kind == DeviceKind::kNic) {
    // The verbs device ("mlx5_0") is what the ibverbs transport opens.
    name = FirstName(c, [](hwloc_obj_t o) {
      return o->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS;
    });
    if (name.empty()) name = FirstName(c, IsNicOsdev);
  } else {
    auto subtype_is = [](const char* s) {
      return [s](hwloc_obj_t o) {
        return o->subtype != nullptr && std::strcmp(o->subtype, s) == 0;
      };
    };
    name = FirstName(c, subtype_is("CUDA"));
    if (name.empty()) name = FirstName(c, subtype_is("NVML"));
    if (name.empty()) name = FirstName(c, IsGpuOsdev);
  }
  if (name.empty()) name = BusId(c.obj);
  return name;
}

PciDevice MakeDevice(hwloc_topology_t topo, const Candidate& c, DeviceKind kind) {
  PciDevice d;
  d.kind = kind;
  d.name = PickName(c, kind);
  for (hwloc_obj_t osdev : c.osdevs) {
    if (osdev->name != nullptr) d.os_names.push_back(osdev->name);
  }
  d.pci_busid = BusId(c.obj);
  hwloc_obj_t cpu_side = hwloc_get_non_io_ancestor_obj(topo, c.obj);
  if (cpu_side != nullptr) {
    d.local_cpus = ToCpuSet(cpu_side->cpuset);
    d.numa_node = OsIndex(UniqueCovering(topo, HWLOC_OBJ_NUMANODE, cpu_side->cpuset));
    d.package = OsIndex(UniqueCovering(topo, HWLOC_OBJ_PACKAGE, cpu_side->cpuset));
  }
  return d;
}

bool DeviceLess(const PciDevice& a, const PciDevice& b) {
  if (a.kind != b.kind) return a.kind < b.kind;
  if (a.pci_busid != b.pci_busid) return a.pci_busid < b.pci_busid;
  return a.name < b.name;
}

}  // namespace

std::vector<PciDevice> DiscoverDevices(hwloc_topology_t topo, std::vector<hwloc_obj_t>* objs) {
  std::vector<PciDevice> found;
  std::vector<hwloc_obj_t> found_objs;
  for (const Candidate& c : CollectCandidates(topo)) {
    std::optional<DeviceKind> kind = Classify(c);
    if (!kind) continue;
    found.push_back(MakeDevice(topo, c, *kind));
    found_objs.push_back(c.obj);
  }
  std::vector<size_t> order(found.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return DeviceLess(found[a], found[b]); });
  std::vector<PciDevice> devices;
  objs->clear();
  for (size_t i : order) {
    devices.push_back(found[i]);
    devices.back().id = static_cast<int>(devices.size() - 1);
    objs->push_back(found_objs[i]);
  }
  return devices;
}

std::string PciDevice::describe() const {
  std::string out = name;
  for (const std::string& other : os_names) {
    if (other != name) out += "/" + other;
  }
  out += " (";
  if (!pci_busid.empty() && pci_busid != name) out += "pci " + pci_busid + ", ";
  if (numa_node >= 0) out += "NUMA " + std::to_string(numa_node) + ", ";
  if (package >= 0) out += "package " + std::to_string(package) + ", ";
  return out + "PUs " + local_cpus.toString() + ")";
}

}  // namespace topo
}  // namespace coll
