// Endpoint: queue pair setup and state transitions, posting with selective signalling,
// polling, arming the completion channel, and the control socket (see endpoint.h).
// Thread-safety: one thread at a time per Endpoint.
#include "transport/ibverbs/endpoint.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "transport/link_window.h"

namespace coll {
namespace ibverbs {
namespace {

constexpr int kPollBatch = 16;
constexpr int64_t kControlCheckUs = 1000;  // how often a busy link looks at its socket

uint32_t RandomPsn() { return std::random_device{}() & 0xffffff; }

}  // namespace

Status Endpoint::Create(std::shared_ptr<Device> device, const IbConfig& config, Fd socket, int self, int peer,
                        const std::string& what, const Shape& shape, std::unique_ptr<Endpoint>* out) {
  std::unique_ptr<Endpoint> e(new Endpoint());
  e->device_ = std::move(device);
  e->api_ = &e->device_->api();
  e->config_ = config;
  e->shape_ = shape;
  e->self_ = self;
  e->peer_ = peer;
  e->what_ = what;
  e->describe_ = StrFormat("ibverbs %s (%s)", what.c_str(), e->device_->describe().c_str());
  e->socket_ = std::move(socket);
  e->psn_ = RandomPsn();
  COLL_RETURN_IF_ERROR(e->createQueues());
  e->device_->events().watch(e->qp_, e->cq_);
  COLL_RETURN_IF_ERROR(e->toInit());
  e->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!e->epoll_.valid()) return ErrnoError(errno, "epoll_create1");
  COLL_RETURN_IF_ERROR(e->watch(e->channel_->fd, true));
  COLL_RETURN_IF_ERROR(e->watch(e->socket_.get(), true));
  e->socket_watched_ = true;
  COLL_RETURN_IF_ERROR(e->watch(e->device_->events().alarmFd(), true));
  *out = std::move(e);
  return Status::OK();
}

Status Endpoint::createQueues() {
  ibv_context* ctx = device_->context();
  channel_ = api_->create_comp_channel(ctx);
  if (channel_ == nullptr) return ErrnoError(errno, "ibv_create_comp_channel " + what_);
  int flags = fcntl(channel_->fd, F_GETFL);
  if (flags < 0 || fcntl(channel_->fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return ErrnoError(errno, "making the completion channel non-blocking");
  int cqe = shape_.send_depth + shape_.recv_depth + 1;  // every WR completes at most once
  cq_ = api_->create_cq(ctx, cqe, this, channel_, 0);
  if (cq_ == nullptr) return ErrnoError(errno, StrFormat("ibv_create_cq(%d entries) %s", cqe, what_.c_str()));
  ibv_qp_init_attr init{};
  init.send_cq = cq_;
  init.recv_cq = cq_;
  init.qp_type = IBV_QPT_RC;
  init.sq_sig_all = 0;
  init.cap.max_send_wr = static_cast<uint32_t>(shape_.send_depth);
  init.cap.max_recv_wr = static_cast<uint32_t>(std::max(shape_.recv_depth, 1));
  init.cap.max_send_sge = 1;
  init.cap.max_recv_sge = 1;
  qp_ = api_->create_qp(device_->pd(), &init);
  if (qp_ == nullptr) return ErrnoError(errno, "ibv_create_qp (RC) " + what_);
  return Status::OK();
}

Status Endpoint::toInit() {
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_INIT;
  a.pkey_index = static_cast<uint16_t>(device_->pkeyIndex());
  a.port_num = device_->port();
  a.qp_access_flags = shape_.access;
  int rc = api_->modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
  if (rc != 0) return ErrnoError(rc, StrFormat("ibv_modify_qp(QP 0x%x to INIT) %s", qp_->qp_num, what_.c_str()));
  return Status::OK();
}

Status Endpoint::watch(int fd, bool add) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) != 0) return ErrnoError(errno, "epoll_ctl");
  return Status::OK();
}

Endpoint::~Endpoint() { shutdown(); }

