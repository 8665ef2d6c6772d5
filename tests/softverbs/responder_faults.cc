// Arming the responder faults of a process in its fabric node entry (see responder_faults.h).
// Thread-safety: takes the fabric lock.
#include "responder_faults.h"

namespace softverbs {

void ArmResponderFaults(Fabric* fabric, const Config& config) {
  FabricGuard guard(fabric);
  NodeEntry& node = fabric->shm().nodes[fabric->node()];
  if (config.rem_access_after >= 0) {
    node.rem_access_after = config.rem_access_after;
    node.writes_in = 0;
  }
  if (config.rnr_after >= 0) {
    node.rnr_after = config.rnr_after;
    node.recvs_consumed = 0;
  }
}

}  // namespace softverbs
