// See runtime.h. Thread-safety: Enqueue, stats and the accessors from any thread; Init and
// Shutdown serialised by init_mu_; everything named "background thread only" from Loop alone.
#include "runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace coll_tf {
namespace {

using Clock = std::chrono::steady_clock;

std::string RankList(const std::vector<int>& ranks) {
  std::ostringstream s;
  s << (ranks.size() == 1 ? "rank " : "ranks ");
  for (size_t i = 0; i < ranks.size(); ++i) s << (i ? ", " : "") << ranks[i];
  return s.str();
}

// Same code as base, message plus the tensor it concerns.
absl::Status ForTensor(const absl::Status& base, const std::string& name) {
  return absl::Status(base.code(),
                      std::string(base.message()) + " (tensor '" + name + "')");
}

bool ParseDouble(const char* var, double min, double* out, std::string* error) {
  const char* v = std::getenv(var);
  if (v == nullptr || *v == '\0') return true;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(v, &end);
  if (errno != 0 || *end != '\0' || !(d >= min)) {
    *error = std::string("collective.tensorflow init: ") + var + "='" + v +
             "' is not a number >= " + std::to_string(min);
    return false;
  }
  *out = d;
  return true;
}

}  // namespace

void AdviseHugePages(void* data, size_t bytes) {
  constexpr uintptr_t kHuge = 2 << 20;
  if (bytes < 2 * kHuge) return;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

Runtime* Runtime::Get() {
  static Runtime* runtime = new Runtime();
  return runtime;
}

coll_status_t Runtime::Init(std::string* error) {
  std::lock_guard<std::mutex> init_lock(init_mu_);
  if (running_) return COLL_SUCCESS;
  if (comm_ != nullptr || thread_.joinable()) {
    *error = "collective.tensorflow init: already shut down in this process; it cannot start again";
    return COLL_ERR_UNSUPPORTED;
  }
  double fusion = static_cast<double>(fusion_bytes_), cycle_ms = 1.0;
  if (!ParseDouble("COLL_TF_FUSION_BYTES", 0, &fusion, error) ||
      !ParseDouble("COLL_TF_CYCLE_MS", 0.01, &cycle_ms, error) ||
      !ParseDouble("COLL_TF_STALL_WARN_S", 0, &stall_warn_s_, error))
    return COLL_ERR_INVALID_ARGUMENT;
  fusion_bytes_ = static_cast<size_t>(fusion);
  cycle_ = std::chrono::microseconds(static_cast<int64_t>(cycle_ms * 1000));
  const char* debug = std::getenv("COLL_DEBUG");
  trace_ = debug != nullptr && std::strcmp(debug, "TRACE") == 0;

  coll_status_t st = coll_comm_init_env(&comm_);
  if (st != COLL_SUCCESS) {
    *error = coll_comm_last_error(nullptr);
    comm_ = nullptr;
    return st;
  }
  coll_comm_rank(comm_, &rank_);
  coll_comm_size(comm_, &size_);
  st = FindLocalRank(error);
  if (st != COLL_SUCCESS) {
    coll_comm_destroy(comm_);
    comm_ = nullptr;
    return st;
  }
  running_ = true;
  thread_ = std::thread(&Runtime::Loop, this);
  return COLL_SUCCESS;
}

// local_rank / local_size: ranks that share this host's identity, from one allgather of it.
coll_status_t Runtime::FindLocalRank(std::string* error) {
  constexpr size_t kIdBytes = 64;
  char mine[kIdBytes] = {0};
  const char* test_id = std::getenv("COLL_TEST_HOST_ID");
  if (test_id != nullptr && *test_id != '\0')
    std::strncpy(mine, test_id, kIdBytes - 1);
  else
    gethostname(mine, kIdBytes - 1);
  std::vector<char> all(kIdBytes * size_);
  coll_status_t st = coll_allgather(mine, all.data(), kIdBytes, COLL_UINT8, comm_);
  if (st != COLL_SUCCESS) {
    *error = coll_comm_last_error(comm_);
    return st;
  }
  local_rank_ = local_size_ = 0;
  for (int r = 0; r < size_; ++r) {
    if (std::memcmp(&all[r * kIdBytes], mine, kIdBytes) != 0) continue;
    if (r < rank_) ++local_rank_;
    ++local_size_;
  }
  return COLL_SUCCESS;
}

void Runtime::Shutdown() {
  std::lock_guard<std::mutex> init_lock(init_mu_);
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  thread_.join();
  coll_comm_destroy(comm_);
  running_ = false;
}

Stats Runtime::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Runtime::Enqueue(std::vector<std::unique_ptr<Request>> requests) {
  std::vector<std::pair<std::unique_ptr<Request>, absl::Status>> refused;
  const auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : requests) {
      r->enqueued = now;
      absl::Status why;
      if (!dead_.ok())
        why = dead_;
      else if (!running_)
        why = absl::FailedPreconditionError(
            "collective.tensorflow is not initialized: call collective.tensorflow.init() first");
      else if (!in_flight_.insert(r->a.name).second)
        why = absl::InvalidArgumentError(
            "collective.tensorflow: a collective with this name is already in flight on rank " +
            std::to_string(rank_) + "; concurrent collectives need distinct names");
      if (why.ok())
        queue_.push_back(std::move(r));
      else
        refused.emplace_back(std::move(r), ForTensor(why, r->a.name));
    }
  }
  cv_.notify_all();
  for (auto& [r, why] : refused) r->finish(why);
}

