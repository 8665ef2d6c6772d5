// One end of an ibverbs link: an RC queue pair to one ring neighbour with its completion
// queue, completion channel, selective signalling of the send queue, and the LinkSetup
// socket kept as the control channel (its EOF means the peer is gone). One epoll fd covers
// the channel and the socket so the engine can sleep on both. Used by one thread at a time.
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>
#include <vector>

#include "base/socket.h"
#include "transport/ibverbs/conn_info.h"
#include "transport/ibverbs/device.h"
#include "transport/link.h"

namespace coll {
namespace ibverbs {

// Receive work requests carry this bit in wr_id (an error completion has no valid opcode).
constexpr uint64_t kRecvTag = uint64_t{1} << 63;
inline bool IsRecv(const ibv_wc& wc) { return (wc.wr_id & kRecvTag) != 0; }

class Endpoint {
 public:
  struct Shape {
    int send_depth;         // send work requests outstanding at most
    int recv_depth;         // receives posted at most
    unsigned access;        // qp_access_flags (remote write for a receiver)
    int signal_every;       // request a send completion at least every this many posts
  };
  // Creates the CQ, channel and QP (moved to INIT) and takes the socket. `what` is
  // "to rank 3" or "from rank 3", used in every message.
  static Status Create(std::shared_ptr<Device> device, const IbConfig& config, Fd socket, int self, int peer,
                       const std::string& what, const Shape& shape, std::unique_ptr<Endpoint>* out);
  ~Endpoint();  // shutdown(), then the control socket closes
  // Moves the QP to ERR and destroys it, its CQ and channel; idempotent. A link calls it before
  // deregistering its memory, which it does before the socket closes: a peer's write still in
  // flight then finds no QP (and the peer sees the socket close) instead of failing the
  // remote access check of a live QP.
  void shutdown();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  ConnInfo localInfo() const;
  // INIT -> RTR -> RTS towards `remote`.
  Status connect(const ConnInfo& remote);
  int socket() const { return socket_.get(); }
  const Device& device() const { return *device_; }

  Status postRecv(uint64_t wr_id);  // wr_id without kRecvTag; completions carry it with
  // Room for one more send work request (unsignalled ones hold slots until a later
  // signalled one is polled).
  bool sendRoom() const { return posted_ - retired_ < static_cast<uint64_t>(shape_.send_depth); }
  // Posts one work request; sets wr_id and the signalled flag.
  Status postSend(ibv_send_wr* wr, const char* doing);

  // Polls up to `max` completions (send and receive, failed ones too: the caller judges them
  // with completionError); successful send completions free send-queue room here.
  Status poll(ibv_wc* out, int max, int* n);
  // Reads the control socket when due (or `force`): up to `max` bytes into buf; sets
  // peerClosed() on EOF. Cheap when not due.
  Status readControl(char* buf, size_t max, size_t* got, bool force);
  bool peerClosed() const { return peer_closed_; }

  // Before a sleep: consumes a fired event, arms the CQ, and returns the epoll fd (channel +
  // socket); needs_spin instead when completions slipped in. The hot path makes no syscall.
  PollSpec pollSpec();

  Status completionError(const ibv_wc& wc, const char* doing) const;
  Status lost(const char* doing) const;
  const std::string& describe() const { return describe_; }

 private:
  Endpoint() = default;
  Status createQueues();
  Status toInit();
  void drainChannel();  // consumes a pending completion event (non-blocking fd)
  Status watch(int fd, bool add);
  std::string pathFailure(const ibv_wc& wc, const char* doing) const;

  std::shared_ptr<Device> device_;
  const VerbsApi* api_ = nullptr;
  IbConfig config_;
  Shape shape_{};
  int self_ = -1, peer_ = -1;
  std::string what_, describe_;
  Fd socket_, epoll_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  uint32_t psn_ = 0;
  uint32_t remote_qpn_ = 0;
  bool grh_ = false;  // the address vector carries a GRH

  uint64_t posted_ = 0, retired_ = 0;  // send work requests
  int unsignaled_ = 0;                 // posts since the last signalled one
  bool armed_ = false;                 // a completion event was requested and not consumed
  bool peer_closed_ = false;
  bool socket_watched_ = false;
  int64_t next_control_check_us_ = 0;
  int64_t last_activity_us_ = 0;       // last completion polled or work request posted
  std::vector<ibv_wc> stash_;          // completions polled while arming
};

}  // namespace ibverbs
}  // namespace coll
