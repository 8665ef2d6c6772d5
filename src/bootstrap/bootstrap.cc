// Rendezvous (every rank -> root -> table to all) and the control-channel watchdog.
#include "bootstrap/bootstrap.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "bootstrap/control_frame.h"
#include "bootstrap/handshake.h"
#include "base/log.h"

namespace coll {
namespace {


void PutPeer(std::string* buf, const PeerInfo& p) {
  uint32_t hdr[3] = {static_cast<uint32_t>(p.rank), static_cast<uint32_t>(p.data_addr.len),
                     static_cast<uint32_t>(p.host_id.size())};
  buf->append(reinterpret_cast<const char*>(hdr), sizeof hdr);
  buf->append(reinterpret_cast<const char*>(&p.data_addr.storage), sizeof p.data_addr.storage);
  buf->append(p.host_id);
}

bool GetPeer(const std::string& buf, size_t* pos, PeerInfo* p) {
  uint32_t hdr[3];
  if (*pos + sizeof hdr + sizeof p->data_addr.storage > buf.size()) return false;
  std::memcpy(hdr, buf.data() + *pos, sizeof hdr);
  *pos += sizeof hdr;
  std::memcpy(&p->data_addr.storage, buf.data() + *pos, sizeof p->data_addr.storage);
  *pos += sizeof p->data_addr.storage;
  if (*pos + hdr[2] > buf.size() || hdr[1] > sizeof p->data_addr.storage) return false;
  p->rank = static_cast<int>(hdr[0]);
  p->data_addr.len = hdr[1];
  p->host_id = buf.substr(*pos, hdr[2]);
  *pos += hdr[2];
  return true;
}

Status SendBlob(int fd, const std::string& blob, const Deadline& d, const std::string& what) {
  uint64_t n = blob.size();
  COLL_RETURN_IF_ERROR(SendAll(fd, &n, sizeof n, d, what));
  return SendAll(fd, blob.data(), blob.size(), d, what);
}

Status RecvBlob(int fd, std::string* blob, const Deadline& d, const std::string& what) {
  uint64_t n = 0;
  COLL_RETURN_IF_ERROR(RecvAll(fd, &n, sizeof n, d, what));
  if (n > (1u << 26)) return Internal("%s sent a %llu-byte bootstrap message", what.c_str(), (unsigned long long)n);
  blob->resize(n);
  return RecvAll(fd, &(*blob)[0], n, d, what);
}

// A rank 0 that cannot bind the root address: if a root with this job's token listens
// there, that is a second job on the address; saying so makes that root fail its job too.
Status AnnounceSecondRoot(const SockAddr& root, const Token& token, int nranks, const SharedSettings& params) {
  Fd conn;
  Deadline d = Deadline::In(2000);
  if (!ConnectRetry(root, Deadline::In(200), "the root address", &conn).ok()) return Status::OK();
  ClientHandshake client(conn.get(), token, ConnPurpose::kBootstrap, 0, nranks, 0, params,
                         "the process listening on " + root.str());
  Status st = client.run(d);
  return st.code() == COLL_ERR_INVALID_ARGUMENT ? st : Status::OK();
}

std::string MissingRanks(const std::vector<PeerInfo>& peers) {
  std::string s;
  for (const PeerInfo& p : peers)
    if (p.rank < 0) s += (s.empty() ? "" : ", ") + std::to_string(&p - &peers[0]);
  return s;
}

}  // namespace

Status Bootstrap::Create(int rank, int nranks, const UniqueId& id, Fd root_listener, const Config& config,
                         const SharedSettings& shared, const std::string& host_id, std::unique_ptr<Bootstrap>* out) {
  std::unique_ptr<Bootstrap> b(new Bootstrap(rank, nranks));
  b->token_ = id.token;
  b->shared_ = shared;
  b->root_text_ = id.root.str();
  b->peers_.resize(nranks);
  b->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!b->wake_.valid()) return ErrnoError(errno, "eventfd");
  Deadline deadline = Deadline::In(config.timeout_ms);
  if (rank == 0) {
    if (!root_listener.valid()) {
      SockAddr addr = id.root;
      Status st = Listen(&addr, 1024, &root_listener);
      if (!st.ok()) {
        COLL_RETURN_IF_ERROR(AnnounceSecondRoot(id.root, id.token, nranks, b->shared_)
                                 .withContext("rank 0 cannot listen on the root address " + id.root.str() + ": "));
        return st.withContext("rank 0 cannot listen on the root address: ");
      }
    }
    b->root_listener_ = std::move(root_listener);
    COLL_RETURN_IF_ERROR(b->openDataListener(id.root, config));
    b->peers_[0] = PeerInfo{0, SockAddr(), host_id};
    COLL_RETURN_IF_ERROR(LocalAddress(b->data_listener_.get(), &b->peers_[0].data_addr));
    COLL_RETURN_IF_ERROR(b->rootGather(config, deadline));
  } else {
    b->peers_[rank].host_id = host_id;
    COLL_RETURN_IF_ERROR(b->joinRoot(id.root, config, deadline));
  }
  b->ctl_closed_.assign(b->ctl_.size(), false);
  *out = std::move(b);
  return Status::OK();
}

