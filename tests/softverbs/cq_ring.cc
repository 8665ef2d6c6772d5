// Completion rings in shared memory (see cq_ring.h).
// Thread-safety: callers hold the fabric lock, except for CqHasEntries.
#include "cq_ring.h"

#include "config.h"

namespace softverbs {
namespace {

ShmCqe* Ring(Fabric* fabric, const CqEntry& cq) {
  return reinterpret_cast<ShmCqe*>(fabric->HeapAt(cq.heap));
}

}  // namespace

size_t CqRingBytes(uint32_t cap) { return size_t(cap) * sizeof(ShmCqe); }

bool CqPush(Fabric* fabric, uint32_t cq_index, const ShmCqe& cqe) {
  CqEntry& cq = fabric->shm().cqs[cq_index];
  if (!cq.in_use) return false;
  if (cq.overflow) return false;
  if (cq.produced - cq.consumed >= cq.cap) {
    Logf("CQ %u overflow (capacity %u): completion for QP 0x%x lost", cq_index, cq.cap,
         cqe.wc.qp_num);
    AtomicStore(&cq.overflow, 1u);
    return false;
  }
  Ring(fabric, cq)[cq.produced % cq.cap] = cqe;
  AtomicStore(&cq.produced, cq.produced + 1);
  return true;
}

int CqPoll(Fabric* fabric, uint32_t cq_index, int max, ShmCqe* out) {
  CqEntry& cq = fabric->shm().cqs[cq_index];
  int n = 0;
  while (n < max && cq.consumed < cq.produced) {
    out[n++] = Ring(fabric, cq)[cq.consumed % cq.cap];
    AtomicStore(&cq.consumed, cq.consumed + 1);
  }
  return n;
}

bool CqHasEntries(FabricLayout& shm, uint32_t cq_index) {
  CqEntry& cq = shm.cqs[cq_index];
  return AtomicLoad(&cq.produced) != AtomicLoad(&cq.consumed) || AtomicLoad(&cq.overflow) != 0;
}

}  // namespace softverbs
