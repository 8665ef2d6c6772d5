// OperationQueue and Request: the two drivers of an Operation and the completion of requests.
#include "collectives/op_queue.h"

#include <pthread.h>
#include <sched.h>

#include <system_error>
#include <utility>

#include "base/log.h"
#include "comm/progress_placement.h"

namespace coll {
namespace {

constexpr size_t kMaxSpares = 2;  // kept Operations (each keeps its scratch)

}  // namespace

void Request::wait() {
  if (done()) return;
  const int64_t until = NowMicros() + spin_us_;
  while (NowMicros() < until) {
    if (done()) return;
    sched_yield();
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done(); });
}

void Request::complete(const Status& st) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = st;
  done_.store(true, std::memory_order_release);
  cv_.notify_all();
}

OperationQueue::OperationQueue(Communicator& comm) : comm_(comm) {
  comm_.setFailureHook([this] { abandonQueued(); });
}

void OperationQueue::abandonQueued() {
  std::vector<Entry> abandoned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->started) {
        ++it;
        continue;
      }
      abandoned.push_back(std::move(*it));
      it = queue_.erase(it);
      outstanding_.fetch_sub(1, std::memory_order_release);
    }
  }
  const Status failure = comm_.failure();
  for (Entry& entry : abandoned) finish(std::move(entry), failure);
}

OperationQueue::~OperationQueue() {
  comm_.setFailureHook(nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  if (!queue_.empty() && !comm_.failed()) {
    const size_t n = queue_.size();
    lock.unlock();
    comm_.fail(Aborted("the communicator was destroyed on rank %d with %zu request%s outstanding", comm_.rank(), n,
                       n == 1 ? "" : "s"),
               true);
    lock.lock();
  }
  stop_ = true;
  cv_.notify_all();
  lock.unlock();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<Operation> OperationQueue::acquire() {
  if (poster_op_) return std::move(poster_op_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_.empty()) {
      std::unique_ptr<Operation> op = std::move(spare_.back());
      spare_.pop_back();
      return op;
    }
  }
  return std::make_unique<Operation>(comm_);
}

void OperationQueue::recycle(std::unique_ptr<Operation> op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_.size() < kMaxSpares) spare_.push_back(std::move(op));
}

Status OperationQueue::run(std::unique_ptr<Operation> op, const char* name) {
  // With nothing outstanding the progress thread is idle (it releases the count only once it
  // is done with the links), and only this thread posts: the caller drives.
  if (outstanding_.load(std::memory_order_acquire) == 0) {
    Status st = RunOperation(*op);
    poster_op_ = std::move(op);
    return st;
  }
  auto request = std::make_shared<Request>(name, comm_.config().spin_us);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Entry{std::move(op), request});
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    if (sleeping_) cv_.notify_one();
  }
  request->wait();
  return request->status();
}

Status OperationQueue::post(std::unique_ptr<Operation> op, const char* name, std::shared_ptr<Request>* out) {
  auto request = std::make_shared<Request>(name, comm_.config().spin_us);
  std::lock_guard<std::mutex> lock(mu_);
  if (!thread_.joinable()) COLL_RETURN_IF_ERROR(startThread());
  queue_.push_back(Entry{std::move(op), request});
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  if (sleeping_) cv_.notify_one();  // a spinning thread sees outstanding_ without a wake-up
  *out = std::move(request);
  return Status::OK();
}

Status OperationQueue::startThread() {
  try {
    thread_ = std::thread([this] { threadMain(); });
  } catch (const std::system_error& e) {
    return SystemError("could not start the progress thread: %s", e.what());
  }
  return Status::OK();
}

void OperationQueue::finish(Entry entry, const Status& st) {
  if (!st.ok())
    comm_.setLastError(StrFormat("%s on rank %d: %s", entry.request->name(), comm_.rank(), st.message().c_str()));
  entry.request->complete(st);
  recycle(std::move(entry.op));
}

void OperationQueue::threadMain() {
  pthread_setname_np(pthread_self(), "coll-progress");
  PlaceProgressThread(comm_.config(), comm_.rank());
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() && !stop_) {
      // Idle: poll for the next post for COLL_SPIN_US (yielding the core), then sleep. A
      // trainer posting one collective per layer thus seldom pays for a wake-up.
      lock.unlock();
      const int64_t until = NowMicros() + comm_.config().spin_us;
      while (outstanding_.load(std::memory_order_relaxed) == 0 && NowMicros() < until) sched_yield();
      lock.lock();
      sleeping_ = true;
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      sleeping_ = false;
    }
    if (queue_.empty()) return;  // stopping, and nothing left to complete
    queue_.front().started = true;  // from now on only this thread completes it
    Operation* op = queue_.front().op.get();
    lock.unlock();
    Status st = RunOperation(*op);
    lock.lock();
    Entry entry = std::move(queue_.front());
    queue_.pop_front();
    outstanding_.fetch_sub(1, std::memory_order_release);
    lock.unlock();
    finish(std::move(entry), st);
    lock.lock();
  }
}

}  // namespace coll
