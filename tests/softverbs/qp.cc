// RC queue pairs of softverbs: creation (QP-table entry and receive ring in the fabric), the
// strictly checked state machine of ibv_modify_qp, ibv_query_qp and destruction.
// Thread-safety: as libibverbs; a QP's mutex serialises modify/query/post on it.
#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "exports.h"
#include "objects.h"
#include "progress.h"
#include "qp_state.h"
#include "queues.h"

namespace softverbs {
namespace {

ibv_qp* Fail(int error, const char* why) {
  Logf("ibv_create_qp: %s", why);
  errno = error;
  return nullptr;
}

const char* CheckInitAttr(ibv_context* context, const ibv_qp_init_attr& init) {
  const ibv_qp_cap& cap = init.cap;
  if (init.send_cq == nullptr || init.recv_cq == nullptr) return "send_cq and recv_cq required";
  if (init.send_cq->context != context || init.recv_cq->context != context) {
    return "CQ of another context";
  }
  if (cap.max_send_wr < 1 || cap.max_send_wr > uint32_t(kMaxQpWr)) return "max_send_wr range";
  if (cap.max_recv_wr > uint32_t(kMaxQpWr)) return "max_recv_wr > max_qp_wr";
  if (cap.max_send_sge > uint32_t(kMaxSge) || cap.max_recv_sge > uint32_t(kMaxSge)) {
    return "max_sge exceeded";
  }
  if (cap.max_inline_data > kMaxInline) return "max_inline_data exceeded";
  return nullptr;
}

uint32_t AllocQpEntry(Fabric* fabric, SoftPd* pd, const ibv_qp_init_attr& init) {
  FabricGuard guard(fabric);
  FabricLayout& shm = fabric->shm();
  for (uint32_t n = 0; n < kMaxQps; ++n) {
    uint32_t i = (shm.header.next_qp_hint + n) % kMaxQps;
    QpEntry& qp = shm.qps[i];
    if (qp.in_use) continue;
    uint32_t stride = uint32_t(RecvStride(init.cap.max_recv_sge));
    uint32_t cap = std::max(init.cap.max_recv_wr, 1u);
    uint32_t pages = 0;
    uint64_t heap = fabric->HeapAlloc(size_t(stride) * cap, &pages);
    if (heap == UINT64_MAX) return kNoIndex;
    shm.header.next_qp_hint = i + 1;
    uint32_t generation = (qp.generation + 1) & 0xfff;
    memset(&qp, 0, sizeof(qp));
    qp.generation = generation == 0 ? 1 : generation;
    qp.qpn = (qp.generation << kQpIndexBits) | i;
    qp.pid = getpid();
    qp.start_time = fabric->start_time();
    qp.node = fabric->node();
    qp.pd_id = pd->id;
    qp.state = IBV_QPS_RESET;
    qp.send_cq = SoftCq::From(init.send_cq)->index;
    qp.recv_cq = SoftCq::From(init.recv_cq)->index;
    qp.rq_heap = heap;
    qp.rq_pages = pages;
    qp.rq_cap = init.cap.max_recv_wr;
    qp.rq_max_sge = init.cap.max_recv_sge;
    qp.rq_stride = stride;
    qp.in_use = 1;
    return i;
  }
  return kNoIndex;
}

// As the kernel: a GRH whose source GID entry is empty cannot be resolved (ENODATA).
int CheckSourceGid(SoftContext* ctx, const ibv_qp_attr& a, int mask) {
  if (!(mask & IBV_QP_AV) || !a.ah_attr.is_global) return 0;
  static const uint8_t kZero[16] = {};
  FabricGuard guard(ctx->fabric);
  const NodeEntry& node = ctx->fabric->shm().nodes[ctx->fabric->node()];
  if (memcmp(node.gid[a.ah_attr.grh.sgid_index], kZero, 16) != 0) return 0;
  Logf("ibv_modify_qp: grh.sgid_index %u is an empty GID entry", unsigned(a.ah_attr.grh.sgid_index));
  return ENODATA;
}

// Fabric lock held: publishes the attributes peers look at.
void Publish(QpEntry& e, const ibv_qp_attr& a, int mask) {
  if (mask & IBV_QP_ACCESS_FLAGS) e.access_flags = a.qp_access_flags;
  if (mask & IBV_QP_DEST_QPN) e.dest_qpn = a.dest_qp_num;
  if (mask & IBV_QP_AV) {
    e.dlid = a.ah_attr.dlid;
    e.is_global = a.ah_attr.is_global;
    e.sgid_index = a.ah_attr.grh.sgid_index;
    memcpy(e.dgid, a.ah_attr.grh.dgid.raw, 16);
  }
  if (mask & IBV_QP_PATH_MTU) e.path_mtu = a.path_mtu;
  if (mask & IBV_QP_RQ_PSN) e.rq_psn = a.rq_psn;
  if (mask & IBV_QP_SQ_PSN) e.sq_psn = a.sq_psn;
  if (mask & IBV_QP_MIN_RNR_TIMER) e.min_rnr_timer = a.min_rnr_timer;
  if (mask & IBV_QP_MAX_DEST_RD_ATOMIC) e.max_dest_rd_atomic = a.max_dest_rd_atomic;
}

void Remember(SoftQp* qp, const ibv_qp_attr& a, int mask) {
  ibv_qp_attr& s = qp->attr;
  if (mask & IBV_QP_PKEY_INDEX) s.pkey_index = a.pkey_index;
  if (mask & IBV_QP_PORT) s.port_num = a.port_num;
  if (mask & IBV_QP_ACCESS_FLAGS) s.qp_access_flags = a.qp_access_flags;
  if (mask & IBV_QP_AV) s.ah_attr = a.ah_attr;
  if (mask & IBV_QP_PATH_MTU) s.path_mtu = a.path_mtu;
  if (mask & IBV_QP_DEST_QPN) s.dest_qp_num = a.dest_qp_num;
  if (mask & IBV_QP_RQ_PSN) s.rq_psn = a.rq_psn;
  if (mask & IBV_QP_SQ_PSN) s.sq_psn = a.sq_psn;
  if (mask & IBV_QP_MAX_DEST_RD_ATOMIC) s.max_dest_rd_atomic = a.max_dest_rd_atomic;
  if (mask & IBV_QP_MAX_QP_RD_ATOMIC) s.max_rd_atomic = a.max_rd_atomic;
  if (mask & IBV_QP_MIN_RNR_TIMER) s.min_rnr_timer = a.min_rnr_timer;
  if (mask & IBV_QP_TIMEOUT) s.timeout = a.timeout;
  if (mask & IBV_QP_RETRY_CNT) s.retry_cnt = a.retry_cnt;
  if (mask & IBV_QP_RNR_RETRY) s.rnr_retry = a.rnr_retry;
  if (mask & IBV_QP_PATH_MIG_STATE) s.path_mig_state = a.path_mig_state;
  qp->attr_mask |= mask;
}

// QP mutex and fabric lock held.
void EnterState(SoftQp* qp, ibv_qp_state next) {
  QpEntry& e = qp->entry();
  if (next == IBV_QPS_RESET) {
    qp->sq.clear();
    qp->sq_posted = 0;
    e.sq_retired = 0;
    e.rq_posted = e.rq_consumed = e.rq_retired = 0;
    qp->attr = ibv_qp_attr{};
    qp->attr_mask = 0;
  }
  AtomicStore(&e.state, uint32_t(next));
  if (next == IBV_QPS_ERR) FlushRecvQueue(qp->ctx->fabric, qp->index);
  qp->qp.state = next;
}

}  // namespace
}  // namespace softverbs