void Endpoint::shutdown() {
  if (qp_ != nullptr) {
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_ERR;
    api_->modify_qp(qp_, &a, IBV_QP_STATE);  // stop taking packets before anything goes away
    device_->events().forget(qp_, cq_);
    api_->destroy_qp(qp_);
    qp_ = nullptr;
  }
  if (cq_ != nullptr) {
    device_->events().forget(nullptr, cq_);
    api_->destroy_cq(cq_);
    cq_ = nullptr;
  }
  if (channel_ != nullptr) api_->destroy_comp_channel(channel_);
  channel_ = nullptr;
}

ConnInfo Endpoint::localInfo() const {
  ConnInfo info;
  info.qpn = qp_->qp_num;
  info.psn = psn_;
  info.lid = device_->portAttr().lid;
  info.gid_index = device_->gidIndex();
  info.gid_type = device_->gidType();
  info.flags = device_->grhRequired() ? kConnGrhRequired : 0;
  info.pkey = device_->pkey();
  std::memcpy(info.gid, device_->gid().raw, sizeof info.gid);
  info.mtu = device_->portAttr().active_mtu;
  info.link_layer = device_->portAttr().link_layer;
  return info;
}

Status Endpoint::connect(const ConnInfo& remote) {
  remote_qpn_ = remote.qpn;
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = std::min(static_cast<ibv_mtu>(remote.mtu), device_->portAttr().active_mtu);
  a.dest_qp_num = remote.qpn;
  a.rq_psn = remote.psn;
  a.max_dest_rd_atomic = 0;  // no RDMA reads
  a.min_rnr_timer = static_cast<uint8_t>(config_.min_rnr_timer);
  a.ah_attr.dlid = static_cast<uint16_t>(remote.lid);
  a.ah_attr.sl = static_cast<uint8_t>(config_.service_level);
  a.ah_attr.port_num = device_->port();
  // A GRH when a GID was chosen (RoCE, or forced), when either port requires one, or across
  // InfiniBand subnets (the GID prefixes differ: the packet crosses a router).
  ibv_gid theirs;
  std::memcpy(theirs.raw, remote.gid, sizeof theirs.raw);
  bool other_subnet = !device_->ethernet() && !GidEmpty(theirs) &&
                      GidSubnetPrefix(theirs) != GidSubnetPrefix(device_->gid());
  grh_ = device_->gidIndex() >= 0 || device_->grhRequired() || (remote.flags & kConnGrhRequired) || other_subnet;
  if (grh_) {
    a.ah_attr.is_global = 1;
    std::memcpy(a.ah_attr.grh.dgid.raw, remote.gid, sizeof remote.gid);
    a.ah_attr.grh.sgid_index = static_cast<uint8_t>(std::max(device_->gidIndex(), 0));
    a.ah_attr.grh.hop_limit = 255;
    a.ah_attr.grh.traffic_class = static_cast<uint8_t>(config_.traffic_class);
  }
  int rc = api_->modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                        IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
  if (rc != 0) return ErrnoError(rc, StrFormat("ibv_modify_qp(QP 0x%x to RTR) %s", qp_->qp_num, what_.c_str()));
  ibv_qp_attr s{};
  s.qp_state = IBV_QPS_RTS;
  s.sq_psn = psn_;
  s.timeout = static_cast<uint8_t>(config_.timeout);
  s.retry_cnt = static_cast<uint8_t>(config_.retry_cnt);
  s.rnr_retry = static_cast<uint8_t>(config_.rnr_retry);
  s.max_rd_atomic = 0;
  rc = api_->modify_qp(qp_, &s, IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                    IBV_QP_MAX_QP_RD_ATOMIC);
  if (rc != 0) return ErrnoError(rc, StrFormat("ibv_modify_qp(QP 0x%x to RTS) %s", qp_->qp_num, what_.c_str()));
  describe_ = StrFormat("ibverbs %s (%s, QP 0x%x -> 0x%x%s)", what_.c_str(), device_->describe().c_str(), qp_->qp_num,
                        remote_qpn_, grh_ && device_->gidIndex() < 0 ? ", GRH from the port GID" : "");
  return Status::OK();
}

