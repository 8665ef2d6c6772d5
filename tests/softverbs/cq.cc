// Completion queues, completion channels and asynchronous events of softverbs. A CQ's ring lives
// in the fabric so a peer process can deliver receive completions into it. Polling a completion
// retires send/receive queue slots (as on real HCAs: an unsignalled WQE's slot is freed only when
// a later signalled completion of the same QP is polled). An overflowed CQ makes every later
// poll return -EOVERFLOW and raises IBV_EVENT_CQ_ERR. Thread-safety: as libibverbs.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cq_ring.h"
#include "exports.h"
#include "objects.h"
#include "progress.h"

namespace softverbs {
namespace {

uint32_t AllocCqEntry(Fabric* fabric, uint32_t cap) {
  FabricGuard guard(fabric);
  FabricLayout& shm = fabric->shm();
  for (uint32_t i = 0; i < kMaxCqs; ++i) {
    CqEntry& cq = shm.cqs[i];
    if (cq.in_use) continue;
    uint32_t pages = 0;
    uint64_t heap = fabric->HeapAlloc(CqRingBytes(cap), &pages);
    if (heap == UINT64_MAX) return kNoIndex;
    cq.pid = getpid();
    cq.cap = cap;
    cq.overflow = 0;
    cq.heap = heap;
    cq.pages = pages;
    cq.produced = 0;
    cq.consumed = 0;
    cq.in_use = 1;
    return i;
  }
  return kNoIndex;
}

// Lock held: frees the send/receive slots that a polled completion stands for.
void Retire(FabricLayout& shm, const ShmCqe& cqe) {
  QpEntry& qp = shm.qps[cqe.qp_index % kMaxQps];
  if (!qp.in_use || qp.qpn != cqe.wc.qp_num) return;
  if (cqe.from_send) {
    if (cqe.sq_seq + 1 > qp.sq_retired) AtomicStore(&qp.sq_retired, cqe.sq_seq + 1);
  } else {
    AtomicStore(&qp.rq_retired, qp.rq_retired + 1);
  }
}

ssize_t WriteByte(int fd) {
  char byte = 1;
  return write(fd, &byte, 1);
}

bool ReadByte(int fd) {
  char byte;
  return read(fd, &byte, 1) == 1;
}

}  // namespace

int PollCq(ibv_cq* cq_in, int num_entries, ibv_wc* wc) {
  SoftCq* cq = SoftCq::From(cq_in);
  Fabric* fabric = cq->ctx->fabric;
  if (num_entries < 0) return -EINVAL;
  if (!CqHasEntries(fabric->shm(), cq->index)) return 0;
  FabricGuard guard(fabric);
  if (fabric->shm().cqs[cq->index].overflow) return -EOVERFLOW;
  int total = 0;
  ShmCqe batch[16];
  while (total < num_entries) {
    int n = CqPoll(fabric, cq->index, std::min(num_entries - total, 16), batch);
    for (int i = 0; i < n; ++i) {
      wc[total + i] = batch[i].wc;
      Retire(fabric->shm(), batch[i]);
    }
    total += n;
    if (n == 0) break;
  }
  return total;
}

int ReqNotifyCq(ibv_cq* cq_in, int) {
  SoftCq* cq = SoftCq::From(cq_in);
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    cq->armed = true;
    cq->armed_at = AtomicLoad(&cq->ctx->fabric->shm().cqs[cq->index].consumed);
  }
  KickProgress();
  return 0;
}

void PostAsyncEvent(SoftContext* ctx, const ibv_async_event& event) {
  std::lock_guard<std::mutex> lock(ctx->mu);
  ctx->events.push_back(event);
  if (WriteByte(ctx->async_pipe[1]) != 1) Logf("async event pipe full");
}

}  // namespace softverbs

using namespace softverbs;

SV_EXPORT ibv_cq* ibv_create_cq(ibv_context* context, int cqe, void* cq_context,
                                ibv_comp_channel* channel, int comp_vector) {
  if (cqe < 1 || cqe > kMaxCqe || comp_vector < 0 || comp_vector >= context->num_comp_vectors) {
    errno = EINVAL;
    return nullptr;
  }
  SoftContext* ctx = SoftContext::From(context);
  uint32_t index = AllocCqEntry(ctx->fabric, uint32_t(cqe));
  if (index == kNoIndex) {
    errno = ENOMEM;
    return nullptr;
  }
  auto* cq = new SoftCq();
  cq->cq.context = context;
  cq->cq.channel = channel;
  cq->cq.cq_context = cq_context;
  cq->cq.handle = index;
  cq->cq.cqe = cqe;
  pthread_mutex_init(&cq->cq.mutex, nullptr);
  pthread_cond_init(&cq->cq.cond, nullptr);
  cq->ctx = ctx;
  cq->index = index;
  if (channel != nullptr) ++channel->refcnt;
  std::lock_guard<std::mutex> lock(RegistryMutex());
  ctx->cqs.push_back(cq);
  return &cq->cq;
}