// A round every cycle_ while anything is pending anywhere (new requests start one at once);
// when nothing is, the wait doubles per idle round up to kIdleCycle, so an idle job does not
// coordinate a thousand times a second. That costs no latency: every rank that submits a
// request starts a round at once, and a name another rank announced first is pending here too.
void Runtime::Loop() {
  constexpr auto kIdleCycle = std::chrono::milliseconds(20);
  auto next = Clock::now();
  auto wait = cycle_;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next, [&] { return !queue_.empty() || stop_requested_; });
    }
    if (!Round()) return;
    bool idle;
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle = queue_.empty() && local_.empty() && table_.empty();
    }
    wait = idle ? std::min<std::chrono::microseconds>(std::max(wait * 2, cycle_), kIdleCycle) : cycle_;
    next = Clock::now() + wait;
  }
}

// One coordination round: announce what is new here, learn what is new everywhere, run what
// every rank has announced. Returns false when the thread must stop.
bool Runtime::Round() {
  std::vector<std::unique_ptr<Request>> fresh;
  bool stop;
  const auto start = Clock::now();
  int64_t queued_ns = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh.swap(queue_);
    stop = stop_requested_;
    ++stats_.rounds;
  }
  std::vector<char> mine;
  for (auto& r : fresh) {
    queued_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(start - r->enqueued).count();
    Serialize(r->a, &mine);
    std::string name = r->a.name;
    local_[name] = std::move(r);
  }
  std::vector<std::vector<char>> all;
  int stop_rank = -1;
  bool busy = false;
  if (!Exchange(&mine, stop, &all, &stop_rank, &busy)) return false;
  const auto exchanged = Clock::now();

  std::vector<std::string> ready;
  auto now = Clock::now();
  for (int r = 0; r < size_; ++r) {
    std::vector<Announcement> parsed;
    if (!ParseAll(all[r].data(), all[r].size(), &parsed)) {
      FailEverything(absl::InternalError("collective.tensorflow: malformed announcement from rank " +
                                         std::to_string(r)));
      return false;
    }
    for (auto& a : parsed) {
      Entry& e = table_[a.name];
      if (e.count == 0) {
        e.by_rank.resize(size_);
        e.present.assign(size_, false);
        e.first_seen = now;
      }
      std::string name = a.name;
      e.by_rank[r] = std::move(a);
      e.present[r] = true;
      if (++e.count == size_) ready.push_back(name);
    }
  }
  if (!ready.empty() && !Execute(ready)) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (busy) {
      ++stats_.busy_rounds;
      stats_.queued_ns += queued_ns;
      stats_.exchange_ns +=
          std::chrono::duration_cast<std::chrono::nanoseconds>(exchanged - start).count();
      stats_.execute_ns +=
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - exchanged).count();
    }
  }
  if (stop_rank >= 0) {
    FailEverything(absl::FailedPreconditionError(
        "collective.tensorflow was shut down (by rank " + std::to_string(stop_rank) +
        ", ct.shutdown() or its exit) before this collective ran on every rank"));
    return false;
  }
  WarnStalls();
  return true;
}

