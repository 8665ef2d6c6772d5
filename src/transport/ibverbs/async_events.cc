// AsyncEvents: the reader thread, the classification of events and the per-object record
// (see async_events.h). Thread-safety: the record is guarded by mu_; recorded_ lets check()
// skip the lock until something happened.
#include "transport/ibverbs/async_events.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace coll {
namespace ibverbs {

EventEffect ClassifyEvent(const ibv_async_event& event, const std::string& port, int port_num, const char* name) {
  EventEffect fx;
  switch (event.event_type) {
    case IBV_EVENT_PORT_ERR:
      if (event.element.port_num != port_num) break;
      fx.scope = EventEffect::kDevice;
      fx.status = SystemError("%s went down (IBV_EVENT_PORT_ERR): the link lost its carrier or the subnet manager "
                              "took the port away, so every ibverbs link on it fails (check the cable and the switch "
                              "port: ibv_devinfo, ip link)",
                              port.c_str());
      return fx;
    case IBV_EVENT_DEVICE_FATAL:
      fx.scope = EventEffect::kDevice;
      fx.status = SystemError("%s reported IBV_EVENT_DEVICE_FATAL: the HCA stopped working (a firmware or driver "
                              "failure, see dmesg), so every ibverbs link on it fails until the device is reset",
                              port.c_str());
      return fx;
    case IBV_EVENT_QP_FATAL:
      fx.scope = EventEffect::kObject;
      fx.object = event.element.qp;
      fx.status = SystemError("IBV_EVENT_QP_FATAL: the HCA put the queue pair in error (it could not process a "
                              "work request, or a completion queue overflowed)");
      return fx;
    case IBV_EVENT_QP_REQ_ERR:
      fx.scope = EventEffect::kObject;
      fx.object = event.element.qp;
      // The requester's completion names the cause better: let it win.
      fx.status = SystemError("IBV_EVENT_QP_REQ_ERR: the peer sent a request that broke the transport protocol")
                      .asConsequence();
      return fx;
    case IBV_EVENT_QP_ACCESS_ERR:
      fx.scope = EventEffect::kObject;
      fx.object = event.element.qp;
      fx.status = SystemError("IBV_EVENT_QP_ACCESS_ERR: an RDMA request of the peer failed this end's memory "
                              "access check")
                      .asConsequence();
      return fx;
    case IBV_EVENT_CQ_ERR:
      fx.scope = EventEffect::kObject;
      fx.object = event.element.cq;
      fx.status = SystemError("IBV_EVENT_CQ_ERR: the completion queue overflowed");
      return fx;
    default:
      break;
  }
  fx.text = StrFormat("%s: asynchronous event %s", port.c_str(), name);
  if (event.event_type == IBV_EVENT_PORT_ERR || event.event_type == IBV_EVENT_PORT_ACTIVE)
    fx.text += StrFormat(" on port %d", event.element.port_num);
  return fx;
}

Status AsyncEvents::Start(const VerbsApi& api, ibv_context* context, const std::string& port, int port_num,
                          std::unique_ptr<AsyncEvents>* out) {
  std::unique_ptr<AsyncEvents> a(new AsyncEvents());
  a->api_ = &api;
  a->context_ = context;
  a->port_ = port;
  a->port_num_ = port_num;
  a->owner_ = getpid();
  int flags = fcntl(context->async_fd, F_GETFL);
  if (flags < 0 || fcntl(context->async_fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return ErrnoError(errno, "making the asynchronous event fd of " + port + " non-blocking");
  a->stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  a->alarm_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!a->stop_.valid() || !a->alarm_.valid()) return ErrnoError(errno, "eventfd");
  AsyncEvents* self = a.get();
  a->thread_ = new std::thread([self] { self->run(); });
  *out = std::move(a);
  return Status::OK();
}

AsyncEvents::~AsyncEvents() {
  if (thread_ == nullptr) return;
  if (getpid() != owner_) return;  // a forked child: the thread lives in the parent only
  uint64_t one = 1;
  ssize_t ignored = write(stop_.get(), &one, sizeof one);
  (void)ignored;
  thread_->join();
  delete thread_;
}

void AsyncEvents::run() {
  for (;;) {
    pollfd fds[2] = {{context_->async_fd, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      COLL_WARN(-1, "ibverbs: %s: polling for asynchronous events failed (%s); they go unseen", port_.c_str(),
                std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    ibv_async_event event;
    while (api_->get_async_event(context_, &event) == 0) {
      handle(event);
      api_->ack_async_event(&event);
    }
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return;
  }
}

void AsyncEvents::handle(const ibv_async_event& event) {
  EventEffect fx = ClassifyEvent(event, port_, port_num_, api_->event_type_str(event.event_type));
  if (fx.scope == EventEffect::kLog) {
    COLL_INFO(-1, "ibverbs: %s", fx.text.c_str());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (fx.scope == EventEffect::kDevice) {
    COLL_WARN(-1, "ibverbs: %s", fx.status.message().c_str());
    if (device_error_.ok()) device_error_ = fx.status;
    uint64_t one = 1;
    ssize_t ignored = write(alarm_.get(), &one, sizeof one);
    (void)ignored;
  } else {
    auto it = watched_.find(fx.object);
    if (it == watched_.end()) return;  // not a link's object (or already forgotten)
    if (it->second.ok()) it->second = fx.status;
  }
  recorded_ = true;
}

void AsyncEvents::watch(const void* qp, const void* cq) {
  std::lock_guard<std::mutex> lock(mu_);
  watched_[qp] = Status::OK();
  watched_[cq] = Status::OK();
}

void AsyncEvents::forget(const void* qp, const void* cq) {
  std::lock_guard<std::mutex> lock(mu_);
  watched_.erase(qp);
  watched_.erase(cq);
}

Status AsyncEvents::check(const void* qp, const void* cq) const {
  if (!recorded_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  if (!device_error_.ok()) return device_error_;
  for (const void* object : {qp, cq}) {
    auto it = watched_.find(object);
    if (it != watched_.end() && !it->second.ok()) return it->second;
  }
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