namespace softverbs {

void DropAsyncEvents(SoftContext* ctx, const void* object) {
  std::lock_guard<std::mutex> lock(ctx->mu);
  auto names = [object](const ibv_async_event& e) {
    switch (e.event_type) {
      case IBV_EVENT_CQ_ERR: return e.element.cq == object;
      case IBV_EVENT_QP_FATAL:
      case IBV_EVENT_QP_REQ_ERR:
      case IBV_EVENT_QP_ACCESS_ERR:
      case IBV_EVENT_COMM_EST:
      case IBV_EVENT_SQ_DRAINED:
      case IBV_EVENT_PATH_MIG:
      case IBV_EVENT_PATH_MIG_ERR:
      case IBV_EVENT_QP_LAST_WQE_REACHED: return e.element.qp == object;
      default: return false;
    }
  };
  ctx->events.erase(std::remove_if(ctx->events.begin(), ctx->events.end(), names), ctx->events.end());
}

}  // namespace softverbs

SV_EXPORT int ibv_destroy_cq(ibv_cq* cq_in) {
  SoftCq* cq = SoftCq::From(cq_in);
  if (cq->qp_refs.load() != 0) return EBUSY;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto& cqs = cq->ctx->cqs;
    cqs.erase(std::remove(cqs.begin(), cqs.end(), cq), cqs.end());
  }
  DropAsyncEvents(cq->ctx, cq_in);
  {
    FabricGuard guard(cq->ctx->fabric);
    CqEntry& entry = cq->ctx->fabric->shm().cqs[cq->index];
    cq->ctx->fabric->HeapFree(entry.heap, entry.pages);
    entry.in_use = 0;
  }
  if (cq_in->channel != nullptr) --cq_in->channel->refcnt;
  pthread_mutex_destroy(&cq_in->mutex);
  pthread_cond_destroy(&cq_in->cond);
  delete cq;
  return 0;
}

SV_EXPORT ibv_comp_channel* ibv_create_comp_channel(ibv_context* context) {
  auto* channel = new SoftChannel();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    delete channel;
    return nullptr;
  }
  channel->channel.context = context;
  channel->channel.fd = fds[0];
  channel->channel.refcnt = 0;
  channel->write_fd = fds[1];
  return &channel->channel;
}

SV_EXPORT int ibv_destroy_comp_channel(ibv_comp_channel* channel_in) {
  auto* channel = reinterpret_cast<SoftChannel*>(channel_in);
  if (channel_in->refcnt != 0) return EBUSY;
  close(channel_in->fd);
  close(channel->write_fd);
  delete channel;
  return 0;
}

SV_EXPORT int ibv_get_cq_event(ibv_comp_channel* channel_in, ibv_cq** cq, void** cq_context) {
  auto* channel = reinterpret_cast<SoftChannel*>(channel_in);
  if (!ReadByte(channel_in->fd)) return -1;
  std::lock_guard<std::mutex> lock(channel->mu);
  if (channel->ready.empty()) return -1;
  SoftCq* ready = channel->ready.front();
  channel->ready.pop_front();
  *cq = &ready->cq;
  *cq_context = ready->cq.cq_context;
  return 0;
}

SV_EXPORT void ibv_ack_cq_events(ibv_cq* cq, unsigned int nevents) {
  pthread_mutex_lock(&cq->mutex);
  cq->comp_events_completed += nevents;
  pthread_mutex_unlock(&cq->mutex);
}

SV_EXPORT int ibv_get_async_event(ibv_context* context, ibv_async_event* event) {
  SoftContext* ctx = SoftContext::From(context);
  if (!ReadByte(context->async_fd)) return -1;
  std::lock_guard<std::mutex> lock(ctx->mu);
  if (ctx->events.empty()) return -1;
  *event = ctx->events.front();
  ctx->events.pop_front();
  return 0;
}

SV_EXPORT void ibv_ack_async_event(ibv_async_event*) {}
