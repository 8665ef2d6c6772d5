// Where a communicator works: the hwloc plan for its GPU (the CUDA device current at init, from
// Config::gpu_busid) or, without one, its cores — the NIC nearest that GPU and the PUs of the
// GPU's NUMA node — and the progress thread bound there (COLL_PROGRESS_CPUS overrides), always
// within the process's CPU mask (for the progress thread: the mask it inherited from the thread
// that started it, which is the process's mask when the process is bound). Thread-safe.
#pragma once

#include <memory>

#include "base/config.h"
#include "topology/topology.h"

namespace coll {

// Loads the topology (COLL_TOPO_XML or this machine) and plans around config.gpu_busid's GPU;
// a GPU hwloc does not list is left out, with an INFO line saying so. Within the process's CPU
// mask, or with within_thread_mask the calling thread's.
Status PlanPlacement(const Config& config, int rank, std::unique_ptr<topo::Topology>* topology,
                     topo::Placement* out, bool within_thread_mask = false);

// Binds the calling thread. When that cannot be done it warns and the thread runs wherever
// the process may; it never fails the communicator.
void PlaceProgressThread(const Config& config, int rank);

}  // namespace coll
