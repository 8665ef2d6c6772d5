// ibv_post_send / ibv_post_recv of softverbs (installed in ibv_context::ops). Posting validates
// synchronously what a real provider rejects at post time (state, queue depth, SGE count,
// inline size, opcode, flags: EINVAL/ENOMEM with *bad_wr set) and queues the WQE; the progress
// thread executes it. Inline data is copied at post time, other buffers when executed.
// Thread-safety: as libibverbs; each QP's queues are guarded by its mutex and the fabric lock.
#include <errno.h>

#include <algorithm>
#include <cstring>

#include "exports.h"
#include "objects.h"
#include "progress.h"
#include "queues.h"

namespace softverbs {
namespace {

constexpr unsigned kSendFlags =
    IBV_SEND_SIGNALED | IBV_SEND_SOLICITED | IBV_SEND_INLINE | IBV_SEND_FENCE;

bool KnownOpcode(ibv_wr_opcode opcode) {
  return opcode == IBV_WR_RDMA_WRITE || opcode == IBV_WR_RDMA_WRITE_WITH_IMM ||
         opcode == IBV_WR_SEND || opcode == IBV_WR_SEND_WITH_IMM || opcode == IBV_WR_RDMA_READ;
}

uint64_t SgeBytes(const ibv_send_wr& wr) {
  uint64_t total = 0;
  for (int i = 0; i < wr.num_sge; ++i) total += wr.sg_list[i].length;
  return total;
}

// QP mutex held.
int CheckSend(SoftQp* qp, const ibv_send_wr& wr, const char** why) {
  uint32_t state = AtomicLoad(&qp->entry().state);
  if (state != IBV_QPS_RTS && state != IBV_QPS_ERR) return *why = "QP not in RTS", EINVAL;
  if (qp->sq_posted - AtomicLoad(&qp->entry().sq_retired) >= qp->init.cap.max_send_wr) {
    return *why = "send queue full (unpolled or unsignalled WQEs hold its slots)", ENOMEM;
  }
  if (!KnownOpcode(wr.opcode)) return *why = "opcode not emulated", EINVAL;
  if (wr.num_sge < 0 || uint32_t(wr.num_sge) > qp->init.cap.max_send_sge) {
    return *why = "num_sge > max_send_sge", EINVAL;
  }
  if (wr.send_flags & ~kSendFlags) return *why = "unsupported send_flags", EINVAL;
  if (wr.send_flags & IBV_SEND_INLINE) {
    if (wr.opcode == IBV_WR_RDMA_READ) return *why = "inline RDMA_READ", EINVAL;
    if (SgeBytes(wr) > qp->init.cap.max_inline_data) {
      return *why = "inline data larger than max_inline_data", EINVAL;
    }
  }
  return 0;
}

uint64_t ReadyTime(SoftQp* qp) {
  SoftContext* ctx = qp->ctx;
  uint64_t now = NowNs();
  if (!ctx->config.seeded) return now;
  uint64_t delay;
  {
    std::lock_guard<std::mutex> lock(ctx->mu);
    delay = ctx->rng() % (uint64_t(ctx->config.max_delay_us) * 1000 + 1);
  }
  uint64_t after = qp->sq.empty() ? 0 : qp->sq.back().ready_ns;
  return std::max(now + delay, after);
}

SendWqe BuildWqe(SoftQp* qp, const ibv_send_wr& wr) {
  SendWqe wqe;
  wqe.wr_id = wr.wr_id;
  wqe.opcode = wr.opcode;
  wqe.signaled = qp->init.sq_sig_all || (wr.send_flags & IBV_SEND_SIGNALED);
  wqe.imm_data = wr.imm_data;
  wqe.remote_addr = wr.wr.rdma.remote_addr;
  wqe.rkey = wr.wr.rdma.rkey;
  wqe.is_inline = (wr.send_flags & IBV_SEND_INLINE) != 0;
  for (int i = 0; i < wr.num_sge; ++i) {
    const ibv_sge& sge = wr.sg_list[i];
    if (!wqe.is_inline) {
      wqe.sges.push_back(sge);
      continue;
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(uintptr_t(sge.addr));
    wqe.inline_data.insert(wqe.inline_data.end(), bytes, bytes + sge.length);
  }
  wqe.seq = qp->sq_posted++;
  wqe.ready_ns = ReadyTime(qp);
  return wqe;
}

// Fabric lock held.
int PostOneRecv(SoftQp* qp, const ibv_recv_wr& wr, const char** why) {
  Fabric* fabric = qp->ctx->fabric;
  QpEntry& e = qp->entry();
  if (e.state == IBV_QPS_RESET) return *why = "QP in RESET", EINVAL;
  if (wr.num_sge < 0 || uint32_t(wr.num_sge) > e.rq_max_sge) {
    return *why = "num_sge > max_recv_sge", EINVAL;
  }
  if (e.rq_posted - e.rq_retired >= e.rq_cap) {
    return *why = "receive queue full (completions not yet polled hold its slots)", ENOMEM;
  }
  RecvSlot* slot = RecvSlotAt(fabric, e, e.rq_posted);
  slot->wr_id = wr.wr_id;
  slot->num_sge = uint32_t(wr.num_sge);
  for (int i = 0; i < wr.num_sge; ++i) slot->sge[i] = wr.sg_list[i];
  ++e.rq_posted;
  if (e.state == IBV_QPS_ERR) FlushRecvQueue(fabric, qp->index);
  return 0;
}

}  // namespace

int PostSend(ibv_qp* qp_in, ibv_send_wr* wr, ibv_send_wr** bad_wr) {
  SoftQp* qp = SoftQp::From(qp_in);
  int rc = 0;
  {
    std::lock_guard<std::mutex> lock(qp->mu);
    for (; wr != nullptr; wr = wr->next) {
      const char* why = nullptr;
      rc = CheckSend(qp, *wr, &why);
      if (rc != 0) {
        Logf("ibv_post_send(QP 0x%x, wr_id %llu): %s", qp_in->qp_num,
             (unsigned long long)wr->wr_id, why);
        *bad_wr = wr;
        break;
      }
      qp->sq.push_back(BuildWqe(qp, *wr));
    }
  }
  KickProgress();
  return rc;
}

int PostRecv(ibv_qp* qp_in, ibv_recv_wr* wr, ibv_recv_wr** bad_wr) {
  SoftQp* qp = SoftQp::From(qp_in);
  std::lock_guard<std::mutex> lock(qp->mu);
  FabricGuard guard(qp->ctx->fabric);
  for (; wr != nullptr; wr = wr->next) {
    const char* why = nullptr;
    int rc = PostOneRecv(qp, *wr, &why);
    if (rc != 0) {
      Logf("ibv_post_recv(QP 0x%x, wr_id %llu): %s", qp_in->qp_num,
           (unsigned long long)wr->wr_id, why);
      *bad_wr = wr;
      return rc;
    }
  }
  return 0;
}

}  // namespace softverbs