// One allgather of a fixed slot per rank: byte count, stop flag and the first kInline bytes of
// the announcements; a second one only for what is longer (padded to the longest).
bool Runtime::Exchange(std::vector<char>* mine, bool stop, std::vector<std::vector<char>>* all,
                       int* stop_rank, bool* busy) {
  constexpr size_t kSlot = 512, kHeader = 2 * sizeof(int64_t), kInline = kSlot - kHeader;
  std::vector<char> slot(kSlot, 0), slots(kSlot * size_);
  const int64_t header[2] = {static_cast<int64_t>(mine->size()), stop ? 1 : 0};
  std::memcpy(slot.data(), header, kHeader);
  std::memcpy(slot.data() + kHeader, mine->data(), std::min(mine->size(), kInline));
  coll_status_t st = coll_allgather(slot.data(), slots.data(), kSlot, COLL_UINT8, comm_);
  if (st != COLL_SUCCESS) {
    FailEverything(LibraryError(st));
    return false;
  }
  std::vector<int64_t> lengths(size_);
  size_t longest = 0;
  for (int r = 0; r < size_; ++r) {
    int64_t h[2];
    std::memcpy(h, &slots[r * kSlot], kHeader);
    lengths[r] = h[0];
    longest = std::max(longest, static_cast<size_t>(h[0]));
    if (h[1] != 0 && *stop_rank < 0) *stop_rank = r;
  }
  *busy = longest > 0;
  all->assign(size_, {});
  for (int r = 0; r < size_; ++r) {
    const char* in = &slots[r * kSlot + kHeader];
    (*all)[r].assign(in, in + std::min(static_cast<size_t>(lengths[r]), kInline));
  }
  if (longest <= kInline) return true;
  const size_t rest = longest - kInline;
  std::vector<char> tail(rest, 0), tails(rest * size_);
  if (mine->size() > kInline) std::memcpy(tail.data(), mine->data() + kInline, mine->size() - kInline);
  st = coll_allgather(tail.data(), tails.data(), rest, COLL_UINT8, comm_);
  if (st != COLL_SUCCESS) {
    FailEverything(LibraryError(st));
    return false;
  }
  for (int r = 0; r < size_; ++r)
    if (static_cast<size_t>(lengths[r]) > kInline)
      (*all)[r].insert((*all)[r].end(), tails.begin() + r * rest,
                       tails.begin() + r * rest + (lengths[r] - kInline));
  return true;
}

