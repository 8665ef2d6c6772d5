// Loading a Topology (this machine or an XML file) and reading its CPU side.
// Loading happens before the object is shared; afterwards everything here is read-only.
#include "topology/topology.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "topology/topology_impl.h"

namespace coll {
namespace topo {
namespace {

constexpr const char* kThisMachine = "this machine";

std::vector<CpuGroup> Groups(hwloc_topology_t topo, hwloc_obj_type_t type) {
  std::vector<CpuGroup> groups;
  for (hwloc_obj_t obj = hwloc_get_next_obj_by_type(topo, type, nullptr); obj != nullptr;
       obj = hwloc_get_next_obj_by_type(topo, type, obj)) {
    groups.push_back(CpuGroup{OsIndex(obj), ToCpuSet(obj->cpuset)});
  }
  return groups;
}

Status UseXml(hwloc_topology_t topo, const char* path) {
  if (access(path, R_OK) != 0) {
    return ErrnoError(errno, std::string("cannot read hwloc XML topology ") + path);
  }
  // Binding must act on this machine even when its description comes from a file.
  if (hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM) != 0) {
    return ErrnoError(errno, "hwloc_topology_set_flags");
  }
  if (hwloc_topology_set_xml(topo, path) != 0) {
    return SystemError("hwloc cannot use XML topology %s: %s (HWLOC_XML_VERBOSE=1 says why)",
                       path, std::strerror(errno));
  }
  return Status::OK();
}

// hwloc's Linux backend reads the same PCI data from sysfs. The libpciaccess plugin adds
// load time and leaks ~1 KiB per load, which fails LeakSanitizer builds. Best effort: if
// hwloc refuses, discovery still works, only slower.
void SkipLibpciaccess(hwloc_topology_t topo) {
  (void)hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
}

}  // namespace

Topology::Topology() : impl_(std::make_unique<Impl>()) {}
Topology::~Topology() = default;

Status Topology::Load(std::unique_ptr<Topology>* out) {
  const char* xml = std::getenv("COLL_TOPO_XML");
  if (xml != nullptr && xml[0] != '\0') {
    return LoadXml(xml, out).withContext("COLL_TOPO_XML: ");
  }
  std::unique_ptr<Topology> topology(new Topology());
  COLL_RETURN_IF_ERROR(topology->loadFrom(nullptr));
  *out = std::move(topology);
  return Status::OK();
}

Status Topology::LoadXml(const std::string& path, std::unique_ptr<Topology>* out) {
  std::unique_ptr<Topology> topology(new Topology());
  COLL_RETURN_IF_ERROR(topology->loadFrom(path.c_str()));
  *out = std::move(topology);
  return Status::OK();
}

Status Topology::loadFrom(const char* xml_path) {
  source_ = xml_path != nullptr ? xml_path : kThisMachine;
  if (hwloc_topology_init(&impl_->topo) != 0) {
    impl_->topo = nullptr;
    return ErrnoError(errno, "hwloc_topology_init");
  }
  // PCI devices are filtered out by default; keep NICs, GPUs and the bridges above them.
  hwloc_topology_set_io_types_filter(impl_->topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (xml_path != nullptr) {
    COLL_RETURN_IF_ERROR(UseXml(impl_->topo, xml_path));
  } else {
    SkipLibpciaccess(impl_->topo);
  }
  if (hwloc_topology_load(impl_->topo) != 0) {
    return SystemError("hwloc_topology_load failed for %s: %s", source_.c_str(),
                       std::strerror(errno));
  }
  readCpus();
  devices_ = DiscoverDevices(impl_->topo, &impl_->device_objs);
  return Status::OK();
}

void Topology::readCpus() {
  packages_ = Groups(impl_->topo, HWLOC_OBJ_PACKAGE);
  numa_nodes_ = Groups(impl_->topo, HWLOC_OBJ_NUMANODE);
  cores_ = Groups(impl_->topo, HWLOC_OBJ_CORE);
  if (cores_.empty()) cores_ = Groups(impl_->topo, HWLOC_OBJ_PU);
  all_cpus_ = ToCpuSet(hwloc_topology_get_topology_cpuset(impl_->topo));
}

std::vector<PciDevice> Topology::nics() const {
  std::vector<PciDevice> out;
  for (const PciDevice& d : devices_) {
    if (d.kind == DeviceKind::kNic) out.push_back(d);
  }
  return out;
}

std::vector<PciDevice> Topology::gpus() const {
  std::vector<PciDevice> out;
  for (const PciDevice& d : devices_) {
    if (d.kind == DeviceKind::kGpu) out.push_back(d);
  }
  return out;
}

std::string Topology::describe() const {
  std::string out = StrFormat(
      "topology of %s: packages %zu, NUMA nodes %zu, cores %zu, PUs %zu (%s), NICs %zu, GPUs %zu",
      source_.c_str(), packages_.size(), numa_nodes_.size(), cores_.size(), all_cpus_.size(),
      all_cpus_.toString().c_str(), nics().size(), gpus().size());
  for (const PciDevice& d : devices_) {
    out += d.kind == DeviceKind::kNic ? "\n  NIC " : "\n  GPU ";
    out += d.describe();
  }
  return out;
}

}  // namespace topo
}  // namespace coll
