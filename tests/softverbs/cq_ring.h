// Completion queue rings in the fabric heap: any process may produce into any CQ (a receive
// completion is produced by the sender's process); only the owner consumes.
// Thread-safety: CqPush/CqPoll need the fabric lock; CqHasEntries is lock-free (atomics).
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>

#include "fabric.h"

namespace softverbs {

struct ShmCqe {
  ibv_wc wc;
  uint64_t sq_seq;     // send completions: sequence number of the WQE in its send queue
  uint32_t from_send;  // 1: retires send-queue slots when polled; 0: retires one receive slot
  uint32_t qp_index;
};

// Appends one completion; on a full ring it drops it, marks the CQ overflowed and returns false.
bool CqPush(Fabric* fabric, uint32_t cq_index, const ShmCqe& cqe);

// Removes up to `max` completions into `out`; returns how many.
int CqPoll(Fabric* fabric, uint32_t cq_index, int max, ShmCqe* out);

bool CqHasEntries(FabricLayout& shm, uint32_t cq_index);

size_t CqRingBytes(uint32_t cap);

}  // namespace softverbs
