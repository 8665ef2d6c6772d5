// PlanPlacement and PlaceProgressThread: the hwloc placement (topology/placement.cc) for the
// communicator's GPU, applied to the progress thread.
#include "comm/progress_placement.h"

#include <optional>
#include <string>

#include "base/log.h"

namespace coll {

Status PlanPlacement(const Config& config, int rank, std::unique_ptr<topo::Topology>* topology,
                     topo::Placement* out, bool within_thread_mask) {
  COLL_RETURN_IF_ERROR(topo::Topology::Load(topology));
  std::optional<topo::Device> gpu;
  if (!config.gpu_busid.empty()) {
    gpu = (*topology)->findGpu(config.gpu_busid);
    if (!gpu)
      COLL_INFO(rank, "GPU pci %s is not in the hwloc topology of %s: placing by the process's cores instead",
                config.gpu_busid.c_str(), (*topology)->source().c_str());
  }
  if (!within_thread_mask) return (*topology)->plan(gpu, out);
  topo::CpuSet inherited;
  COLL_RETURN_IF_ERROR((*topology)->threadAffinity(&inherited));
  *out = (*topology)->plan(gpu, inherited);
  return Status::OK();
}

// Says where it runs at COLL_DEBUG=INFO. The mask to respect is the one this thread
// inherited from the thread that started it (the first poster): a process bound by
// taskset, numactl or mpirun has it on every thread, and a caller that bound only its own
// thread (sched_setaffinity) is respected too, whatever other threads of the process
// (a runtime's, a sanitizer's) may use.
void PlaceProgressThread(const Config& config, int rank) {
  std::unique_ptr<topo::Topology> topology;
  topo::Placement placement;
  Status st = PlanPlacement(config, rank, &topology, &placement, /*within_thread_mask=*/true);
  if (!st.ok()) {
    COLL_WARN(rank, "progress thread left unbound: %s", st.message().c_str());
    return;
  }
  topo::CpuSet cpus = placement.progress_cpus;
  std::string why = placement.progress_why;
  if (!config.progress_cpus.empty()) {
    const topo::CpuSet wanted(config.progress_cpus);
    cpus = wanted.intersect(placement.affinity);
    why = "COLL_PROGRESS_CPUS";
    if (cpus.empty()) {
      COLL_WARN(rank, "COLL_PROGRESS_CPUS=%s lies outside the process's CPU mask (%s): the progress thread stays "
                "on the mask", wanted.toString().c_str(), placement.affinity.toString().c_str());
      cpus = placement.affinity;
      why = "the process's mask";
    }
  }
  if (cpus.empty()) return;
  st = topology->bindCurrentThread(cpus);
  if (!st.ok()) {
    COLL_WARN(rank, "progress thread left unbound: %s", st.message().c_str());
    return;
  }
  COLL_INFO(rank, "progress thread runs on PUs %s (%s; process mask %s)", cpus.toString().c_str(), why.c_str(),
            placement.affinity.toString().c_str());
}

}  // namespace coll
