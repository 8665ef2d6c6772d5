// Execution of one RC send-queue WQE (see executor.h). Everything happens under the fabric lock,
// so a WQE's checks, data movement and both completions are atomic with respect to every other
// process: the only reorderings are those a real fabric allows (across QPs).
// Thread-safety: see executor.h.
#include "executor.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "copy.h"
#include "cq_ring.h"
#include "exports.h"
#include "liveness.h"
#include "qp_state.h"
#include "queues.h"
#include "responder_faults.h"

namespace softverbs {
namespace {

constexpr uint64_t kLivenessCacheNs = 1000000;
constexpr uint64_t kMaxTransportPollNs = 1000000;

struct Exec {
  Exec(SoftQp* q, SendWqe& w, uint64_t t)
      : qp(q), wqe(w), now(t), fabric(q->ctx->fabric), shm(fabric->shm()), me(q->entry()) {}
  SoftQp* qp;
  SendWqe& wqe;
  uint64_t now;
  Fabric* fabric;
  FabricLayout& shm;
  QpEntry& me;
  QpEntry* peer = nullptr;
  uint32_t peer_index = kNoIndex;
  std::vector<iovec> local;
  uint64_t length = 0;
};

StepResult Fail(Exec& x, ibv_wc_status status, const char* why) {
  Logf("QP 0x%x wr_id %llu failed: %s (%s)", x.me.qpn, (unsigned long long)x.wqe.wr_id,
       ibv_wc_status_str(status), why);
  CompleteSend(x.qp, x.wqe, status, 0);
  MoveToError(x.fabric, x.qp->index, -1);
  return StepResult::kDone;
}

StepResult Succeed(Exec& x) {
  ++x.qp->ctx->executed;
  CompleteSend(x.qp, x.wqe, IBV_WC_SUCCESS, uint32_t(x.length));
  return StepResult::kDone;
}

bool GatherLocal(Exec& x) {
  if (x.wqe.is_inline) {
    x.local.push_back(iovec{x.wqe.inline_data.data(), x.wqe.inline_data.size()});
    x.length = x.wqe.inline_data.size();
    return true;
  }
  unsigned need = x.wqe.opcode == IBV_WR_RDMA_READ ? IBV_ACCESS_LOCAL_WRITE : 0;
  for (const ibv_sge& sge : x.wqe.sges) {
    uint64_t host = 0;
    if (!ResolveKey(x.shm, false, sge.lkey, x.me.pid, x.me.pd_id, sge.addr, sge.length, need,
                    &host)) {
      return false;
    }
    x.local.push_back(iovec{reinterpret_cast<void*>(host), sge.length});
    x.length += sge.length;
  }
  return true;
}

// The index of `gid` in the node's table, or -1.
int FindGid(const NodeEntry& node, const uint8_t* gid) {
  static const uint8_t kZero[16] = {};
  if (memcmp(gid, kZero, 16) == 0) return -1;
  for (uint32_t i = 0; i < kGidCount; ++i) {
    if (memcmp(node.gid[i], gid, 16) == 0) return int(i);
  }
  return -1;
}

bool LinkLocal(const uint8_t* gid) { return gid[0] == 0xfe && (gid[1] & 0xc0) == 0x80; }

// RoCE: packets go by GID. A RoCE v1 frame or a link-local address stays in its L2 segment,
// and the receiver takes a packet only on an entry of the type the sender used.
const char* RoceUnreachable(const Exec& x, const NodeEntry& me, const NodeEntry& peer_node,
                            const QpEntry& peer) {
  uint32_t type = me.gid_type[x.me.sgid_index];
  bool typed = false;  // the peer has dgid as an entry of our type
  for (uint32_t i = 0; i < kGidCount; ++i)
    typed |= memcmp(peer_node.gid[i], x.me.dgid, 16) == 0 && peer_node.gid_type[i] == type;
  if (!typed) return "grh.dgid has no entry of the sgid's type at the peer (RoCE v1 vs v2)";
  bool local_only = type == IBV_GID_TYPE_ROCE_V1 || LinkLocal(x.me.dgid) || LinkLocal(me.gid[x.me.sgid_index]);
  if (local_only && me.l2_segment != peer_node.l2_segment)
    return "RoCE v1 or link-local GID does not route between L2 segments";
  if (FindGid(me, peer.dgid) < 0) return "peer QP's dgid is not one of our GIDs";
  return nullptr;
}

// Why a packet from this QP would not reach a responder that accepts it, or nullptr.
const char* Unreachable(Exec& x) {
  if (x.qp->ctx->PortDown()) return "port is down";
  uint32_t index = x.me.dest_qpn & (kMaxQps - 1);
  QpEntry& peer = x.shm.qps[index];
  if (!peer.in_use || peer.qpn != x.me.dest_qpn) return "no QP with dest_qp_num";
  const NodeEntry& node = x.shm.nodes[peer.node];
  const NodeEntry& me = x.shm.nodes[x.me.node];
  if (!node.in_use) return "peer node is gone";
  if (node.roce != me.roce) return "one port is RoCE, the other InfiniBand";
  if (!me.roce && node.lid != x.me.dlid) return "ah_attr.dlid is not the peer's LID";
  if (!me.roce && !x.me.is_global && memcmp(node.gid[0], me.gid[0], 8) != 0)
    return "the peer is in another subnet (its GID prefix differs): a GRH is needed";
  if ((peer.pkey & 0x7fff) != (x.me.pkey & 0x7fff)) return "the two QPs' P_Keys differ";
  if (x.me.is_global && FindGid(node, x.me.dgid) < 0) return "grh.dgid is not the peer's GID";
  if (me.roce) {
    if (const char* why = RoceUnreachable(x, me, node, peer)) return why;
  }
  if (!PeerAlive(peer.pid, peer.start_time, kLivenessCacheNs)) return "peer process died";
  uint32_t state = AtomicLoad(&peer.state);
  if (state != IBV_QPS_RTR && state != IBV_QPS_RTS) return "peer QP is not in RTR/RTS";
  if (peer.dest_qpn != x.me.qpn) return "peer QP is connected to another QP";
  if (!me.roce && peer.dlid != me.lid) return "peer QP's dlid is not our LID";
  if (peer.rq_psn != x.me.sq_psn) return "our sq_psn differs from the peer's rq_psn";
  x.peer = &peer;
  x.peer_index = index;
  return nullptr;
}

StepResult TransportRetry(Exec& x, const char* why) {
  uint64_t timeout = TransportTimeoutNs(x.qp->attr.timeout);
  if (x.wqe.give_up_ns == 0) {
    x.wqe.give_up_ns =
        timeout == 0 ? UINT64_MAX : x.now + timeout * (uint64_t(x.qp->attr.retry_cnt) + 1);
    Logf("QP 0x%x: peer unreachable (%s), retrying", x.me.qpn, why);
  }
  if (x.now >= x.wqe.give_up_ns) return Fail(x, IBV_WC_RETRY_EXC_ERR, why);
  uint64_t poll = timeout == 0 ? kMaxTransportPollNs : std::min(timeout, kMaxTransportPollNs);
  x.wqe.retry_ns = x.now + poll;
  return StepResult::kWait;
}

// Lock held: the node entry of the responder's process (its fault settings and counts).
NodeEntry& PeerNode(const Exec& x) { return x.shm.nodes[x.peer->node]; }

StepResult RnrRetry(Exec& x) {
  uint8_t limit = x.qp->attr.rnr_retry;
  if (limit != 7 && x.wqe.rnr_retries >= limit) {
    const char* why = WithholdReceives(PeerNode(x))
                          ? "receives withheld at the peer by SOFTVERBS_FAULT_RNR_AFTER"
                          : "no receive posted at the peer";
    return Fail(x, IBV_WC_RNR_RETRY_EXC_ERR, why);
  }
  ++x.wqe.rnr_retries;
  x.wqe.retry_ns = x.now + RnrDelayNs(uint8_t(x.peer->min_rnr_timer));
  return StepResult::kWait;
}

StepResult RemoteFault(Exec& x, ibv_wc_status status, const char* why, int peer_event) {
  MoveToError(x.fabric, x.peer_index, peer_event);
  return Fail(x, status, why);
}

// Lock held: takes the peer's next receive and completes it.
void DeliverRecv(Exec& x, ibv_wc_opcode opcode, ibv_wc_status status) {
  QpEntry& peer = *x.peer;
  ShmCqe cqe;
  memset(&cqe, 0, sizeof(cqe));
  cqe.wc.wr_id = RecvSlotAt(x.fabric, peer, peer.rq_consumed)->wr_id;
  cqe.wc.status = status;
  cqe.wc.opcode = opcode;
  cqe.wc.byte_len = uint32_t(x.length);
  cqe.wc.qp_num = peer.qpn;
  cqe.wc.src_qp = x.me.qpn;
  cqe.wc.slid = uint16_t(x.shm.nodes[x.me.node].lid);
  bool imm = x.wqe.opcode == IBV_WR_RDMA_WRITE_WITH_IMM || x.wqe.opcode == IBV_WR_SEND_WITH_IMM;
  if (imm) {
    cqe.wc.imm_data = x.wqe.imm_data;
    cqe.wc.wc_flags = IBV_WC_WITH_IMM;
  }
  cqe.qp_index = x.peer_index;
  ++peer.rq_consumed;
  CountReceive(PeerNode(x));
  if (!CqPush(x.fabric, peer.recv_cq, cqe)) {
    MoveToError(x.fabric, x.peer_index, IBV_EVENT_QP_FATAL);
  }
}

bool HasRecv(const Exec& x) {
  return x.peer->rq_consumed < x.peer->rq_posted && !WithholdReceives(PeerNode(x));
}

StepResult CopyFailed(Exec& x, int rc) {
  if (rc == ESRCH) return TransportRetry(x, "peer process died");
  return RemoteFault(x, IBV_WC_REM_ACCESS_ERR, "registered memory is no longer mapped",
                     IBV_EVENT_QP_ACCESS_ERR);
}

bool ResolveRemote(Exec& x, unsigned access, std::vector<iovec>* remote) {
  if ((x.peer->access_flags & access) != access) return false;
  if (x.length == 0) return true;  // IB: a zero-length RDMA does not validate R_Key and VA
  uint64_t host = 0;
  if (!ResolveKey(x.shm, true, x.wqe.rkey, x.peer->pid, x.peer->pd_id, x.wqe.remote_addr,
                  x.length, access, &host)) {
    return false;
  }
  remote->push_back(iovec{reinterpret_cast<void*>(host), x.length});
  return true;
}

StepResult DoWrite(Exec& x) {
  if (RefuseRemoteWrite(PeerNode(x))) {
    return RemoteFault(x, IBV_WC_REM_ACCESS_ERR,
                       "remote access refused by SOFTVERBS_FAULT_REM_ACCESS_AFTER at the peer",
                       IBV_EVENT_QP_ACCESS_ERR);
  }
  std::vector<iovec> remote;
  if (!ResolveRemote(x, IBV_ACCESS_REMOTE_WRITE, &remote)) {
    return RemoteFault(x, IBV_WC_REM_ACCESS_ERR, "rkey/bounds/access check failed at the peer",
                       IBV_EVENT_QP_ACCESS_ERR);
  }
  bool imm = x.wqe.opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
  if (imm && !HasRecv(x)) return RnrRetry(x);
  int rc = CopyToProcess(x.peer->pid, x.local, remote);
  if (rc != 0) return CopyFailed(x, rc);
  if (imm) DeliverRecv(x, IBV_WC_RECV_RDMA_WITH_IMM, IBV_WC_SUCCESS);
  CountRemoteWrite(PeerNode(x));
  return Succeed(x);
}

StepResult DoRead(Exec& x) {
  if (x.peer->max_dest_rd_atomic == 0) {
    return RemoteFault(x, IBV_WC_REM_INV_REQ_ERR, "peer max_dest_rd_atomic is 0",
                       IBV_EVENT_QP_REQ_ERR);
  }
  std::vector<iovec> remote;
  if (!ResolveRemote(x, IBV_ACCESS_REMOTE_READ, &remote)) {
    return RemoteFault(x, IBV_WC_REM_ACCESS_ERR, "rkey/bounds/access check failed at the peer",
                       IBV_EVENT_QP_ACCESS_ERR);
  }
  int rc = CopyFromProcess(x.peer->pid, x.local, remote);
  if (rc != 0) return CopyFailed(x, rc);
  return Succeed(x);
}

StepResult DoSend(Exec& x) {
  if (!HasRecv(x)) return RnrRetry(x);
  const RecvSlot* slot = RecvSlotAt(x.fabric, *x.peer, x.peer->rq_consumed);
  std::vector<iovec> remote;
  uint64_t room = 0;
  for (uint32_t i = 0; i < slot->num_sge && room < x.length; ++i) {
    const ibv_sge& sge = slot->sge[i];
    uint64_t host = 0;
    if (!ResolveKey(x.shm, false, sge.lkey, x.peer->pid, x.peer->pd_id, sge.addr, sge.length,
                    IBV_ACCESS_LOCAL_WRITE, &host)) {
      DeliverRecv(x, IBV_WC_RECV, IBV_WC_LOC_PROT_ERR);
      return RemoteFault(x, IBV_WC_REM_OP_ERR, "bad lkey in the peer's receive", -1);
    }
    uint64_t take = std::min<uint64_t>(sge.length, x.length - room);
    remote.push_back(iovec{reinterpret_cast<void*>(host), take});
    room += take;
  }
  if (room < x.length) {
    DeliverRecv(x, IBV_WC_RECV, IBV_WC_LOC_LEN_ERR);
    return RemoteFault(x, IBV_WC_REM_INV_REQ_ERR, "message longer than the peer's receive", -1);
  }
  int rc = CopyToProcess(x.peer->pid, x.local, remote);
  if (rc != 0) return CopyFailed(x, rc);
  DeliverRecv(x, IBV_WC_RECV, IBV_WC_SUCCESS);
  return Succeed(x);
}

// SOFTVERBS_FAULT_PORT_DOWN_AFTER: the port goes down (its WQEs find no peer from now on) and
// the progress thread posts IBV_EVENT_PORT_ERR.
void InjectPortDown(SoftContext* ctx) {
  if (ctx->config.port_down_after == 0 || ctx->port_fault_fired) return;
  if (ctx->executed < ctx->config.port_down_after) return;
  ctx->port_fault_fired = true;
  ctx->port_went_down = true;
  ctx->port_err_pending = true;
  Logf("port 1 goes down (SOFTVERBS_FAULT_PORT_DOWN_AFTER)");
}

bool InjectFault(Exec& x) {
  SoftContext* ctx = x.qp->ctx;
  InjectPortDown(ctx);
  if (ctx->config.qp_err_after == 0 || ctx->fault_fired) return false;
  if (ctx->executed < ctx->config.qp_err_after) return false;
  ctx->fault_fired = true;
  MoveToError(x.fabric, x.qp->index, IBV_EVENT_QP_FATAL);
  Fail(x, IBV_WC_RETRY_EXC_ERR, "injected by SOFTVERBS_FAULT_QP_ERR_AFTER");
  return true;
}

StepResult Dispatch(Exec& x) {
  if (InjectFault(x)) return StepResult::kDone;
  if (!GatherLocal(x)) return Fail(x, IBV_WC_LOC_PROT_ERR, "lkey/bounds/access check failed");
  uint64_t max_msg = x.qp->ctx->config.roce ? kRoceMaxMsgSize : kMaxMsgSize;
  if (x.length > max_msg) return Fail(x, IBV_WC_LOC_LEN_ERR, "message exceeds max_msg_sz");
  if (const char* why = Unreachable(x)) return TransportRetry(x, why);
  x.wqe.give_up_ns = 0;
  switch (x.wqe.opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM: return DoWrite(x);
    case IBV_WR_RDMA_READ: return DoRead(x);
    default: return DoSend(x);
  }
}

}  // namespace

StepResult ExecuteWqe(SoftQp* qp, SendWqe& wqe, uint64_t now) {
  Fabric* fabric = qp->ctx->fabric;
  FabricGuard guard(fabric);
  Exec x(qp, wqe, now);
  if (AtomicLoad(&x.me.state) == IBV_QPS_ERR) {
    CompleteSend(qp, wqe, IBV_WC_WR_FLUSH_ERR, 0);
    return StepResult::kDone;
  }
  return Dispatch(x);
}

}  // namespace softverbs
