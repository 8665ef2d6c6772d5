// Communicator creation (bootstrap, ring order, links) and its error state.
#include "comm/comm.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "bootstrap/handshake.h"
#include "base/log.h"
#include "comm/progress_placement.h"
#include "topology/hosts.h"
#include "topology/topology.h"

namespace coll {

Status Communicator::Create(int nranks, int rank, const UniqueId& id, Fd parked, const Config& config,
                            std::unique_ptr<Communicator>* out) {
  std::unique_ptr<Communicator> c(new Communicator(nranks, rank, config));
  c->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!c->wake_.valid()) return ErrnoError(errno, "eventfd");
  Deadline deadline = Deadline::In(config.timeout_ms);
  COLL_RETURN_IF_ERROR(
      Bootstrap::Create(rank, nranks, id, std::move(parked), config, SharedSettingsOf(config), topo::HostIdentity(),
                        &c->bootstrap_));
  std::vector<std::string> hosts;
  for (const PeerInfo& p : c->bootstrap_->peers()) hosts.push_back(p.host_id);
  c->ring_ = topo::RingOrder(hosts);
  const bool one_host = topo::HostCount(hosts) == 1;
  const bool shm_ring = one_host && (config.transport == "auto" || config.transport == "shm");
  c->small_bytes_ = config.small_bytes_set ? config.small_bytes : shm_ring ? 8 * 1024 : 32 * 1024;
  c->pos_ = c->ringPosOf(rank);
  // The watchdog runs from here on: a rank that dies (or fails) while the ring connects is
  // reported to every rank at once, not at COLL_TIMEOUT_MS.
  Communicator* raw = c.get();
  c->bootstrap_->setProgressFn([raw] { return static_cast<int64_t>(raw->seq()); });
  c->bootstrap_->startWatchdog([raw](const Status& st) { raw->fail(st, false); });
  Status st = c->connectRing(deadline);
  if (!st.ok()) return c->initFailed(st);
  c->logSetup();
  *out = std::move(c);
  return Status::OK();
}

// A ring setup error may be a symptom (a neighbour that failed closed its socket): give the
// rank that saw the cause a moment to report it, and report this one's otherwise.
Status Communicator::initFailed(const Status& st) {
  Deadline grace = Deadline::In(std::min<int64_t>(1000, config_.timeout_ms));
  if (st.code() == COLL_ERR_PEER_LOST)
    while (!failed() && !grace.expired()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (failed()) return failure();
  fail(st, true);
  return st;
}

std::string Communicator::laggards(uint64_t seq) {
  std::vector<int64_t> seqs;
  if (!bootstrap_ || !bootstrap_->rankProgress(500, &seqs)) return "";
  std::string out;
  int count = 0;
  for (int r = 0; r < static_cast<int>(seqs.size()); ++r) {
    if (seqs[r] >= static_cast<int64_t>(seq)) continue;
    out += out.empty() ? "" : ", ";
    out += seqs[r] < 0 ? StrFormat("rank %d (stopped or hung: it did not answer)", r)
                       : StrFormat("rank %d (still at collective #%lld)", r, static_cast<long long>(seqs[r]));
    ++count;
  }
  if (count == 0) return "";
  return out + (count == 1 ? " has" : " have") + StrFormat(" not reached collective #%llu", (unsigned long long)seq);
}

Communicator::~Communicator() {
  left_.reset();
  right_.reset();
  bootstrap_.reset();  // says goodbye, stops the watchdog before `this` goes away
}

Status Communicator::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void Communicator::fail(const Status& st, bool tell_others) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return;
    failure_ = st;
  }
  failed_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t ignored = write(wake_.get(), &one, sizeof one);
  (void)ignored;
  COLL_WARN(rank_, "%s", st.message().c_str());
  {
    std::lock_guard<std::mutex> lock(hook_mu_);
    if (on_fail_) on_fail_();
  }
  if (tell_others && bootstrap_) {
    Status relayed(st.code(), StrFormat("%s (reported by rank %d)", st.message().c_str(), rank_));
    bootstrap_->reportFatal(relayed);
  }
}

void Communicator::setFailureHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hook_mu_);
  on_fail_ = std::move(hook);
}

void Communicator::abort() {
  fail(Aborted("the communicator was aborted (coll_comm_abort) on rank %d", rank_), true);
}

void Communicator::setLastError(const std::string& s) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = s;
}

const char* Communicator::lastError() {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_copy_ = last_error_;
  return last_error_copy_.c_str();
}

void Communicator::logSetup() const {
  if (!LogEnabled(LogLevel::kInfo)) return;
  COLL_INFO(rank_, "communicator of %d ranks ready; %s; allreduce up to %zu bytes uses allgather_reduce, above it "
            "the ring", nranks_, config_.describe().c_str(), small_bytes_);
  std::vector<std::string> links(nranks_, "?");
  if (nranks_ > 1) {
    links[pos_] = out_kind_name_;
    links[(pos_ + nranks_ - 1) % nranks_] = in_kind_name_;
  }
  COLL_INFO(rank_, "%s", topo::DescribeRing(ring_, links).c_str());
  if (left_) COLL_INFO(rank_, "links: send %s; receive %s", right_->describe().c_str(), left_->describe().c_str());
  // Where this rank's work runs best: its GPU (the CUDA device current at init), the NIC nearest
  // it and the GPU's cores; without a GPU, the NIC nearest its cores. Collectives run on the
  // caller's thread, which libcollective never rebinds; the progress thread goes there.
  std::unique_ptr<topo::Topology> topology;
  topo::Placement placement;
  Status st = PlanPlacement(config_, rank_, &topology, &placement);
  if (st.ok()) {
    std::string text = topology->describe() + "\nGPU -> NIC -> cores: " + placement.describeChain();
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      COLL_INFO(rank_, "topology: %s", text.substr(pos, end - pos).c_str());
      pos = end + 1;
    }
  } else
    COLL_INFO(rank_, "topology unavailable: %s", st.message().c_str());
}

}  // namespace coll
