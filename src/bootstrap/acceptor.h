// The server side of a listener that strangers can reach (the root's port, a rank's ring
// listener): an accept thread takes every connection and runs its handshake on a
// short-lived thread of its own with its own deadline, so a silent, slow or hostile
// connection delays no one. At most kMaxPending handshakes run at once; one more evicts
// the oldest. The owner collects finished handshakes (authenticated or not) with take(),
// woken through readyFd(). Thread-safety: the public methods belong to one owner thread;
// the work function runs on handshake threads and must only touch its connection (and
// whatever it guards itself).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/socket.h"
#include "base/deadline.h"
#include "base/status.h"

namespace coll {

class Acceptor {
 public:
  static constexpr size_t kMaxPending = 64;

  struct Outcome {
    Status status;          // OK: the peer proved the token and everything `work` wanted came
    bool proved = false;    // the peer proved the job token (a genuine rank, or another job's)
    bool duplicate = false;  // it proved the token but claimed a rank already taken
    bool accepted = false;  // the handshake accepted it (what followed may still have failed)
    int rank = -1;          // the rank it claimed
    std::string record;     // what `work` read after the handshake
  };
  struct Result {
    Fd conn;
    Outcome outcome;
    std::string from;  // "127.0.0.1:4242", for messages
  };
  using Work = std::function<void(int fd, const Deadline& deadline, Outcome* out)>;

  // Starts accepting on `listener` (not owned; must outlive the Acceptor).
  static Status Start(int listener, int64_t per_conn_ms, Work work, std::unique_ptr<Acceptor>* out);
  ~Acceptor();  // stops accepting, ends every handshake (shuts its socket down), joins
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  int readyFd() const { return ready_.get(); }
  // Finished handshakes since the last call, in the order they finished.
  std::vector<Result> take();

 private:
  struct Session {
    Fd conn;
    std::string from;
    std::thread thread;
    Outcome outcome;
    bool done = false;  // guarded by mu_
  };
  Acceptor(int listener, int64_t per_conn_ms, Work work)
      : listener_(listener), per_conn_ms_(per_conn_ms), work_(std::move(work)) {}
  void acceptLoop();
  void startSession(Fd conn);
  void signalReady();

  const int listener_;
  const int64_t per_conn_ms_;
  const Work work_;
  Fd ready_, stop_;  // eventfds
  std::thread accept_thread_;
  std::mutex mu_;
  std::list<std::unique_ptr<Session>> sessions_;  // guarded by mu_; oldest first
  std::atomic<bool> stopping_{false};
};

}  // namespace coll
