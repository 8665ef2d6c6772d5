// The control-channel watchdog of Bootstrap: goodbyes, deaths and reported errors, and on
// the root the processes that connect to the root address after every rank has joined.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "bootstrap/bootstrap.h"
#include "base/log.h"
#include "bootstrap/control_frame.h"

namespace coll {

Bootstrap::~Bootstrap() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    for (size_t i = 0; i < ctl_.size(); ++i)
      if (ctl_[i].valid() && (i >= ctl_closed_.size() || !ctl_closed_[i]))
        WriteFrame(ctl_[i].get(), kFrameBye, COLL_SUCCESS, rank_, "", Deadline::In(1000), "control channel");
  }
  if (wake_.valid()) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_.get(), &one, sizeof one);
    (void)ignored;
  }
  if (watchdog_.joinable()) watchdog_.join();
  acceptor_.reset();  // before root_listener_ closes
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
    if (type == kFrameFatal) WriteFatal(ctl_[i].get(), st, origin, Deadline::In(1000));
  }
}

void Bootstrap::reportFatal(const Status& st) {
  if (st.ok() || stopping_) return;
  forward(kFrameFatal, st, rank_, -1);
}

// Returns false when this connection is finished (goodbye, death, or error).
bool Bootstrap::handleFrame(size_t index) {
  int peer = rank_ == 0 ? static_cast<int>(index) : 0;
  const std::string who = "rank " + std::to_string(peer);
  FrameHeader h{};
  std::string text;
  Status st = ReadFrame(ctl_[index].get(), Deadline::In(2000), who, &h, &text);
  if (!st.ok()) {
    if (stopping_) return false;
    const std::string& host = peers_[peer].host_id;
    Status lost = PeerLost("rank %d (host %s) died or lost its connection to the job; the communicator cannot be "
                           "used further",
                           peer, host.c_str());
    if (rank_ == 0) forward(kFrameFatal, lost, 0, peer);
    fatal(lost);
    return false;
  }
  if (h.type == kFrameBye) return false;
  if (h.type != kFrameFatal) {
    onProgressFrame(peer, h, text);
    return true;
  }
  Status reported(static_cast<coll_status_t>(h.code), text);
  if (rank_ == 0) forward(kFrameFatal, reported, h.origin, h.origin);
  fatal(reported);
  return true;
}

// Root, after the rendezvous: every rank has joined, so a process that proves this job's
// token and claims a rank is a second job on the same address. Both jobs fail, saying so.
void Bootstrap::serveLateJoiners() {
  for (Acceptor::Result& late : acceptor_->take()) {
    const Acceptor::Outcome& o = late.outcome;
    if (!o.duplicate) {
      if (!o.status.ok())
        COLL_WARN(0, "bootstrap: dropped a connection from %s to the root address: %s", late.from.c_str(),
                  o.status.message().c_str());
      continue;
    }
    Status two = InvalidArgument("a second process with this job's token claimed rank %d (from %s) after every rank "
                                 "had joined: two jobs share the root address %s; give each job its own "
                                 "COLL_ROOT_ADDR, or COLL_JOB_TOKEN",
                                 o.rank, late.from.c_str(), root_text_.c_str());
    forward(kFrameFatal, two, 0, -1);
    fatal(two);
  }
}

void Bootstrap::watchLoop() {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    fds.push_back(pollfd{wake_.get(), POLLIN, 0});
    if (acceptor_) fds.push_back(pollfd{acceptor_->readyFd(), POLLIN, 0});
    const size_t first = fds.size();
    for (size_t i = 0; i < ctl_.size(); ++i) {
      if (!ctl_[i].valid() || ctl_closed_[i]) continue;
      fds.push_back(pollfd{ctl_[i].get(), POLLIN, 0});
      index.push_back(i);
    }
    if (stopping_) return;
    if (poll(fds.data(), fds.size(), watchTimeoutMs()) < 0) continue;
    if (stopping_) return;
    if (fds[0].revents) {
      uint64_t v;
      ssize_t ignored = read(wake_.get(), &v, sizeof v);  // a progress query started
      (void)ignored;
    }
    watchTimeoutMs();  // ends a progress query whose time is up
    if (acceptor_ && fds[1].revents) serveLateJoiners();
    for (size_t k = first; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      if (!handleFrame(index[k - first])) {
        std::lock_guard<std::mutex> lock(write_mu_);
        ctl_closed_[index[k - first]] = true;
      }
    }
  }
}

}  // namespace coll
