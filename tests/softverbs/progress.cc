// The progress thread of softverbs (see progress.h). It wakes when a WQE is posted, when a
// retry timer expires, and every few milliseconds to notice what other processes did to this
// process's objects (a QP moved to ERR, an overflowed CQ, a completion on an armed CQ).
// In seeded mode it visits QPs in a random order each pass (WQEs also get random start delays
// at post time); a QP's own WQEs always run in order. Thread-safety: see progress.h.
#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "executor.h"
#include "objects.h"
#include "queues.h"

namespace softverbs {
namespace {

constexpr uint64_t kIdleTickNs = 5000000;
constexpr uint64_t kArmedTickNs = 500000;
constexpr int kWqesPerVisit = 32;

struct Engine {
  std::mutex registry;
  std::vector<SoftContext*> contexts;
  std::mutex wake_mu;
  std::condition_variable wake_cv;
  bool kicked = false;
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> stop;
};

Engine* g_engine = new Engine();

// The child of a fork has no progress thread and must not touch its parent's objects (whose
// mutexes may be held by threads that do not exist in it): start over with an empty engine.
void ResetEngineInChild() { g_engine = new Engine(); }

int InstallForkHandler() { return pthread_atfork(nullptr, nullptr, ResetEngineInChild); }

void StepSendQueue(SoftQp* qp, uint64_t* next_wake) {
  std::lock_guard<std::mutex> lock(qp->mu);
  for (int budget = kWqesPerVisit; budget > 0; --budget) {
    uint32_t state = AtomicLoad(&qp->entry().state);
    if (state == IBV_QPS_ERR) {
      FlushSendQueue(qp);
      return;
    }
    if (state != IBV_QPS_RTS || qp->sq.empty()) return;
    SendWqe& wqe = qp->sq.front();
    uint64_t now = NowNs();
    uint64_t start = std::max(wqe.ready_ns, wqe.retry_ns);
    if (start > now) {
      *next_wake = std::min(*next_wake, start);
      return;
    }
    if (ExecuteWqe(qp, wqe, now) == StepResult::kWait) {
      *next_wake = std::min(*next_wake, wqe.retry_ns);
      return;
    }
    qp->sq.pop_front();
  }
  *next_wake = 0;  // budget used up: come back at once
}

void ReportQpEvents(SoftContext* ctx, SoftQp* qp) {
  QpEntry& entry = qp->entry();
  if (AtomicLoad(&entry.async_pending) == 0) return;
  uint32_t pending;
  {
    FabricGuard guard(ctx->fabric);
    pending = entry.async_pending;
    entry.async_pending = 0;
  }
  if (pending == 0) return;
  ibv_async_event event;
  memset(&event, 0, sizeof(event));
  event.event_type = ibv_event_type(pending - 1);
  event.element.qp = &qp->qp;
  PostAsyncEvent(ctx, event);
}

void ReportCqEvents(SoftContext* ctx, SoftCq* cq, uint64_t* next_wake) {
  CqEntry& entry = ctx->fabric->shm().cqs[cq->index];
  if (!cq->overflow_reported && AtomicLoad(&entry.overflow)) {
    cq->overflow_reported = true;
    ibv_async_event event;
    memset(&event, 0, sizeof(event));
    event.event_type = IBV_EVENT_CQ_ERR;
    event.element.cq = &cq->cq;
    PostAsyncEvent(ctx, event);
  }
  if (!cq->armed || cq->cq.channel == nullptr) return;
  if (AtomicLoad(&entry.produced) <= cq->armed_at) {
    *next_wake = std::min(*next_wake, NowNs() + kArmedTickNs);
    return;
  }
  cq->armed = false;
  auto* channel = reinterpret_cast<SoftChannel*>(cq->cq.channel);
  std::lock_guard<std::mutex> lock(channel->mu);
  channel->ready.push_back(cq);
  char byte = 1;
  if (write(channel->write_fd, &byte, 1) != 1) Logf("completion channel pipe full");
}

void VisitContext(SoftContext* ctx, uint64_t* next_wake) {
  std::vector<SoftQp*> qps = ctx->qps;
  if (ctx->config.seeded) {
    std::lock_guard<std::mutex> lock(ctx->mu);
    std::shuffle(qps.begin(), qps.end(), ctx->rng);
  }
  for (SoftQp* qp : qps) StepSendQueue(qp, next_wake);
  for (SoftCq* cq : ctx->cqs) ReportCqEvents(ctx, cq, next_wake);
  for (SoftQp* qp : qps) ReportQpEvents(ctx, qp);
  if (ctx->port_err_pending.exchange(false)) {
    ibv_async_event event;
    memset(&event, 0, sizeof(event));
    event.event_type = IBV_EVENT_PORT_ERR;
    event.element.port_num = 1;
    PostAsyncEvent(ctx, event);
  }
}

void Run(Engine* engine, std::shared_ptr<std::atomic<bool>> stop) {
  while (!stop->load()) {
    uint64_t next_wake = NowNs() + kIdleTickNs;
    {
      std::lock_guard<std::mutex> lock(engine->registry);
      for (SoftContext* ctx : engine->contexts) VisitContext(ctx, &next_wake);
    }
    std::unique_lock<std::mutex> lock(engine->wake_mu);
    uint64_t now = NowNs();
    if (next_wake > now && !engine->kicked) {
      engine->wake_cv.wait_for(lock, std::chrono::nanoseconds(next_wake - now),
                               [&] { return engine->kicked || stop->load(); });
    }
    engine->kicked = false;
  }
}

}  // namespace

std::mutex& RegistryMutex() { return g_engine->registry; }

void RegisterContext(SoftContext* ctx) {
  static int installed = InstallForkHandler();
  (void)installed;
  Engine* engine = g_engine;
  std::lock_guard<std::mutex> lock(engine->registry);
  engine->contexts.push_back(ctx);
  if (engine->thread.joinable()) return;
  engine->stop = std::make_shared<std::atomic<bool>>(false);
  engine->thread = std::thread(Run, engine, engine->stop);
}

void UnregisterContext(SoftContext* ctx) {
  Engine* engine = g_engine;
  std::thread finished;
  {
    std::lock_guard<std::mutex> lock(engine->registry);
    auto& list = engine->contexts;
    list.erase(std::remove(list.begin(), list.end(), ctx), list.end());
    if (!list.empty()) return;
    engine->stop->store(true);
    finished = std::move(engine->thread);
  }
  KickProgress();
  if (finished.joinable()) finished.join();
}

void KickProgress() {
  Engine* engine = g_engine;
  std::lock_guard<std::mutex> lock(engine->wake_mu);
  engine->kicked = true;
  engine->wake_cv.notify_one();
}

}  // namespace softverbs
