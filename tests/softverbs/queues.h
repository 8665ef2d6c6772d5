// Send/receive queue mechanics shared by the verbs entry points and the progress engine:
// receive slots in the fabric heap, completions for send WQEs, flushing, moving a QP to ERR,
// and memory-key resolution. Thread-safety: "lock held" means the caller holds the fabric lock;
// functions taking a SoftQp also need that QP's mutex.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>

#include "fabric.h"
#include "objects.h"

namespace softverbs {

struct RecvSlot {
  uint64_t wr_id;
  uint32_t num_sge;
  uint32_t pad;
  ibv_sge sge[1];  // really rq_max_sge entries: see RecvStride
};

size_t RecvStride(uint32_t max_sge);
RecvSlot* RecvSlotAt(Fabric* fabric, QpEntry& qp, uint64_t n);  // lock held

// Lock held. Moves `qp_index` to ERR, flushes its posted receives, and when `event` >= 0 asks
// the owner to report that asynchronous event.
void MoveToError(Fabric* fabric, uint32_t qp_index, int event);

// Lock held: completes every posted, unconsumed receive with IBV_WC_WR_FLUSH_ERR.
void FlushRecvQueue(Fabric* fabric, uint32_t qp_index);

// Lock held. Produces the send completion of `wqe` if it is signalled or failed; returns false
// (and moves the QP to ERR) when the CQ overflowed.
bool CompleteSend(SoftQp* qp, const SendWqe& wqe, ibv_wc_status status, uint32_t byte_len);

// QP mutex held, fabric lock not held: completes every queued WQE with IBV_WC_WR_FLUSH_ERR.
void FlushSendQueue(SoftQp* qp);

ibv_wc_opcode SendCompletionOpcode(ibv_wr_opcode opcode);

// Lock held. Translates (key, addr, len) of MR-table entry owned by (pid, pd_id) to a host
// address in that process; false if the key is unknown, not that owner's, out of bounds or
// missing `need_access`. `remote` selects rkey (true) or lkey (false) matching.
bool ResolveKey(FabricLayout& shm, bool remote, uint32_t key, int32_t pid, uint32_t pd_id,
                uint64_t addr, uint64_t len, unsigned need_access, uint64_t* host);

}  // namespace softverbs
