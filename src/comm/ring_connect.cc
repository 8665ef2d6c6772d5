// Communicator::connectRing: authenticated sockets to both ring neighbours, a per-edge
// transport choice both ends agree on, then the transport's links (see link.h for the
// setup order that keeps the ring free of waiting cycles).
#include <poll.h>

#include "bootstrap/handshake.h"
#include "comm/comm.h"
#include "base/log.h"

namespace coll {
namespace {

uint8_t CapabilityMask(const Config& config, bool same_host) {
  uint8_t mask = 0;
  for (TransportKind k : {TransportKind::kTcp, TransportKind::kShm, TransportKind::kIbverbs})
    if (TransportAvailable(k, config, same_host)) mask |= static_cast<uint8_t>(1u << static_cast<int>(k));
  return mask;
}

Status Pick(const Config& config, bool same_host, uint8_t common, int peer, TransportKind* out) {
  auto has = [&](TransportKind k) { return (common >> static_cast<int>(k)) & 1; };
  TransportKind forced;
  switch (config.transport) {
    case TransportChoice::kTcp: forced = TransportKind::kTcp; break;
    case TransportChoice::kShm: forced = TransportKind::kShm; break;
    case TransportChoice::kIbverbs: forced = TransportKind::kIbverbs; break;
    default: {
      const TransportKind order_same[] = {TransportKind::kShm, TransportKind::kIbverbs, TransportKind::kTcp};
      const TransportKind order_remote[] = {TransportKind::kIbverbs, TransportKind::kTcp, TransportKind::kTcp};
      for (TransportKind k : same_host ? order_same : order_remote)
        if (has(k)) {
          *out = k;
          return Status::OK();
        }
      return Internal("no transport in common with rank %d", peer);
    }
  }
  if (!has(forced))
    return Unsupported("COLL_TRANSPORT=%s cannot connect to rank %d (%s host): %s", TransportKindName(forced), peer,
                       same_host ? "same" : "another",
                       (CapabilityMask(config, same_host) >> static_cast<int>(forced)) & 1
                           ? "that rank cannot use it (see its log)"
                           : ("not available on this rank: " +
                              TransportUnavailableReason(forced, config, same_host)).c_str());
  *out = forced;
  return Status::OK();
}

Status AcceptNeighbour(int listener, const Token& token, int rank, int nranks, int left,
                       const HandshakeParams& params, const Deadline& deadline, Fd* conn,
                       std::unique_ptr<ServerHandshake>* server) {
  for (;;) {
    COLL_RETURN_IF_ERROR(AcceptOne(listener, deadline, "waiting for rank " + std::to_string(left) + " to connect", conn));
    server->reset(new ServerHandshake(conn->get(), token, ConnPurpose::kRingLink, rank, nranks, params));
    Status st = (*server)->answerHello(deadline, left);
    if (st.ok()) return st;
    if (st.code() != COLL_ERR_AUTH) return st;
    COLL_WARN(rank, "ring setup: %s; still waiting for rank %d", st.message().c_str(), left);
  }
}

}  // namespace

Status Communicator::connectRing(const Deadline& deadline) {
  if (nranks_ == 1) return Status::OK();
  const int right = ring_[(pos_ + 1) % nranks_];
  const int left = ring_[(pos_ + nranks_ - 1) % nranks_];
  const auto& peers = bootstrap_->peers();
  const std::string& me = peers[rank_].host_id;
  const bool right_same = peers[right].host_id == me, left_same = peers[left].host_id == me;
  const HandshakeParams params = ConfigParams(config_);
  const std::string what = "rank " + std::to_string(right);

  Fd out_sock, in_sock;
  COLL_RETURN_IF_ERROR(ConnectRetry(peers[right].data_addr, deadline, what, &out_sock));
  ClientHandshake client(out_sock.get(), bootstrap_->token(), ConnPurpose::kRingLink, rank_, nranks_, right, params,
                         what);
  COLL_RETURN_IF_ERROR(client.sendHello(deadline));
  std::unique_ptr<ServerHandshake> server;
  COLL_RETURN_IF_ERROR(AcceptNeighbour(bootstrap_->dataListener(), bootstrap_->token(), rank_, nranks_, left, params,
                                       deadline, &in_sock, &server));
  COLL_RETURN_IF_ERROR(client.prove(deadline));
  COLL_RETURN_IF_ERROR(server->judge(deadline));
  COLL_RETURN_IF_ERROR(client.readVerdict(deadline));

  // Capabilities: each end says what it can do on this edge; both pick the same.
  uint8_t my_out = CapabilityMask(config_, right_same), my_in = CapabilityMask(config_, left_same);
  uint8_t their_in = 0, their_out = 0;
  COLL_RETURN_IF_ERROR(SendAll(out_sock.get(), &my_out, 1, deadline, what));
  COLL_RETURN_IF_ERROR(SendAll(in_sock.get(), &my_in, 1, deadline, "rank " + std::to_string(left)));
  COLL_RETURN_IF_ERROR(RecvAll(out_sock.get(), &their_in, 1, deadline, what));
  COLL_RETURN_IF_ERROR(RecvAll(in_sock.get(), &their_out, 1, deadline, "rank " + std::to_string(left)));
  TransportKind out_kind, in_kind;
  COLL_RETURN_IF_ERROR(Pick(config_, right_same, my_out & their_in, right, &out_kind));
  COLL_RETURN_IF_ERROR(Pick(config_, left_same, my_in & their_out, left, &in_kind));

  LinkSetup rs{rank_, left, &config_, std::move(in_sock), deadline, peers[left].host_id};
  COLL_RETURN_IF_ERROR(MakeRecvLink(in_kind, std::move(rs), &left_));
  LinkSetup ss{rank_, right, &config_, std::move(out_sock), deadline, peers[right].host_id};
  COLL_RETURN_IF_ERROR(MakeSendLink(out_kind, std::move(ss), &right_));
  COLL_RETURN_IF_ERROR(left_->finishSetup(deadline));
  out_kind_name_ = TransportKindName(out_kind);
  in_kind_name_ = TransportKindName(in_kind);
  transport_name_ = out_kind_name_;
  if (in_kind != out_kind) transport_name_ += "+" + in_kind_name_;
  return Status::OK();
}

}  // namespace coll