using namespace softverbs;

SV_EXPORT ibv_qp* ibv_create_qp(ibv_pd* pd_in, ibv_qp_init_attr* init) {
  if (init->qp_type != IBV_QPT_RC) return Fail(EOPNOTSUPP, "only IBV_QPT_RC is emulated");
  if (init->srq != nullptr) return Fail(EOPNOTSUPP, "SRQ is not emulated");
  if (const char* why = CheckInitAttr(pd_in->context, *init)) return Fail(EINVAL, why);
  SoftContext* ctx = SoftContext::From(pd_in->context);
  SoftPd* pd = reinterpret_cast<SoftPd*>(pd_in);
  uint32_t index = AllocQpEntry(ctx->fabric, pd, *init);
  if (index == kNoIndex) return Fail(ENOMEM, "QP table or heap full");
  auto* qp = new SoftQp();
  qp->ctx = ctx;
  qp->pd = pd;
  qp->index = index;
  qp->init = *init;
  qp->qp.context = pd_in->context;
  qp->qp.qp_context = init->qp_context;
  qp->qp.pd = pd_in;
  qp->qp.send_cq = init->send_cq;
  qp->qp.recv_cq = init->recv_cq;
  qp->qp.handle = index;
  qp->qp.qp_num = ctx->fabric->shm().qps[index].qpn;
  qp->qp.state = IBV_QPS_RESET;
  qp->qp.qp_type = IBV_QPT_RC;
  pthread_mutex_init(&qp->qp.mutex, nullptr);
  pthread_cond_init(&qp->qp.cond, nullptr);
  SoftCq::From(init->send_cq)->qp_refs.fetch_add(1);
  SoftCq::From(init->recv_cq)->qp_refs.fetch_add(1);
  pd->users.fetch_add(1);
  std::lock_guard<std::mutex> lock(RegistryMutex());
  ctx->qps.push_back(qp);
  return &qp->qp;
}

