// Where a communicator's progress thread runs: COLL_PROGRESS_CPUS, else the PUs the hwloc plan
// chose (nearest the NIC), always within the CPU mask the thread inherited from the one that
// started it (the process's mask when the process is bound). Thread-safe.
#pragma once

#include "base/config.h"

namespace coll {

// Binds the calling thread. When that cannot be done it warns and the thread runs wherever
// the process may; it never fails the communicator.
void PlaceProgressThread(const Config& config, int rank);

}  // namespace coll
