// The RC queue-pair state machine of softverbs: which attribute masks each transition requires
// and allows (as the InfiniBand spec and the kernel's transition table define them), and the
// range of each attribute value. Thread-safety: pure functions.
#pragma once

#include <infiniband/verbs.h>

#include <string>

namespace softverbs {

// What the address vector is checked against: an InfiniBand port (LIDs, GRH optional) or a
// RoCE port (GRH required, LIDs ignored), and the length of its GID table.
struct PortModel {
  bool roce = false;
  uint32_t gid_tbl_len = 2;
  bool grh_required = false;  // IBV_QPF_GRH_REQUIRED
  uint32_t pkey_tbl_len = 1;
};

// 0 when moving an RC QP from `cur` with `mask`/`attr` is legal, else EINVAL with `why` set.
// The target state is attr.qp_state when mask has IBV_QP_STATE, else `cur`.
int CheckModify(ibv_qp_state cur, const ibv_qp_attr& attr, int mask, std::string* why,
                const PortModel& port = PortModel());

// Transport timeout of attr.timeout (4.096 us * 2^timeout), 0 meaning infinite.
uint64_t TransportTimeoutNs(uint8_t timeout);

// The RNR NAK delay encoded by a min_rnr_timer value (IB spec table 45).
uint64_t RnrDelayNs(uint8_t min_rnr_timer);

const char* QpStateName(int state);

}  // namespace softverbs
