// Bootstrap's progress query: on a timeout, where is every rank? The root asks every rank for
// the sequence number of the latest collective it started and answers the asker with the
// table; a rank that does not answer within the wait is stopped or hung. See control_frame.h.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "bootstrap/bootstrap.h"

namespace coll {
namespace {

constexpr int64_t kRootWaitMs = 500;  // how long the root waits for the ranks' answers

std::string Int64s(const std::vector<int64_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t));
}

}  // namespace

bool Bootstrap::rankProgress(int64_t wait_ms, std::vector<int64_t>* seqs) {
  std::unique_lock<std::mutex> lock(progress_mu_);
  progress_ready_ = false;
  if (rank_ == 0) {
    if (collecting_) requesters_.push_back(0);
    else startProgressQuery(0, wait_ms);
    uint64_t one = 1;  // the watchdog recomputes its poll timeout
    ssize_t ignored = write(wake_.get(), &one, sizeof one);
    (void)ignored;
  } else {
    std::lock_guard<std::mutex> w(write_mu_);
    if (ctl_.empty() || !ctl_[0].valid() || ctl_closed_[0]) return false;
    if (!WriteFrame(ctl_[0].get(), kFrameAskProgress, COLL_SUCCESS, rank_, "", Deadline::In(500), "the root").ok())
      return false;
  }
  if (!progress_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms + kRootWaitMs),
                             [this] { return progress_ready_; }))
    return false;
  *seqs = progress_;
  return true;
}

void Bootstrap::startProgressQuery(int requester, int64_t wait_ms) {
  collecting_ = true;
  requesters_.assign(1, requester);
  collected_.assign(nranks_, -1);
  collected_[0] = progress_fn_ ? progress_fn_() : 0;
  collect_until_us_ = NowMicros() + std::min(wait_ms, kRootWaitMs) * 1000;
  std::lock_guard<std::mutex> w(write_mu_);
  for (int r = 1; r < nranks_; ++r)
    if (ctl_[r].valid() && !ctl_closed_[r])
      WriteFrame(ctl_[r].get(), kFrameProgressQuery, COLL_SUCCESS, 0, "", Deadline::In(500), "control channel");
}

void Bootstrap::finishProgressQuery() {
  for (int asker : requesters_) {
    if (asker == 0) {
      progress_ = collected_;
      progress_ready_ = true;
      progress_cv_.notify_all();
      continue;
    }
    std::lock_guard<std::mutex> w(write_mu_);
    if (ctl_[asker].valid() && !ctl_closed_[asker])
      WriteFrame(ctl_[asker].get(), kFrameProgressTable, COLL_SUCCESS, 0, Int64s(collected_), Deadline::In(500),
                 "control channel");
  }
  requesters_.clear();
  collecting_ = false;
}

void Bootstrap::onProgressFrame(int peer, const FrameHeader& h, const std::string& payload) {
  std::lock_guard<std::mutex> lock(progress_mu_);
  if (rank_ == 0 && h.type == kFrameAskProgress) {
    if (collecting_) requesters_.push_back(peer);
    else startProgressQuery(peer, kRootWaitMs);
  } else if (rank_ == 0 && h.type == kFrameProgressReply && collecting_ && payload.size() == sizeof(int64_t)) {
    std::memcpy(&collected_[peer], payload.data(), sizeof(int64_t));
  } else if (rank_ != 0 && h.type == kFrameProgressQuery) {
    std::vector<int64_t> mine{progress_fn_ ? progress_fn_() : 0};
    std::lock_guard<std::mutex> w(write_mu_);
    if (!ctl_closed_[0])
      WriteFrame(ctl_[0].get(), kFrameProgressReply, COLL_SUCCESS, rank_, Int64s(mine), Deadline::In(500),
                 "the root");
  } else if (rank_ != 0 && h.type == kFrameProgressTable && payload.size() == nranks_ * sizeof(int64_t)) {
    progress_.resize(nranks_);
    std::memcpy(progress_.data(), payload.data(), payload.size());
    progress_ready_ = true;
    progress_cv_.notify_all();
  }
  if (rank_ == 0 && collecting_) {
    bool all = true;
    for (int64_t v : collected_) all = all && v >= 0;
    if (all) finishProgressQuery();
  }
}

// The watchdog's poll timeout: the end of a progress query in flight on the root, else none.
// Also ends a query whose time is up.
int Bootstrap::watchTimeoutMs() {
  if (rank_ != 0) return -1;
  std::lock_guard<std::mutex> lock(progress_mu_);
  if (!collecting_) return -1;
  const int64_t left_us = collect_until_us_ - NowMicros();
  if (left_us > 0) return static_cast<int>(left_us / 1000 + 1);
  finishProgressQuery();
  return -1;
}

}  // namespace coll
