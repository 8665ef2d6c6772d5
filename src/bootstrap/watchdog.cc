// The control-channel watchdog of Bootstrap: goodbyes, deaths and reported errors.
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "bootstrap/bootstrap.h"
#include "base/log.h"

namespace coll {
namespace {

enum FrameType : uint32_t { kBye = 1, kFatal = 2 };

struct FrameHeader {
  uint32_t type;
  uint32_t code;
  int32_t origin;
  uint32_t len;
};

bool WriteFrame(int fd, uint32_t type, const Status& st, int origin) {
  std::string text = st.message().substr(0, 4000);
  FrameHeader h{type, static_cast<uint32_t>(st.code()), origin, static_cast<uint32_t>(text.size())};
  std::string buf(reinterpret_cast<const char*>(&h), sizeof h);
  buf += text;
  return SendAll(fd, buf.data(), buf.size(), Deadline::In(1000), "control channel").ok();
}

}  // namespace

Bootstrap::~Bootstrap() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    for (size_t i = 0; i < ctl_.size(); ++i)
      if (ctl_[i].valid() && (i >= ctl_closed_.size() || !ctl_closed_[i])) WriteFrame(ctl_[i].get(), kBye, Status::OK(), rank_);
  }
  if (wake_.valid()) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_.get(), &one, sizeof one);
    (void)ignored;
  }
  if (watchdog_.joinable()) watchdog_.join();
}

void Bootstrap::startWatchdog(FatalFn fn) {
  on_fatal_ = std::move(fn);
  watchdog_ = std::thread([this] { watchLoop(); });
}

void Bootstrap::fatal(const Status& st) {
  std::call_once(fatal_once_, [&] {
    if (on_fatal_) on_fatal_(st);
  });
}

void Bootstrap::forward(int type, const Status& st, int origin, int except_rank) {
  std::lock_guard<std::mutex> lock(write_mu_);
  for (size_t i = 0; i < ctl_.size(); ++i) {
    int peer = rank_ == 0 ? static_cast<int>(i) : 0;
    if (!ctl_[i].valid() || (i < ctl_closed_.size() && ctl_closed_[i]) || peer == except_rank) continue;
    WriteFrame(ctl_[i].get(), static_cast<uint32_t>(type), st, origin);
  }
}

void Bootstrap::reportFatal(const Status& st) {
  if (st.ok() || stopping_) return;
  forward(kFatal, st, rank_, -1);
}

// Returns false when this connection is finished (goodbye, death, or error).
bool Bootstrap::handleFrame(size_t index) {
  int peer = rank_ == 0 ? static_cast<int>(index) : 0;
  const std::string who = "rank " + std::to_string(peer);
  FrameHeader h{};
  Status st = RecvAll(ctl_[index].get(), &h, sizeof h, Deadline::In(2000), who);
  std::string text;
  if (st.ok() && h.len > 65536) st = Internal("%s sent a %u-byte control frame", who.c_str(), h.len);
  if (st.ok() && h.len > 0) {
    text.resize(h.len);
    st = RecvAll(ctl_[index].get(), &text[0], h.len, Deadline::In(2000), who);
  }
  if (!st.ok()) {
    if (stopping_) return false;
    const std::string& host = peers_[peer].host_id;
    Status lost = PeerLost("rank %d (host %s) died or lost its connection to the job; the communicator cannot be "
                           "used further",
                           peer, host.c_str());
    if (rank_ == 0) forward(kFatal, lost, 0, peer);
    fatal(lost);
    return false;
  }
  if (h.type == kBye) return false;
  Status reported(static_cast<coll_status_t>(h.code), text);
  if (rank_ == 0) forward(kFatal, reported, h.origin, h.origin);
  fatal(reported);
  return true;
}

void Bootstrap::watchLoop() {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    fds.push_back(pollfd{wake_.get(), POLLIN, 0});
    for (size_t i = 0; i < ctl_.size(); ++i) {
      if (!ctl_[i].valid() || ctl_closed_[i]) continue;
      fds.push_back(pollfd{ctl_[i].get(), POLLIN, 0});
      index.push_back(i);
    }
    if (index.empty() && !stopping_) {
      pollfd w{wake_.get(), POLLIN, 0};
      poll(&w, 1, -1);
    }
    if (stopping_) return;
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (stopping_) return;
    for (size_t k = 1; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      if (!handleFrame(index[k - 1])) {
        std::lock_guard<std::mutex> lock(write_mu_);
        ctl_closed_[index[k - 1]] = true;
      }
    }
  }
}

}  // namespace coll
