// Runs a Schedule over the communicator's two ring links on the calling thread, checking
// every chunk's sequence number and fingerprint, and bounding every wait by
// COLL_TIMEOUT_MS without progress. Any error is recorded on the communicator (sticky) and
// reported to the other ranks.
#pragma once

#include "collectives/schedule.h"
#include "comm/comm.h"

namespace coll {

Status RunSchedule(Communicator& comm, const Schedule& schedule, const CollDesc& desc);

// An empty Schedule whose vectors keep their capacity between calls on this thread, so the
// latency path allocates nothing. Valid until the next call on this thread.
Schedule& ReusableSchedule();

// "allreduce(count=1000, float32, sum)" — for messages.
std::string DescribeCall(const CollDesc& desc);

}  // namespace coll
