// The requester/responder logic of the emulated RC HCA: executes one send-queue WQE against the
// fabric (key and bounds checks, reachability of the peer QP, RNR, data movement, completions on
// both sides). Thread-safety: call with the QP's mutex held and the fabric lock not held; only
// the progress thread calls it.
#pragma once

#include <cstdint>

#include "objects.h"

namespace softverbs {

enum class StepResult {
  kDone,  // the WQE completed (successfully or not): pop it
  kWait,  // RNR or transport retry: try again at wqe.retry_ns
};

StepResult ExecuteWqe(SoftQp* qp, SendWqe& wqe, uint64_t now);

}  // namespace softverbs
