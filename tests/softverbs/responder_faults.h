// Fault injection on the responder side: SOFTVERBS_FAULT_REM_ACCESS_AFTER and
// SOFTVERBS_FAULT_RNR_AFTER (README.md). The settings and counts live in the process's node
// entry of the fabric, because the requester that must fail runs in another process.
// Thread-safety: ArmResponderFaults takes the fabric lock; the others need it held.
#pragma once

#include "config.h"
#include "fabric.h"

namespace softverbs {

// Arms the faults that `config` sets for this process, restarting their counts; a variable that
// is unset leaves the process's current setting alone. Called by ibv_open_device.
void ArmResponderFaults(Fabric* fabric, const Config& config);

// True when the next RDMA write into `node` must fail its remote access check: N writes into it
// have already succeeded.
inline bool RefuseRemoteWrite(const NodeEntry& node) {
  return node.rem_access_after >= 0 && node.writes_in >= uint64_t(node.rem_access_after);
}
inline void CountRemoteWrite(NodeEntry& node) { ++node.writes_in; }

// True when `node`'s QPs must look as if no receive were posted: N receives were consumed.
inline bool WithholdReceives(const NodeEntry& node) {
  return node.rnr_after >= 0 && node.recvs_consumed >= uint64_t(node.rnr_after);
}
inline void CountReceive(NodeEntry& node) { ++node.recvs_consumed; }

}  // namespace softverbs
