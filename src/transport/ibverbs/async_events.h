// The HCA's asynchronous events (ibv_get_async_event), read by one thread per open device:
// the port going down and a fatal device error fail every link of the device at once (the
// alarm fd wakes sleeping links), a QP or CQ error the link that owns the object, and the
// rest is logged at INFO. Without it a dead port shows only as transport retries running out
// (COLL_IB_TIMEOUT: half a minute). Thread-safety: every method may be called from any
// thread; the reader thread only touches the state below under mu_.
#pragma once

#include <infiniband/verbs.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/socket.h"
#include "base/status.h"
#include "transport/ibverbs/verbs_api.h"

namespace coll {
namespace ibverbs {

// What one event means for the links (a pure function of the event, for tests).
struct EventEffect {
  enum Scope { kLog, kDevice, kObject } scope = kLog;
  const void* object = nullptr;  // kObject: the QP or CQ it names
  Status status;                 // kDevice / kObject: the error the links report
  std::string text;              // kLog: what to log
};
// `port` is "rxe0:1" (the port the links use), `port_num` its number; `name` the event's name.
EventEffect ClassifyEvent(const ibv_async_event& event, const std::string& port, int port_num, const char* name);

class AsyncEvents {
 public:
  // Starts the reader thread on `context`'s async fd (made non-blocking).
  static Status Start(const VerbsApi& api, ibv_context* context, const std::string& port, int port_num,
                      std::unique_ptr<AsyncEvents>* out);
  ~AsyncEvents();  // stops and joins the reader (a forked child leaves its parent's alone)
  AsyncEvents(const AsyncEvents&) = delete;
  AsyncEvents& operator=(const AsyncEvents&) = delete;

  // A link's QP and CQ: events naming them are kept for check(). forget() before destroying them.
  void watch(const void* qp, const void* cq);
  void forget(const void* qp, const void* cq);
  // OK, or the error recorded for the device or for `qp` / `cq`. One atomic load until an
  // event has been recorded.
  Status check(const void* qp, const void* cq) const;
  // Readable once an event failed the whole device (for a link's epoll set).
  int alarmFd() const { return alarm_.get(); }

 private:
  AsyncEvents() = default;
  void run();
  void handle(const ibv_async_event& event);

  const VerbsApi* api_ = nullptr;
  ibv_context* context_ = nullptr;
  std::string port_;
  int port_num_ = 0;
  pid_t owner_ = 0;
  Fd stop_, alarm_;  // eventfds
  std::thread* thread_ = nullptr;

  std::atomic<bool> recorded_{false};
  mutable std::mutex mu_;
  Status device_error_;                      // guarded by mu_
  std::map<const void*, Status> watched_;    // guarded by mu_; OK until an event names it
};

}  // namespace ibverbs
}  // namespace coll