// Runs the ready names in their agreed order: allreduces of one dtype and op fused up to
// fusion_bytes_, a broadcast or allgather alone. Same decisions on every rank. Returns false
// when the communicator failed (then everything pending has failed too).
bool Runtime::Execute(const std::vector<std::string>& ready) {
  std::vector<Job> jobs;
  for (const std::string& name : ready) {
    Entry e = std::move(table_[name]);
    table_.erase(name);
    auto it = local_.find(name);
    std::unique_ptr<Request> r = std::move(it->second);
    local_.erase(it);
    std::map<std::string, std::vector<int>> by_kind;
    bool compatible = true;
    for (int q = 0; q < size_; ++q) {
      by_kind[Describe(e.by_rank[q])].push_back(q);
      compatible = compatible && Compatible(e.by_rank[0], e.by_rank[q]);
    }
    if (!compatible) {
      std::string msg = "collective.tensorflow: ranks submitted tensor '" + name + "' differently:";
      const char* sep = " ";
      for (auto& [what, ranks] : by_kind) {
        msg += sep + what + " on " + RankList(ranks);
        sep = "; ";
      }
      Finish(std::move(r), absl::InvalidArgumentError(msg));
      continue;
    }
    Job job{std::move(r), {}};
    for (auto& a : e.by_rank) job.dim0.push_back(a.shape.empty() ? 0 : a.shape[0]);
    jobs.push_back(std::move(job));
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].r) continue;
    std::vector<size_t> batch = {i};
    coll_status_t st;
    const Announcement& a = jobs[i].r->a;
    if (a.kind == Kind::kAllreduce) {
      size_t bytes = jobs[i].r->input.TotalBytes();
      for (size_t j = i + 1; j < jobs.size(); ++j) {
        if (!jobs[j].r) continue;
        const Announcement& b = jobs[j].r->a;
        size_t more = jobs[j].r->input.TotalBytes();
        if (b.kind != Kind::kAllreduce || b.dtype != a.dtype || b.op != a.op ||
            bytes + more > fusion_bytes_)
          continue;
        bytes += more;
        batch.push_back(j);
      }
      st = RunAllreduces(jobs, batch);
    } else if (a.kind == Kind::kBroadcast) {
      st = RunBroadcast(jobs[i].r.get());
    } else if (a.kind == Kind::kReduceScatter) {
      st = RunReduceScatter(jobs[i].r.get());
    } else {
      st = RunAllgather(jobs[i].r.get(), jobs[i].dim0);
    }
    for (size_t j : batch)
      Finish(std::move(jobs[j].r), st == COLL_SUCCESS ? absl::OkStatus()
                                                     : ForTensor(LibraryError(st), jobs[j].r->a.name));
    if (st != COLL_SUCCESS) {
      absl::Status why = LibraryError(st);
      for (auto& job : jobs)
        if (job.r) Finish(std::move(job.r), ForTensor(why, job.r->a.name));
      FailEverything(why);
      return false;
    }
  }
  return true;
}

coll_status_t Runtime::RunAllreduces(std::vector<Job>& jobs, const std::vector<size_t>& batch) {
  const Announcement& a = jobs[batch[0]].r->a;
  auto dtype = static_cast<coll_dtype_t>(a.dtype);
  auto op = static_cast<coll_op_t>(a.op);
  coll_status_t st;
  if (batch.size() == 1) {
    Request* r = jobs[batch[0]].r.get();
    st = coll_allreduce(r->input.tensor_data().data(), Data(r->output), r->input.NumElements(),
                        dtype, op, comm_);
  } else {
    size_t total = 0;
    for (size_t j : batch) total += jobs[j].r->input.TotalBytes();
    if (fusion_.size() < total) fusion_.resize(total);
    size_t off = 0;
    for (size_t j : batch) {
      const tensorflow::Tensor& in = jobs[j].r->input;
      std::memcpy(fusion_.data() + off, in.tensor_data().data(), in.TotalBytes());
      off += in.TotalBytes();
    }
    st = coll_allreduce(fusion_.data(), fusion_.data(), total / coll_dtype_size(dtype), dtype, op,
                        comm_);
    off = 0;
    for (size_t j : batch) {
      tensorflow::Tensor& out = jobs[j].r->output;
      if (st == COLL_SUCCESS) std::memcpy(Data(out), fusion_.data() + off, out.TotalBytes());
      off += out.TotalBytes();
    }
    if (trace_)
      std::fprintf(stderr,
                   "collective.tensorflow rank %d: TRACE fused %zu tensors (%zu bytes) into one "
                   "allreduce\n",
                   rank_, batch.size(), total);
  }
  Count(batch.size());
  return st;
}

coll_status_t Runtime::RunBroadcast(Request* r) {
  Count(1);
  return coll_broadcast(r->input.tensor_data().data(), Data(r->output), r->input.NumElements(),
                        static_cast<coll_dtype_t>(r->a.dtype), r->a.root, comm_);
}