Status Endpoint::postRecv(uint64_t wr_id) {
  ibv_recv_wr wr{};
  wr.wr_id = wr_id | kRecvTag;
  wr.num_sge = 0;  // RDMA_WRITE_WITH_IMM and empty SENDs place no data in a receive buffer
  ibv_recv_wr* bad = nullptr;
  int rc = ibv_post_recv(qp_, &wr, &bad);
  if (rc != 0) return ErrnoError(rc, StrFormat("ibv_post_recv(QP 0x%x) %s", qp_->qp_num, what_.c_str()));
  return Status::OK();
}

Status Endpoint::postSend(ibv_send_wr* wr, const char* doing) {
  if (!sendRoom()) return Internal("ibverbs %s: send queue full while %s", what_.c_str(), doing);
  bool outstanding_full = posted_ - retired_ + 1 >= static_cast<uint64_t>(shape_.send_depth);
  bool signaled = unsignaled_ + 1 >= shape_.signal_every || outstanding_full;
  wr->wr_id = posted_;
  if (signaled) wr->send_flags |= IBV_SEND_SIGNALED;
  ibv_send_wr* bad = nullptr;
  int rc = ibv_post_send(qp_, wr, &bad);
  if (rc != 0)
    return ErrnoError(rc, StrFormat("ibv_post_send(QP 0x%x) %s while %s", qp_->qp_num, what_.c_str(), doing));
  ++posted_;
  unsignaled_ = signaled ? 0 : unsignaled_ + 1;
  last_activity_us_ = NowMicros();
  return Status::OK();
}

void Endpoint::drainChannel() {
  ibv_cq* cq = nullptr;
  void* ctx = nullptr;
  while (armed_ && api_->get_cq_event(channel_, &cq, &ctx) == 0) {
    api_->ack_cq_events(cq, 1);
    armed_ = false;
  }
}

Status Endpoint::poll(ibv_wc* out, int max, int* n) {
  *n = 0;
  Status event = device_->events().check(qp_, cq_);
  while (*n < max && !stash_.empty()) {
    out[(*n)++] = stash_.front();
    stash_.erase(stash_.begin());
  }
  if (*n < max) {
    int got = ibv_poll_cq(cq_, std::min(max - *n, kPollBatch), out + *n);
    if (got < 0)
      return SystemError("ibv_poll_cq on %s failed (%d): the completion queue overflowed or broke", describe_.c_str(),
                         got);
    *n += got;
  }
  if (*n > 0) last_activity_us_ = NowMicros();
  bool failed = false;
  for (int i = 0; i < *n; ++i) {
    if (!IsRecv(out[i]) && out[i].status == IBV_WC_SUCCESS) retired_ = std::max(retired_, out[i].wr_id + 1);
    failed = failed || out[i].status != IBV_WC_SUCCESS;
  }
  // An asynchronous event (port down, QP fatal) fails the link at once; a failed completion
  // polled with it names the cause more precisely, so the caller judges that one instead.
  if (event.ok() || failed) return Status::OK();
  Status mine = MakeStatus(event.code(), "%s: %s", describe_.c_str(), event.message().c_str());
  return event.isConsequence() ? mine.asConsequence() : mine;
}

Status Endpoint::readControl(char* buf, size_t max, size_t* got, bool force) {
  *got = 0;
  if (peer_closed_) return Status::OK();
  int64_t now = NowMicros();
  if (!force && now < next_control_check_us_) return Status::OK();
  next_control_check_us_ = now + kControlCheckUs;
  ssize_t r = recv(socket_.get(), buf, max, MSG_DONTWAIT);
  if (r > 0) {
    *got = static_cast<size_t>(r);
    return Status::OK();
  }
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return Status::OK();
  peer_closed_ = true;  // EOF or reset: the peer process closed the link or died
  if (socket_watched_) COLL_RETURN_IF_ERROR(watch(socket_.get(), false));
  socket_watched_ = false;
  return Status::OK();
}

