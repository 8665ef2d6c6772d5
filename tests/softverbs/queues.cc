// Send/receive queue mechanics (see queues.h).
// Thread-safety: as documented per function in queues.h.
#include "queues.h"

#include <cstring>

#include "cq_ring.h"

namespace softverbs {

uint64_t SendWqe::Length() const {
  if (is_inline) return inline_data.size();
  uint64_t total = 0;
  for (const ibv_sge& sge : sges) total += sge.length;
  return total;
}

size_t RecvStride(uint32_t max_sge) {
  return offsetof(RecvSlot, sge) + sizeof(ibv_sge) * (max_sge == 0 ? 1 : max_sge);
}

RecvSlot* RecvSlotAt(Fabric* fabric, QpEntry& qp, uint64_t n) {
  uint8_t* ring = fabric->HeapAt(qp.rq_heap);
  return reinterpret_cast<RecvSlot*>(ring + (n % qp.rq_cap) * qp.rq_stride);
}

void FlushRecvQueue(Fabric* fabric, uint32_t qp_index) {
  QpEntry& qp = fabric->shm().qps[qp_index];
  while (qp.rq_consumed < qp.rq_posted) {
    ShmCqe cqe;
    memset(&cqe, 0, sizeof(cqe));
    cqe.wc.wr_id = RecvSlotAt(fabric, qp, qp.rq_consumed)->wr_id;
    cqe.wc.status = IBV_WC_WR_FLUSH_ERR;
    cqe.wc.opcode = IBV_WC_RECV;
    cqe.wc.qp_num = qp.qpn;
    cqe.qp_index = qp_index;
    ++qp.rq_consumed;
    CqPush(fabric, qp.recv_cq, cqe);
  }
}

void MoveToError(Fabric* fabric, uint32_t qp_index, int event) {
  QpEntry& qp = fabric->shm().qps[qp_index];
  if (AtomicLoad(&qp.state) != IBV_QPS_ERR) {
    AtomicStore(&qp.state, uint32_t(IBV_QPS_ERR));
    if (event >= 0) qp.async_pending = uint32_t(event) + 1;
  }
  FlushRecvQueue(fabric, qp_index);
}

ibv_wc_opcode SendCompletionOpcode(ibv_wr_opcode opcode) {
  switch (opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM: return IBV_WC_RDMA_WRITE;
    case IBV_WR_RDMA_READ: return IBV_WC_RDMA_READ;
    default: return IBV_WC_SEND;
  }
}

bool CompleteSend(SoftQp* qp, const SendWqe& wqe, ibv_wc_status status, uint32_t byte_len) {
  if (status == IBV_WC_SUCCESS && !wqe.signaled) return true;
  ShmCqe cqe;
  memset(&cqe, 0, sizeof(cqe));
  cqe.wc.wr_id = wqe.wr_id;
  cqe.wc.status = status;
  cqe.wc.opcode = SendCompletionOpcode(wqe.opcode);
  cqe.wc.byte_len = byte_len;
  cqe.wc.qp_num = qp->qp.qp_num;
  cqe.sq_seq = wqe.seq;
  cqe.from_send = 1;
  cqe.qp_index = qp->index;
  Fabric* fabric = qp->ctx->fabric;
  if (CqPush(fabric, qp->entry().send_cq, cqe)) return true;
  MoveToError(fabric, qp->index, IBV_EVENT_QP_FATAL);
  return false;
}

void FlushSendQueue(SoftQp* qp) {
  if (qp->sq.empty()) return;
  FabricGuard guard(qp->ctx->fabric);
  for (const SendWqe& wqe : qp->sq) CompleteSend(qp, wqe, IBV_WC_WR_FLUSH_ERR, 0);
  qp->sq.clear();
}

bool ResolveKey(FabricLayout& shm, bool remote, uint32_t key, int32_t pid, uint32_t pd_id,
                uint64_t addr, uint64_t len, unsigned need_access, uint64_t* host) {
  const MrEntry& mr = shm.mrs[key & (kMaxMrs - 1)];
  if (!mr.in_use || (remote ? mr.rkey : mr.lkey) != key) return false;
  if (mr.pid != pid || mr.pd_id != pd_id) return false;
  if (addr < mr.iova || addr - mr.iova > mr.length || len > mr.length - (addr - mr.iova)) {
    return false;
  }
  if ((mr.access & need_access) != need_access) return false;
  *host = mr.addr + (addr - mr.iova);
  return true;
}

}  // namespace softverbs