// The first dimension may differ between ranks: equal ones gather straight into the output,
// different ones through a buffer padded to the largest, then packed.
coll_status_t Runtime::RunAllgather(Request* r, const std::vector<int64_t>& dim0) {
  Count(1);
  auto dtype = static_cast<coll_dtype_t>(r->a.dtype);
  std::vector<int64_t> row_shape(r->a.shape.begin() + 1, r->a.shape.end());
  size_t row_bytes = NumElements(row_shape) * coll_dtype_size(dtype);
  int64_t total = 0, longest = 0;
  for (int64_t d : dim0) total += d, longest = std::max(longest, d);
  tensorflow::TensorShape shape = r->input.shape();
  shape.set_dim(0, total);
  tensorflow::Tensor* out = nullptr;
  absl::Status alloc = r->ctx->allocate_output(r->output_index, shape, &out);
  std::vector<char> spare;  // keeps this rank in step with the others when allocation failed
  char* dst;
  if (alloc.ok()) {
    dst = Data(*out);
    AdviseHugePages(dst, out->TotalBytes());
  } else {
    spare.resize(total * row_bytes);
    dst = spare.data();
  }
  coll_status_t st;
  if (std::all_of(dim0.begin(), dim0.end(), [&](int64_t d) { return d == longest; })) {
    st = coll_allgather(r->input.tensor_data().data(), dst, longest * row_bytes / coll_dtype_size(dtype),
                        dtype, comm_);
  } else {
    std::vector<char> send(longest * row_bytes), recv(longest * row_bytes * size_);
    std::memcpy(send.data(), r->input.tensor_data().data(), r->input.TotalBytes());
    st = coll_allgather(send.data(), recv.data(), longest * row_bytes / coll_dtype_size(dtype),
                        dtype, comm_);
    size_t off = 0;
    for (int q = 0; q < size_ && st == COLL_SUCCESS; ++q) {
      std::memcpy(dst + off, recv.data() + q * longest * row_bytes, dim0[q] * row_bytes);
      off += dim0[q] * row_bytes;
    }
  }
  if (st == COLL_SUCCESS && !alloc.ok()) r->alloc_error = alloc;
  return st;
}

// Rank q receives rows [ScatterFirstRow(q), +ScatterRows(q)) of the reduced tensor. An even
// split is one coll_reduce_scatter straight into the output; an uneven one goes through a send
// buffer with every rank's block padded to the largest (the padding is reduced and dropped).
coll_status_t Runtime::RunReduceScatter(Request* r) {
  Count(1);
  auto dtype = static_cast<coll_dtype_t>(r->a.dtype);
  const int64_t dim0 = r->a.shape[0];
  const size_t row_bytes = r->input.TotalBytes() / std::max<int64_t>(dim0, 1);
  const size_t elem = coll_dtype_size(dtype);
  const int64_t most = ScatterRows(dim0, size_, 0);
  if (r->input.TotalBytes() == 0) return COLL_SUCCESS;  // so on every rank: shapes match
  if (dim0 % size_ == 0)
    return coll_reduce_scatter(r->input.tensor_data().data(), Data(r->output),
                               most * row_bytes / elem, dtype, static_cast<coll_op_t>(r->a.op),
                               comm_);
  std::vector<char> send(most * row_bytes * size_, 0), recv(most * row_bytes);
  const char* in = r->input.tensor_data().data();
  for (int q = 0; q < size_; ++q)
    std::memcpy(send.data() + q * most * row_bytes, in + ScatterFirstRow(dim0, size_, q) * row_bytes,
                ScatterRows(dim0, size_, q) * row_bytes);
  coll_status_t st = coll_reduce_scatter(send.data(), recv.data(), most * row_bytes / elem, dtype,
                                         static_cast<coll_op_t>(r->a.op), comm_);
  if (st == COLL_SUCCESS && r->output.TotalBytes() > 0)
    std::memcpy(Data(r->output), recv.data(), r->output.TotalBytes());
  return st;
}