PollSpec Endpoint::pollSpec() {
  PollSpec spin{-1, 0, true};
  if (!stash_.empty()) return spin;
  // Busy for a while after the last completion or post: the next one is probably close, and
  // a completion event costs an interrupt and a wake-up (0.5 ms on softverbs).
  if (NowMicros() - last_activity_us_ < config_.spin_us) return spin;
  drainChannel();  // a consumed event leaves the channel fd quiet; then arm again
  if (!armed_) {
    if (ibv_req_notify_cq(cq_, 0) != 0) return spin;
    armed_ = true;
    // A completion that arrived between the last poll and the arm raises no event: look again.
    ibv_wc wc[kPollBatch];
    int got = ibv_poll_cq(cq_, kPollBatch, wc);
    if (got != 0) {
      stash_.insert(stash_.end(), wc, wc + std::max(got, 0));
      return spin;
    }
  }
  next_control_check_us_ = 0;  // after a sleep, look at the socket at once
  return PollSpec{epoll_.get(), POLLIN, false};
}

Status Endpoint::lost(const char* doing) const {
  return LinkPeerLost(peer_, doing, describe_, "connection closed by the peer");
}

// A transport retry error while the peer's control connection is open: the peer process is
// (as far as TCP can tell) alive, so the RDMA path between the two ports drops packets.
std::string Endpoint::pathFailure(const ibv_wc& wc, const char* doing) const {
  double per_try_s = 4.096e-6 * static_cast<double>(uint64_t{1} << config_.timeout);
  return StrFormat("the RDMA path from rank %d to rank %d failed while %s rank %d: %s on QP 0x%x (peer QP 0x%x, %s, "
                   "vendor error 0x%x) after %d tries of %.3g s each (COLL_IB_TIMEOUT=%d, COLL_IB_RETRY_CNT=%d), "
                   "yet rank %d's control connection is still open, so rank %d looks alive and its port never "
                   "acknowledged. Packets between the two ports are lost: check that both ranks use GIDs that "
                   "route to each other (COLL_IB_GID_INDEX, COLL_IB_ADDR_FAMILY, COLL_IB_ADDR_RANGE; a link-local "
                   "or RoCE v1 GID stays inside one L2 segment), the traffic class and the switches' PFC/ECN "
                   "settings (COLL_IB_TC), and the MTU on the path",
                   self_, peer_, doing, peer_, api_->StatusName(wc.status).c_str(), wc.qp_num, remote_qpn_,
                   device_->describe().c_str(), wc.vendor_err, config_.retry_cnt + 1, per_try_s, config_.timeout,
                   config_.retry_cnt, peer_, peer_);
}

Status Endpoint::completionError(const ibv_wc& wc, const char* doing) const {
  if (wc.status == IBV_WC_RETRY_EXC_ERR && !peer_closed_) return SystemError("%s", pathFailure(wc, doing).c_str());
  // The peer stopped answering, or closed its end: lost. Anything else (access, length,
  // RNR, a flush after a local error) is a system error.
  bool gone = peer_closed_ || wc.status == IBV_WC_RETRY_EXC_ERR || wc.status == IBV_WC_REM_ABORT_ERR ||
              wc.status == IBV_WC_RESP_TIMEOUT_ERR;
  std::string text = StrFormat("%s rank %d failed: %s on QP 0x%x (peer QP 0x%x, %s, vendor error 0x%x)", doing, peer_,
                               api_->StatusName(wc.status).c_str(), wc.qp_num, remote_qpn_,
                               device_->describe().c_str(), wc.vendor_err);
  if (wc.status == IBV_WC_RETRY_EXC_ERR) text += "; the peer stopped acknowledging and closed its control connection";
  else if (peer_closed_) text += "; the peer closed its control connection";
  Status st = MakeStatus(gone ? COLL_ERR_PEER_LOST : COLL_ERR_SYSTEM, "%s", text.c_str());
  // A flush only says the QP is in error: the cause (often the peer's failed write into
  // us) is reported by whoever saw it; let that report win.
  return wc.status == IBV_WC_WR_FLUSH_ERR ? st.asConsequence() : st;
}

}  // namespace ibverbs
}  // namespace coll
