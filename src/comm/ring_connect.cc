// Communicator::connectRing: authenticated sockets to both ring neighbours, a per-edge
// transport choice both ends agree on, then the transport's links (see link.h for the
// setup order that keeps the ring free of waiting cycles).
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "bootstrap/acceptor.h"
#include "bootstrap/handshake.h"
#include "comm/comm.h"
#include "base/log.h"

namespace coll {
namespace {

// Bit t.wire_bit set for every registered transport this rank can use on the edge.
uint8_t CapabilityMask(const Config& config, bool same_host) {
  uint8_t mask = 0;
  for (const TransportInfo& t : Transports())
    if (t.available(config, same_host, nullptr)) mask |= static_cast<uint8_t>(1u << t.wire_bit);
  return mask;
}

// The transport both ends of an edge pick from the capabilities they have in common.
Status Pick(const Config& config, bool same_host, uint8_t common, int peer, const TransportInfo** out) {
  auto has = [&](const TransportInfo& t) { return (common >> t.wire_bit) & 1; };
  if (config.transport == "auto") {
    const TransportInfo* best = nullptr;
    for (const TransportInfo& t : Transports()) {
      int order = same_host ? t.same_host_order : t.remote_order;
      if (order < 0 || !has(t)) continue;
      if (best == nullptr || order < (same_host ? best->same_host_order : best->remote_order)) best = &t;
    }
    if (best == nullptr) return Internal("no transport in common with rank %d", peer);
    *out = best;
    return Status::OK();
  }
  const TransportInfo* forced = FindTransport(config.transport);
  if (forced == nullptr) return Internal("COLL_TRANSPORT=%s is not a transport", config.transport.c_str());
  if (!has(*forced)) {
    std::string why;
    bool mine = forced->available(config, same_host, &why);
    return Unsupported("COLL_TRANSPORT=%s cannot connect to rank %d (%s host): %s", forced->name, peer,
                       same_host ? "same" : "another",
                       mine ? "that rank cannot use it (see its log)" : ("not available on this rank: " + why).c_str());
  }
  *out = forced;
  return Status::OK();
}

// Handshake of one connection to this rank's ring listener (on an Acceptor thread).
void RingServerHandshake(int fd, const Deadline& d, const Token& token, int rank, int nranks, int left,
                         const SharedSettings& params, Acceptor::Outcome* out) {
  ServerHandshake server(fd, token, ConnPurpose::kRingLink, rank, nranks, params);
  Status st = server.answerHello(d, left);
  if (st.ok()) st = server.judge(d);
  out->proved = server.proved();
  out->rank = server.proved() ? server.peerRank() : -1;
  out->accepted = st.ok();
  out->status = st;
}

}  // namespace

// Connects to a ring neighbour, retrying while it does not listen yet; ends at once when the
// communicator fails meanwhile (the watchdog heard that a rank died).
Status Communicator::connectNeighbour(const SockAddr& addr, const Deadline& deadline, const std::string& what,
                                      Fd* out) {
  for (;;) {
    Status st = ConnectRetry(addr, deadline.earlier(Deadline::In(100)), what, out);
    if (failed()) return failure();
    if (st.code() != COLL_ERR_TIMEOUT || deadline.expired()) return st;
  }
}

// Waits for the left neighbour's authenticated connection; strangers are dropped and logged.
Status Communicator::awaitNeighbour(Acceptor& acceptor, int left, const Deadline& deadline, Fd* out) {
  for (;;) {
    pollfd fds[2] = {{acceptor.readyFd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (poll(fds, 2, deadline.remainingMs(1000)) < 0 && errno != EINTR) return ErrnoError(errno, "poll");
    if (failed()) return failure();
    for (Acceptor::Result& r : acceptor.take()) {
      const Acceptor::Outcome& o = r.outcome;
      if (o.accepted) {
        *out = std::move(r.conn);
        return Status::OK();
      }
      if (o.proved && o.rank == left) return o.status;  // rank `left` itself, configured differently
      COLL_WARN(rank_, "ring setup: dropped a connection from %s: %s; still waiting for rank %d", r.from.c_str(),
                o.status.message().c_str(), left);
    }
    if (deadline.expired())
      return Timeout("rank %d timed out (COLL_TIMEOUT_MS) waiting for rank %d to connect to its ring listener", rank_,
                     left);
  }
}

Status Communicator::connectRing(const Deadline& deadline) {
  if (nranks_ == 1) return Status::OK();
  const int right = ring_[(pos_ + 1) % nranks_];
  const int left = ring_[(pos_ + nranks_ - 1) % nranks_];
  const auto& peers = bootstrap_->peers();
  const std::string& me = peers[rank_].host_id;
  const bool right_same = peers[right].host_id == me, left_same = peers[left].host_id == me;
  const SharedSettings params = SharedSettingsOf(config_);
  const std::string what = "rank " + std::to_string(right);

  // The server side runs on Acceptor threads, so the blocking client handshake below never
  // waits in a cycle; a stray connection is dropped and the wait for `left` goes on.
  std::unique_ptr<Acceptor> acceptor;
  const Token& token = bootstrap_->token();
  COLL_RETURN_IF_ERROR(Acceptor::Start(
      bootstrap_->dataListener(), std::min<int64_t>(config_.timeout_ms, 10000),
      [&](int fd, const Deadline& d, Acceptor::Outcome* out) {
        RingServerHandshake(fd, d, token, rank_, nranks_, left, params, out);
      },
      &acceptor));
  Fd out_sock, in_sock;
  COLL_RETURN_IF_ERROR(connectNeighbour(peers[right].data_addr, deadline, what, &out_sock));
  ClientHandshake client(out_sock.get(), token, ConnPurpose::kRingLink, rank_, nranks_, right, params, what);
  COLL_RETURN_IF_ERROR(client.run(deadline));
  COLL_RETURN_IF_ERROR(awaitNeighbour(*acceptor, left, deadline, &in_sock));
  acceptor.reset();

  // Capabilities: each end says what it can do on this edge; both pick the same.
  uint8_t my_out = CapabilityMask(config_, right_same), my_in = CapabilityMask(config_, left_same);
  uint8_t their_in = 0, their_out = 0;
  COLL_RETURN_IF_ERROR(SendAll(out_sock.get(), &my_out, 1, deadline, what));
  COLL_RETURN_IF_ERROR(SendAll(in_sock.get(), &my_in, 1, deadline, "rank " + std::to_string(left)));
  COLL_RETURN_IF_ERROR(RecvAll(out_sock.get(), &their_in, 1, deadline, what));
  COLL_RETURN_IF_ERROR(RecvAll(in_sock.get(), &their_out, 1, deadline, "rank " + std::to_string(left)));
  const TransportInfo *out_kind = nullptr, *in_kind = nullptr;
  COLL_RETURN_IF_ERROR(Pick(config_, right_same, my_out & their_in, right, &out_kind));
  COLL_RETURN_IF_ERROR(Pick(config_, left_same, my_in & their_out, left, &in_kind));

  LinkSetup rs{rank_, left, &config_, std::move(in_sock), deadline, peers[left].host_id};
  COLL_RETURN_IF_ERROR(in_kind->make_recv(std::move(rs), &left_));
  LinkSetup ss{rank_, right, &config_, std::move(out_sock), deadline, peers[right].host_id};
  COLL_RETURN_IF_ERROR(out_kind->make_send(std::move(ss), &right_));
  COLL_RETURN_IF_ERROR(left_->finishSetup(deadline));
  out_kind_name_ = out_kind->name;
  in_kind_name_ = in_kind->name;
  transport_name_ = out_kind_name_;
  if (in_kind != out_kind) transport_name_ += "+" + in_kind_name_;
  return Status::OK();
}

}  // namespace coll
