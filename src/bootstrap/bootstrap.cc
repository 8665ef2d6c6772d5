// Rendezvous (every rank -> root -> table to all) and the control-channel watchdog.
#include "bootstrap/bootstrap.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

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
  b->peers_.resize(nranks);
  b->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!b->wake_.valid()) return ErrnoError(errno, "eventfd");
  Deadline deadline = Deadline::In(config.timeout_ms);
  if (rank == 0) {
    if (!root_listener.valid()) {
      SockAddr addr = id.root;
      Status st = Listen(&addr, 1024, &root_listener);
      if (!st.ok()) return st.withContext("rank 0 cannot listen on the root address: ");
    }
    COLL_RETURN_IF_ERROR(b->openDataListener(id.root, config));
    b->peers_[0] = PeerInfo{0, SockAddr(), host_id};
    COLL_RETURN_IF_ERROR(LocalAddress(b->data_listener_.get(), &b->peers_[0].data_addr));
    COLL_RETURN_IF_ERROR(b->rootGather(deadline, std::move(root_listener)));
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

Status Bootstrap::rootGather(const Deadline& deadline, Fd listener) {
  ctl_.resize(nranks_);
  int joined = 1;
  while (joined < nranks_) {
    Fd conn;
    Status st = AcceptOne(listener.get(), deadline, "waiting for ranks to join", &conn);
    if (st.code() == COLL_ERR_TIMEOUT)
      return Timeout("rank 0 timed out (COLL_TIMEOUT_MS) waiting for rank(s) %s to join (%d of %d joined); check "
                     "that every rank got the same id / COLL_ROOT_ADDR and COLL_SIZE",
                     MissingRanks(peers_).c_str(), joined, nranks_);
    COLL_RETURN_IF_ERROR(st);
    Deadline hs = deadline.earlier(Deadline::In(10000));
    ServerHandshake server(conn.get(), token_, ConnPurpose::kBootstrap, 0, nranks_, shared_);
    st = server.run(hs, -1);
    if (st.code() == COLL_ERR_INVALID_ARGUMENT) return st.withContext("bootstrap: ");
    int peer = server.peerRank();
    if (st.ok() && ctl_[peer].valid()) st = InvalidArgument("rank %d joined twice", peer);
    std::string blob;
    if (st.ok()) st = RecvBlob(conn.get(), &blob, hs, "rank " + std::to_string(peer));
    PeerInfo info;
    size_t pos = 0;
    if (st.ok() && (!GetPeer(blob, &pos, &info) || info.rank != peer))
      st = Internal("rank %d sent a malformed bootstrap record", peer);
    if (!st.ok()) {
      COLL_WARN(0, "bootstrap: %s; the job goes on without that connection", st.message().c_str());
      continue;
    }
    peers_[info.rank] = info;
    ctl_[info.rank] = std::move(conn);
    ++joined;
  }
  std::string table;
  for (const PeerInfo& p : peers_) PutPeer(&table, p);
  for (int r = 1; r < nranks_; ++r)
    COLL_RETURN_IF_ERROR(SendBlob(ctl_[r].get(), table, deadline, "rank " + std::to_string(r)));
  return Status::OK();
}

Status Bootstrap::joinRoot(const SockAddr& root, const Config& config, const Deadline& deadline) {
  ctl_.resize(1);
  const std::string what = "the root (rank 0) at " + root.str();
  COLL_RETURN_IF_ERROR(ConnectRetry(root, deadline, what, &ctl_[0]));
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
  Status st = RecvBlob(ctl_[0].get(), &blob, deadline, what);
  if (st.code() == COLL_ERR_TIMEOUT)
    return Timeout("rank %d timed out waiting for the other ranks to join at the root %s", rank_, root.str().c_str());
  COLL_RETURN_IF_ERROR(st);
  size_t pos = 0;
  for (int r = 0; r < nranks_; ++r) {
    if (!GetPeer(blob, &pos, &peers_[r]) || peers_[r].rank != r)
      return Internal("the root sent a malformed rank table (entry %d)", r);
  }
  return Status::OK();
}

}  // namespace coll