Status Bootstrap::openDataListener(const SockAddr& like, const Config& config) {
  SockAddr addr = like;
  if (!config.socket_ifname.empty()) COLL_RETURN_IF_ERROR(InterfaceAddress(config.socket_ifname, &addr));
  addr.setPort(0);
  return Listen(&addr, 64, &data_listener_);
}

bool Bootstrap::claim(int rank) {
  std::lock_guard<std::mutex> lock(claim_mu_);
  if (rank < 0 || rank >= nranks_ || claimed_[rank]) return false;
  claimed_[rank] = true;
  return true;
}

// On a handshake thread: authenticate, claim the rank, read the joiner's record.
void Bootstrap::joinHandshake(int fd, const Deadline& d, Acceptor::Outcome* out) {
  ServerHandshake server(fd, token_, ConnPurpose::kBootstrap, 0, nranks_, shared_);
  Status st = server.answerHello(d, -1);
  if (st.ok()) st = server.judge(d, [this](int r) { return claim(r); });
  out->proved = server.proved();
  out->duplicate = server.duplicate();
  out->rank = server.proved() ? server.peerRank() : -1;
  out->accepted = st.ok();
  if (st.ok()) st = RecvBlob(fd, &out->record, d, "rank " + std::to_string(server.peerRank()));
  out->status = st;
}

// Every joined rank learns why the rendezvous failed (not a malformed table).
void Bootstrap::tellJoined(const Status& st) {
  for (size_t r = 1; r < ctl_.size(); ++r)
    if (ctl_[r].valid()) WriteFatal(ctl_[r].get(), st, 0, Deadline::In(1000));
}

Status Bootstrap::admit(Acceptor::Result& joiner, int* joined) {
  const Acceptor::Outcome& o = joiner.outcome;
  if (o.duplicate)
    return InvalidArgument("two processes with this job's token claim rank %d (the second one from %s): two jobs "
                           "share the root address %s; give each job its own COLL_ROOT_ADDR, or COLL_JOB_TOKEN",
                           o.rank, joiner.from.c_str(), root_text_.c_str());
  if (o.accepted && !o.status.ok())
    return PeerLost("rank %d (from %s) left during init, right after it joined: %s", o.rank, joiner.from.c_str(),
                    o.status.message().c_str());
  if (o.proved && !o.status.ok()) return o.status.withContext("bootstrap: ");
  if (!o.status.ok()) {
    COLL_WARN(0, "bootstrap: dropped a connection from %s: %s; still waiting for rank(s) %s", joiner.from.c_str(),
              o.status.message().c_str(), MissingRanks(peers_).c_str());
    return Status::OK();
  }
  PeerInfo info;
  size_t pos = 0;
  if (!GetPeer(o.record, &pos, &info) || info.rank != o.rank)
    return Internal("rank %d sent a malformed bootstrap record", o.rank);
  peers_[info.rank] = info;
  ctl_[info.rank] = std::move(joiner.conn);
  ++*joined;
  return Status::OK();
}