// At most once per stall_warn_s_, rank 0 names the tensors that have waited that long, grouped
// by the ranks that have not submitted them yet.
void Runtime::WarnStalls() {
  if (rank_ != 0 || stall_warn_s_ <= 0) return;
  auto now = Clock::now();
  auto every = std::chrono::duration<double>(stall_warn_s_);
  if (now - last_stall_check_ < every) return;
  last_stall_check_ = now;
  struct Stalled {
    std::vector<int> have;
    std::vector<std::string> names;
    double longest = 0;
  };
  std::map<std::vector<int>, Stalled> by_missing;
  for (auto& [name, e] : table_) {
    double waited = std::chrono::duration<double>(now - e.first_seen).count();
    if (waited < stall_warn_s_) continue;
    std::vector<int> have, missing;
    const Announcement* some = nullptr;
    for (int q = 0; q < size_; ++q) {
      if (e.present[q]) {
        have.push_back(q);
        some = &e.by_rank[q];
      } else {
        missing.push_back(q);
      }
    }
    Stalled& s = by_missing[missing];
    s.have = have;
    s.longest = std::max(s.longest, waited);
    s.names.push_back("'" + name + "' (" + Describe(*some) + ")");
  }
  for (auto& [missing, s] : by_missing) {
    std::string list;
    for (size_t i = 0; i < s.names.size() && i < 4; ++i) list += (i ? ", " : "") + s.names[i];
    if (s.names.size() > 4) list += ", ...";
    std::fprintf(stderr,
                 "collective.tensorflow WARNING: %zu tensor(s) submitted on %s have waited up to "
                 "%.0f s for %s: %s (a rank is behind, stuck, or submits other tensors)\n",
                 s.names.size(), RankList(s.have).c_str(), s.longest, RankList(missing).c_str(),
                 list.c_str());
  }
}

void Runtime::Finish(std::unique_ptr<Request>&& owned, const absl::Status& s) {
  std::unique_ptr<Request> r = std::move(owned);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(r->a.name);
  }
  absl::Status outcome = s.ok() && !r->alloc_error.ok() ? r->alloc_error : s;
  r->finish(outcome);
}

// The communicator is unusable: refuse what comes next, fail what is queued or announced.
void Runtime::FailEverything(const absl::Status& why) {
  std::vector<std::unique_ptr<Request>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_.ok()) dead_ = why;
    queued.swap(queue_);
  }
  for (auto& r : queued) Finish(std::move(r), ForTensor(why, r->a.name));
  for (auto& [name, r] : local_) Finish(std::move(r), ForTensor(why, name));
  local_.clear();
  table_.clear();
}

void Runtime::Count(size_t tensors) {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.collectives;
  stats_.tensors += tensors;
  if (tensors > 1) ++stats_.fused;
  stats_.max_fused = std::max<int64_t>(stats_.max_fused, tensors);
}

// The library's status as a TensorFlow error with the communicator's last-error sentence.
absl::Status Runtime::LibraryError(coll_status_t st) {
  std::string msg = coll_comm_last_error(comm_);
  if (msg.empty()) msg = coll_status_string(st);
  switch (st) {
    case COLL_ERR_INVALID_ARGUMENT:
    case COLL_ERR_MISMATCH: return absl::InvalidArgumentError(msg);
    case COLL_ERR_TIMEOUT: return absl::DeadlineExceededError(msg);
    case COLL_ERR_PEER_LOST: return absl::UnavailableError(msg);
    case COLL_ERR_UNSUPPORTED: return absl::UnimplementedError(msg);
    case COLL_ERR_AUTH: return absl::UnauthenticatedError(msg);
    case COLL_ERR_ABORTED: return absl::AbortedError(msg);
    default: return absl::InternalError(msg);
  }
}

char* Runtime::Data(tensorflow::Tensor& t) { return const_cast<char*>(t.tensor_data().data()); }

}  // namespace coll_tf
