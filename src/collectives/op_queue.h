// The communicator's operation queue and its progress thread. Operations run one at a time
// in posting order. A blocking collective posted while nothing is queued runs inline on the
// caller's thread (today's latency); otherwise it waits behind the queued ones. Non-blocking
// posts go to the progress thread, started on the first one. Both drivers run RunOperation.
//
// Threads: post()/run()/acquire() by one thread at a time (the communicator's poster);
// Request::wait()/test() from any thread; the progress thread pops and completes. mu_ guards
// the queue; a Request's state is shared with its handle and outlives the communicator. The
// inline path takes no lock: outstanding_ (released by the progress thread after it popped,
// acquired by the poster) says the thread is done with the links, and poster_op_ is the
// poster's own spare Operation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectives/operation.h"
#include "comm/comm.h"

namespace coll {

// The state of one posted operation, shared by the queue and the caller's handle.
class Request {
 public:
  Request(const char* name, int64_t spin_us) : name_(name), spin_us_(spin_us) {}
  const char* name() const { return name_; }
  bool done() const { return done_.load(std::memory_order_acquire); }
  // The outcome; only once done().
  const Status& status() const { return status_; }
  // Spins (yielding the core) up to COLL_SPIN_US, then sleeps until done.
  void wait();
  void complete(const Status& st);

 private:
  const char* name_;
  const int64_t spin_us_;
  std::atomic<bool> done_{false};
  Status status_;
  std::mutex mu_;
  std::condition_variable cv_;
};

class OperationQueue {
 public:
  // Registers itself as comm's failure hook: a failure completes every request not yet
  // started at once, from the failing thread (abort, watchdog), whatever the progress thread
  // is doing.
  explicit OperationQueue(Communicator& comm);
  // With requests outstanding, aborts them (the communicator fails with COLL_ERR_ABORTED,
  // which every rank hears), lets the progress thread complete each, and joins it.
  ~OperationQueue();
  OperationQueue(const OperationQueue&) = delete;
  OperationQueue& operator=(const OperationQueue&) = delete;

  // A spare Operation (its vectors and scratch kept from an earlier collective) or a new one.
  std::unique_ptr<Operation> acquire();
  // A blocking collective: runs op inline when nothing is queued, else queues it and waits.
  Status run(std::unique_ptr<Operation> op, const char* name);
  // A non-blocking collective: queues op for the progress thread.
  Status post(std::unique_ptr<Operation> op, const char* name, std::shared_ptr<Request>* out);

 private:
  struct Entry {
    std::unique_ptr<Operation> op;
    std::shared_ptr<Request> request;
    bool started = false;  // the progress thread took it (guarded by mu_)
  };
  void abandonQueued();  // after a failure: completes every entry not started
  Status startThread();  // with mu_ held
  void threadMain();
  void finish(Entry entry, const Status& st);
  void recycle(std::unique_ptr<Operation> op);

  Communicator& comm_;
  std::mutex mu_;
  std::condition_variable cv_;           // the progress thread waits here for posts
  std::deque<Entry> queue_;              // guarded by mu_; front() is running
  std::vector<std::unique_ptr<Operation>> spare_;  // guarded by mu_
  bool stop_ = false;                    // guarded by mu_
  bool sleeping_ = false;                // guarded by mu_: the thread waits on cv_
  std::atomic<size_t> outstanding_{0};   // queue_.size(), readable without mu_
  std::unique_ptr<Operation> poster_op_;  // the poster's thread only
  std::thread thread_;
};

}  // namespace coll
