// The process's libcollective communicator for TensorFlow and its one background thread.
// Kernels (any TF thread) hand Requests to Enqueue; only the background thread touches the
// communicator: every cycle it announces new requests to all ranks (a coordination round made
// of one libcollective allgather, two for long announcements), and runs the requests ready on every rank in the one order
// every rank computes from the same announcements, fusing small allreduces into one buffer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "announce.h"
#include "collective.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace coll_tf {

// One tensor's collective. finish is called exactly once, with the request's outcome.
struct Request {
  Announcement a;
  tensorflow::Tensor input;
  tensorflow::Tensor output;  // allreduce, broadcast and reducescatter: allocated by the kernel
  tensorflow::OpKernelContext* ctx = nullptr;  // allgather: the runtime allocates output_index
  int output_index = 0;
  absl::Status alloc_error;  // allgather: the output could not be allocated (reported at finish)
  std::function<void(const absl::Status&)> finish;
  std::chrono::steady_clock::time_point enqueued;  // set by Enqueue
};

struct Stats {
  int64_t rounds = 0;        // coordination rounds
  int64_t collectives = 0;   // data collectives called on the library
  int64_t tensors = 0;       // tensors those carried
  int64_t fused = 0;         // allreduces that carried more than one tensor
  int64_t max_fused = 0;     // most tensors in one allreduce
  int64_t busy_rounds = 0;   // rounds in which some rank announced something
  int64_t queued_ns = 0;     // summed over requests: from Enqueue to the round announcing it
  // In busy rounds: coordination allgathers (waiting for the other ranks included), then data
  // collectives (fusion copies included).
  int64_t exchange_ns = 0;
  int64_t execute_ns = 0;
};

// Asks the kernel to back the 2 MiB-aligned part of a large, not yet touched buffer (a fresh
// output) with transparent huge pages, as numpy does for its arrays: a collective writing 64 MiB
// into fresh memory then takes 32 page faults instead of 16384. A hint; failures are ignored.
void AdviseHugePages(void* data, size_t bytes);

class Runtime {
 public:
  static Runtime* Get();  // process-wide; never destroyed (its thread may outlive statics)

  // Creates the communicator with coll_comm_init_env and starts the thread. Idempotent.
  coll_status_t Init(std::string* error);
  // Agrees with the other ranks to stop, fails what is pending, destroys the communicator.
  void Shutdown();
  bool initialized() const { return running_.load(); }
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  Stats stats();

  // Takes the requests; each one's finish is called exactly once, possibly before return.
  void Enqueue(std::vector<std::unique_ptr<Request>> requests);

 private:
  struct Entry {  // one name's announcements, identical on every rank
    std::vector<Announcement> by_rank;
    std::vector<bool> present;
    int count = 0;
    std::chrono::steady_clock::time_point first_seen;
  };

  struct Job {  // a ready request and every rank's first dimension (for allgather)
    std::unique_ptr<Request> r;
    std::vector<int64_t> dim0;
  };

  Runtime() = default;
  coll_status_t FindLocalRank(std::string* error);
  void Loop();
  bool Round();
  bool Exchange(std::vector<char>* mine, bool shutdown, std::vector<std::vector<char>>* all,
                int* shutdown_rank, bool* busy);
  bool Execute(const std::vector<std::string>& ready);
  coll_status_t RunAllreduces(std::vector<Job>& jobs, const std::vector<size_t>& batch);
  coll_status_t RunBroadcast(Request* r);
  coll_status_t RunAllgather(Request* r, const std::vector<int64_t>& dim0);
  coll_status_t RunReduceScatter(Request* r);
  void WarnStalls();
  void Finish(std::unique_ptr<Request>&& r, const absl::Status& s);
  void FailEverything(const absl::Status& why);
  void Count(size_t tensors);
  absl::Status LibraryError(coll_status_t st);
  static char* Data(tensorflow::Tensor& t);

  std::mutex init_mu_;
  std::atomic<bool> running_{false};
  coll_comm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::thread thread_;

  std::mutex mu_;  // guards the fields down to stats_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Request>> queue_;
  std::set<std::string> in_flight_;  // names enqueued and not finished, to refuse duplicates
  bool stop_requested_ = false;
  absl::Status dead_;  // once set, every request fails with it
  Stats stats_;

  // Background thread only.
  std::unordered_map<std::string, std::unique_ptr<Request>> local_;
  std::map<std::string, Entry> table_;
  std::vector<char> fusion_;
  size_t fusion_bytes_ = 64 << 20;
  std::chrono::microseconds cycle_{1000};
  double stall_warn_s_ = 60;
  std::chrono::steady_clock::time_point last_stall_check_;
  bool trace_ = false;
};

}  // namespace coll_tf
