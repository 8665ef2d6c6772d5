// Device lookup, nearest NIC, progress-thread cores and thread binding.
// Const methods on a loaded Topology; thread-safe (hwloc binding calls are).
#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "topology/topology_impl.h"

namespace coll {
namespace topo {
namespace {

struct BusId {
  unsigned domain = 0, bus = 0, dev = 0, func = 0;
  bool operator==(const BusId& o) const {
    return domain == o.domain && bus == o.bus && dev == o.dev && func == o.func;
  }
};

// "dddd:bb:dd.f" with a domain of any width, or "bb:dd.f"; hex in either case.
std::optional<BusId> ParseBusId(const std::string& text) {
  BusId id;
  char tail = 0;
  const char* s = text.c_str();
  if (std::sscanf(s, "%x:%x:%x.%x%c", &id.domain, &id.bus, &id.dev, &id.func, &tail) == 4) {
    return id;
  }
  id.domain = 0;
  if (std::sscanf(s, "%x:%x.%x%c", &id.bus, &id.dev, &id.func, &tail) == 3) return id;
  return std::nullopt;
}

}  // namespace

std::optional<Device> Topology::findGpu(const std::string& pci_busid) const {
  std::optional<BusId> wanted = ParseBusId(pci_busid);
  if (!wanted) return std::nullopt;
  for (const Device& d : devices_) {
    if (d.kind == DeviceKind::kGpu && ParseBusId(d.pci_busid) == wanted) return d;
  }
  return std::nullopt;
}

std::optional<Device> Topology::findNic(const std::string& name) const {
  for (const Device& d : devices_) {
    if (d.kind != DeviceKind::kNic) continue;
    for (const std::string& os_name : d.os_names) {
      if (os_name == name) return d;
    }
  }
  return std::nullopt;
}

Proximity Topology::proximity(const Device& a, const Device& b) const {
  hwloc_obj_t obj_a = impl_->objectOf(devices_, a);
  hwloc_obj_t obj_b = impl_->objectOf(devices_, b);
  if (obj_a == nullptr || obj_b == nullptr) return Proximity::kSystem;
  return ProximityOf(impl_->topo, obj_a, obj_b);
}

Proximity Topology::proximityToCpuset(const Device& device, const CpuSet& cpus) const {
  hwloc_obj_t obj = impl_->objectOf(devices_, device);
  if (obj == nullptr) return Proximity::kSystem;
  BitmapPtr set = ToBitmap(cpus);
  hwloc_obj_t target = set ? hwloc_get_obj_covering_cpuset(impl_->topo, set.get()) : nullptr;
  if (target == nullptr) target = hwloc_get_root_obj(impl_->topo);
  return ProximityOf(impl_->topo, obj, target);
}

std::optional<Device> Topology::nearestNic(const Device& device) const {
  if (impl_->objectOf(devices_, device) == nullptr) return std::nullopt;
  std::optional<Device> best;
  Proximity best_proximity = Proximity::kSystem;
  for (const Device& nic : nics()) {
    Proximity p = proximity(device, nic);
    if (!best || p < best_proximity) {
      best = nic;
      best_proximity = p;
    }
  }
  return best;
}

std::optional<Device> Topology::nearestNicToCpuset(const CpuSet& cpus) const {
  std::optional<Device> best;
  Proximity best_proximity = Proximity::kSystem;
  for (const Device& nic : nics()) {
    Proximity p = proximityToCpuset(nic, cpus);
    if (!best || p < best_proximity) {
      best = nic;
      best_proximity = p;
    }
  }
  return best;
}

std::optional<Device> Topology::nearestNicAmong(const std::optional<Device>& gpu, const CpuSet& affinity,
                                                const std::vector<std::string>& names,
                                                Proximity* proximity) const {
  std::optional<Device> best;
  for (const Device& nic : nics()) {
    bool named = names.empty();
    for (const std::string& os_name : nic.os_names)
      for (const std::string& name : names) named = named || os_name == name;
    if (!named) continue;
    Proximity p = gpu ? this->proximity(*gpu, nic) : proximityToCpuset(nic, affinity);
    if (!best || p < *proximity) {
      best = nic;
      *proximity = p;
    }
  }
  return best;
}

Status Topology::currentAffinity(CpuSet* out) const {
  BitmapPtr set = ToBitmap(CpuSet());
  if (!set) return SystemError("currentAffinity: out of memory");
  if (hwloc_get_cpubind(impl_->topo, set.get(), HWLOC_CPUBIND_PROCESS) != 0) {
    return ErrnoError(errno, "hwloc_get_cpubind(HWLOC_CPUBIND_PROCESS)");
  }
  *out = ToCpuSet(set.get());
  return Status::OK();
}

Status Topology::threadAffinity(CpuSet* out) const {
  BitmapPtr set = ToBitmap(CpuSet());
  if (!set) return SystemError("threadAffinity: out of memory");
  if (hwloc_get_cpubind(impl_->topo, set.get(), HWLOC_CPUBIND_THREAD) != 0) {
    return ErrnoError(errno, "hwloc_get_cpubind(HWLOC_CPUBIND_THREAD)");
  }
  *out = ToCpuSet(set.get());
  return Status::OK();
}

CpuSet Topology::progressCpuset(const Device& device, const CpuSet& affinity) const {
  CpuSet near = device.local_cpus.intersect(affinity);
  return near.empty() ? affinity : near;
}

Status Topology::progressCpuset(const Device& device, CpuSet* out) const {
  CpuSet affinity;
  COLL_RETURN_IF_ERROR(currentAffinity(&affinity));
  *out = progressCpuset(device, affinity);
  return Status::OK();
}

Placement Topology::plan(const std::optional<Device>& gpu, const CpuSet& affinity) const {
  Placement p;
  p.gpu = gpu;
  p.affinity = affinity;
  p.nic = nearestNicAmong(gpu, affinity, {}, &p.nic_proximity);
  // Near the GPU first: the progress thread launches its reductions and copies.
  const std::optional<Device>& anchor = gpu ? gpu : p.nic;
  p.progress_cpus = anchor ? progressCpuset(*anchor, affinity) : affinity;
  if (!anchor) {
    p.progress_why = "no GPU and no NIC: the process's mask";
  } else if (anchor->local_cpus.intersect(affinity).empty()) {
    p.progress_why = StrFormat("none of the PUs %s near %s %s is in the process's mask: the whole mask",
                               anchor->local_cpus.toString().c_str(), gpu ? "GPU" : "NIC", anchor->name.c_str());
  } else if (anchor->numa_node >= 0) {
    p.progress_why = StrFormat("the %s's NUMA node %d", gpu ? "GPU" : "NIC", anchor->numa_node);
  } else {
    p.progress_why = StrFormat("the PUs near %s %s", gpu ? "GPU" : "NIC", anchor->name.c_str());
  }
  return p;
}

Status Topology::plan(const std::optional<Device>& gpu, Placement* out) const {
  CpuSet affinity;
  COLL_RETURN_IF_ERROR(currentAffinity(&affinity));
  *out = plan(gpu, affinity);
  return Status::OK();
}

Status Topology::bindCurrentThread(const CpuSet& cpus) const {
  if (cpus.empty()) return InvalidArgument("bindCurrentThread: empty CPU set");
  BitmapPtr set = ToBitmap(cpus);
  if (!set) return SystemError("bindCurrentThread: out of memory");
  if (hwloc_set_cpubind(impl_->topo, set.get(), HWLOC_CPUBIND_THREAD) != 0) {
    return ErrnoError(errno, "hwloc_set_cpubind(THREAD, PUs " + cpus.toString() + ")");
  }
  return Status::OK();
}

std::string Placement::describe() const {
  std::string out = "placement: GPU " + (gpu ? gpu->describe() : std::string("none"));
  out += ", NIC ";
  out += nic ? nic->describe() + " " + ProximityName(nic_proximity) + " as the " +
                   (gpu ? "GPU" : "affinity mask")
             : std::string("none");
  return out + ", progress thread on PUs " + progress_cpus.toString() + " of affinity " +
         affinity.toString();
}

std::string Placement::describeChain() const {
  std::string out = gpu ? "GPU " + gpu->describe() : std::string("no GPU");
  if (nic) {
    out += " -> NIC " + nic->describe() + ", " + ProximityName(nic_proximity) + " as the " +
           (gpu ? "GPU" : "process's cores");
  } else {
    out += " -> no NIC in the topology";
  }
  return out + " -> progress thread on PUs " + progress_cpus.toString() + ", " + progress_why +
         " (process mask " + affinity.toString() + ")";
}

}  // namespace topo
}  // namespace coll
