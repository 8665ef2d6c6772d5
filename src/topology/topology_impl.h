// Internal to src/topology/: the hwloc side of Topology, and conversions between hwloc
// objects/bitmaps and the hwloc-free types of topology.h. Read-only after load, like Topology.
#pragma once

#include <hwloc.h>

#include <memory>
#include <vector>

#include "topology/topology.h"

namespace coll {
namespace topo {

struct Topology::Impl {
  hwloc_topology_t topo = nullptr;
  std::vector<hwloc_obj_t> device_objs;  // device_objs[i] is Topology::devices()[i]

  ~Impl();
  // The hwloc object of a device of this topology; nullptr for a foreign device.
  hwloc_obj_t objectOf(const std::vector<PciDevice>& devices, const PciDevice& device) const;
};

struct BitmapDeleter {
  void operator()(hwloc_bitmap_s* bitmap) const { hwloc_bitmap_free(bitmap); }
};
using BitmapPtr = std::unique_ptr<hwloc_bitmap_s, BitmapDeleter>;

CpuSet ToCpuSet(hwloc_const_bitmap_t bitmap);
BitmapPtr ToBitmap(const CpuSet& cpus);  // nullptr only when out of memory
int OsIndex(hwloc_obj_t obj);             // -1 when unknown

// The only object of `type` whose cpuset includes `cpus`; nullptr when none or several.
hwloc_obj_t UniqueCovering(hwloc_topology_t topo, hwloc_obj_type_t type, hwloc_const_cpuset_t cpus);

// Works for I/O objects too (hwloc_get_common_ancestor_obj does not: their depths are
// negative).
hwloc_obj_t CommonAncestor(hwloc_obj_t a, hwloc_obj_t b);
Proximity ProximityOf(hwloc_topology_t topo, hwloc_obj_t a, hwloc_obj_t b);

// NICs and GPUs of a loaded topology in Topology::devices() order; fills `objs` to match.
std::vector<PciDevice> DiscoverDevices(hwloc_topology_t topo, std::vector<hwloc_obj_t>* objs);

}  // namespace topo
}  // namespace coll