// Joiners are authenticated concurrently; a joined rank whose connection closes before the
// table is sent died during init, and everyone who joined hears of it at once.
Status Bootstrap::rootGather(const Config& config, const Deadline& deadline) {
  ctl_.resize(nranks_);
  claimed_.assign(nranks_, false);
  claimed_[0] = true;
  const int64_t per_conn_ms = std::min<int64_t>(config.timeout_ms, 10000);
  COLL_RETURN_IF_ERROR(Acceptor::Start(
      root_listener_.get(), per_conn_ms,
      [this](int fd, const Deadline& d, Acceptor::Outcome* out) { joinHandshake(fd, d, out); }, &acceptor_));
  int joined = 1;
  Status st;
  while (st.ok() && joined < nranks_) {
    std::vector<pollfd> fds{pollfd{acceptor_->readyFd(), POLLIN, 0}};
    std::vector<int> ranks{0};
    for (int r = 1; r < nranks_; ++r)
      if (ctl_[r].valid()) fds.push_back(pollfd{ctl_[r].get(), POLLIN, 0}), ranks.push_back(r);
    if (poll(fds.data(), fds.size(), deadline.remainingMs(1000)) < 0 && errno != EINTR) {
      st = ErrnoError(errno, "poll while waiting for ranks to join");
      break;
    }
    for (size_t k = 1; k < fds.size() && st.ok(); ++k) {
      if (fds[k].revents == 0) continue;
      FrameHeader h{};
      std::string text;
      int r = ranks[k];
      if (ReadFrame(ctl_[r].get(), Deadline::In(100), "rank " + std::to_string(r), &h, &text).ok() &&
          h.type == kFrameFatal)
        st = Status(static_cast<coll_status_t>(h.code), text);
      else
        st = PeerLost("rank %d (host %s) died or lost its connection during init, before every rank joined", r,
                      peers_[r].host_id.c_str());
      ctl_[r].reset();
    }
    if (st.ok() && fds[0].revents) {
      for (Acceptor::Result& res : acceptor_->take())
        if (st.ok()) st = admit(res, &joined);
    }
    if (st.ok() && joined < nranks_ && deadline.expired())
      st = Timeout("rank 0 timed out (COLL_TIMEOUT_MS) waiting for rank(s) %s to join (%d of %d joined); check that "
                   "every rank got the same id / COLL_ROOT_ADDR and COLL_SIZE",
                   MissingRanks(peers_).c_str(), joined, nranks_);
  }
  if (!st.ok()) {
    tellJoined(st);
    return st;
  }
  std::string table;
  for (const PeerInfo& p : peers_) PutPeer(&table, p);
  for (int r = 1; r < nranks_; ++r)
    COLL_RETURN_IF_ERROR(WriteFrame(ctl_[r].get(), kFrameTable, COLL_SUCCESS, 0, table, deadline,
                                    "rank " + std::to_string(r)));
  return Status::OK();
}

Status Bootstrap::joinRoot(const SockAddr& root, const Config& config, const Deadline& deadline) {
  ctl_.resize(1);
  const std::string what = "the root (rank 0) at " + root.str();
  COLL_RETURN_IF_ERROR(ConnectRetry(root, deadline, "the root (rank 0)", &ctl_[0]));
  ClientHandshake client(ctl_[0].get(), token_, ConnPurpose::kBootstrap, rank_, nranks_, 0, shared_, what);
  COLL_RETURN_IF_ERROR(client.run(deadline));
  SockAddr local;
  COLL_RETURN_IF_ERROR(LocalAddress(ctl_[0].get(), &local));
  COLL_RETURN_IF_ERROR(openDataListener(local, config));
  PeerInfo me{rank_, SockAddr(), peers_[rank_].host_id};
  COLL_RETURN_IF_ERROR(LocalAddress(data_listener_.get(), &me.data_addr));
  std::string blob;
  PutPeer(&blob, me);
  COLL_RETURN_IF_ERROR(SendBlob(ctl_[0].get(), blob, deadline, what));
  FrameHeader h{};
  Status st = ReadFrame(ctl_[0].get(), deadline, what, &h, &blob);
  if (st.code() == COLL_ERR_TIMEOUT)
    return Timeout("rank %d timed out (COLL_TIMEOUT_MS) waiting for the other ranks to join at the root %s", rank_,
                   root.str().c_str());
  if (st.code() == COLL_ERR_PEER_LOST)
    return PeerLost("%s closed the connection before every rank had joined: it died or failed (see its log)",
                    what.c_str());
  COLL_RETURN_IF_ERROR(st);
  if (h.type == kFrameFatal)
    return Status(static_cast<coll_status_t>(h.code), "the root (rank 0) ended the rendezvous: " + blob);
  if (h.type != kFrameTable)
    return PeerLost("%s left before every rank had joined", what.c_str());
  size_t pos = 0;
  for (int r = 0; r < nranks_; ++r) {
    if (!GetPeer(blob, &pos, &peers_[r]) || peers_[r].rank != r)
      return Internal("the root sent a malformed rank table (entry %d)", r);
  }
  return Status::OK();
}

}  // namespace coll
