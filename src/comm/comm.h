// The communicator: configuration, bootstrap control channel, the ring and its two links,
// the collective sequence number, and the sticky error state. Operations run one at a time,
// on the poster's thread or the progress thread (collectives/op_queue.h), which hand the
// links over under the queue's lock; abort(), the watchdog and the progress thread may touch
// the error state and the last error from other threads, so those are atomic/mutex-guarded.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bootstrap/acceptor.h"
#include "bootstrap/bootstrap.h"
#include "base/config.h"
#include "base/deadline.h"
#include "base/status.h"
#include "comm/settings.h"
#include "transport/link.h"
#include "transport/transport.h"

namespace coll {

struct OpInfo {
  const char* algorithm = "none";
  const char* transport = "none";
  size_t chunk_bytes = 0;
};

class Communicator {
 public:
  static Status Create(int nranks, int rank, const UniqueId& id, Fd parked, const Config& config,
                       std::unique_ptr<Communicator>* out);
  ~Communicator();

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const Config& config() const { return config_; }
  // Position of this rank in the ring and the ring itself (ring()[pos] == rank).
  int ringPos() const { return pos_; }
  const std::vector<int>& ring() const { return ring_; }
  int ringPosOf(int rank) const {
    for (int i = 0; i < nranks_; ++i)
      if (ring_[i] == rank) return i;
    return 0;
  }
  SendLink* right() { return right_.get(); }
  RecvLink* left() { return left_.get(); }
  // The link that carries data to / from `peer`; nullptr when there is none.
  SendLink* sendLinkTo(int peer) { return right_ && right_->peer() == peer ? right_.get() : nullptr; }
  RecvLink* recvLinkFrom(int peer) { return left_ && left_->peer() == peer ? left_.get() : nullptr; }
  const char* transportName() const { return transport_name_.c_str(); }

  // Allreduce up to this many bytes uses the latency algorithm: COLL_SMALL_BYTES, else 8 KiB
  // when the whole ring is one host over shm and 32 KiB otherwise (the measured crossovers,
  // docs/PERFORMANCE.md). Derived from the shared host table, so every rank agrees.
  size_t smallBytes() const { return small_bytes_; }

  uint64_t nextSeq() { return seq_.fetch_add(1, std::memory_order_relaxed) + 1; }
  uint64_t seq() const { return seq_.load(std::memory_order_relaxed); }
  // On a timeout in collective `seq`: the ranks that have not started it, asked through the
  // root ("rank 1 (stopped or hung: it did not answer)"), or "" when every rank has started
  // it or the root did not answer. Blocks up to about a second.
  std::string laggards(uint64_t seq);

  // Sticky failure: the first fatal error; every later call fails with it.
  Status failure() const;
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // Records a fatal error (first one wins) and tells the other ranks.
  void fail(const Status& st, bool tell_others);
  // Called once by the first fail(), on the failing thread, before the other ranks are told:
  // the operation queue completes what has not started. Set and cleared by the queue's owner.
  void setFailureHook(std::function<void()> hook);
  void abort();

  int wakeFd() const { return wake_.get(); }

  void setLastError(const std::string& s);
  const char* lastError();
  OpInfo last_op;

 private:
  Communicator(int nranks, int rank, const Config& config) : nranks_(nranks), rank_(rank), config_(config) {}
  Status connectRing(const Deadline& deadline);
  Status connectNeighbour(const SockAddr& addr, const Deadline& deadline, const std::string& what, Fd* out);
  Status awaitNeighbour(Acceptor& acceptor, int left, const Deadline& deadline, Fd* out);
  Status initFailed(const Status& st);
  void logSetup() const;

  const int nranks_, rank_;
  const Config config_;
  std::unique_ptr<Bootstrap> bootstrap_;
  std::vector<int> ring_;
  int pos_ = 0;
  std::unique_ptr<SendLink> right_;
  std::unique_ptr<RecvLink> left_;
  std::string transport_name_ = "none";
  std::string out_kind_name_, in_kind_name_;
  std::atomic<uint64_t> seq_{0};  // read by the watchdog for progress queries
  size_t small_bytes_ = 0;

  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  Status failure_;  // guarded by mu_
  std::string last_error_;  // guarded by mu_
  std::string last_error_copy_;
  Fd wake_;  // eventfd: wakes a waiting collective on abort / remote failure
  std::mutex hook_mu_;  // held while the hook runs, so clearing it waits for a running call
  std::function<void()> on_fail_;  // guarded by hook_mu_
};

}  // namespace coll