SV_EXPORT int ibv_modify_qp(ibv_qp* qp_in, ibv_qp_attr* attr, int mask) {
  SoftQp* qp = SoftQp::From(qp_in);
  {
    std::lock_guard<std::mutex> lock(qp->mu);
    auto cur = ibv_qp_state(AtomicLoad(&qp->entry().state));
    std::string why;
    const Config& config = qp->ctx->config;
    PortModel port{config.roce, config.roce ? kGidCount : kIbGidCount, config.grh_required,
                   uint32_t(config.pkeys.size())};
    if (int rc = CheckModify(cur, *attr, mask, &why, port)) {
      Logf("ibv_modify_qp(QP 0x%x): %s", qp_in->qp_num, why.c_str());
      return rc;
    }
    if (int rc = CheckSourceGid(qp->ctx, *attr, mask)) return rc;
    ibv_qp_state next = (mask & IBV_QP_STATE) ? attr->qp_state : cur;
    {
      FabricGuard guard(qp->ctx->fabric);
      Publish(qp->entry(), *attr, mask);
      if (mask & IBV_QP_PKEY_INDEX) qp->entry().pkey = config.pkeys[attr->pkey_index];
      EnterState(qp, next);
    }
    if (next != IBV_QPS_RESET) Remember(qp, *attr, mask);
    if (next == IBV_QPS_ERR) FlushSendQueue(qp);
  }
  KickProgress();
  return 0;
}

SV_EXPORT int ibv_query_qp(ibv_qp* qp_in, ibv_qp_attr* attr, int, ibv_qp_init_attr* init) {
  SoftQp* qp = SoftQp::From(qp_in);
  std::lock_guard<std::mutex> lock(qp->mu);
  *attr = qp->attr;
  attr->qp_state = ibv_qp_state(AtomicLoad(&qp->entry().state));
  attr->cur_qp_state = attr->qp_state;
  attr->cap = qp->init.cap;
  attr->path_mtu = (qp->attr_mask & IBV_QP_PATH_MTU) ? qp->attr.path_mtu : IBV_MTU_4096;
  *init = qp->init;
  return 0;
}

SV_EXPORT int ibv_destroy_qp(ibv_qp* qp_in) {
  SoftQp* qp = SoftQp::From(qp_in);
  SoftContext* ctx = qp->ctx;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    ctx->qps.erase(std::remove(ctx->qps.begin(), ctx->qps.end(), qp), ctx->qps.end());
  }
  DropAsyncEvents(ctx, qp_in);
  {
    FabricGuard guard(ctx->fabric);
    QpEntry& entry = qp->entry();
    ctx->fabric->HeapFree(entry.rq_heap, entry.rq_pages);
    AtomicStore(&entry.state, uint32_t(IBV_QPS_RESET));
    AtomicStore(&entry.in_use, 0u);
  }
  SoftCq::From(qp_in->send_cq)->qp_refs.fetch_sub(1);
  SoftCq::From(qp_in->recv_cq)->qp_refs.fetch_sub(1);
  qp->pd->users.fetch_sub(1);
  pthread_mutex_destroy(&qp_in->mutex);
  pthread_cond_destroy(&qp_in->cond);
  delete qp;
  return 0;
}
