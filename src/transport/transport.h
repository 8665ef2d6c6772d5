// Building the ring's links: every rank connects to its right neighbour and accepts from its
// left one over an authenticated TCP connection, agrees on slot geometry, then hands the
// socket to the chosen transport, which either carries data on it (tcp) or keeps it as the
// control channel that notices a dead peer (shm, ibverbs).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/socket.h"
#include "base/config.h"
#include "transport/link.h"

namespace coll {

// What a transport gets to build one end of a link.
struct LinkSetup {
  int self_rank = -1;
  int peer_rank = -1;
  const Config* config = nullptr;
  Fd socket;  // connected, authenticated, non-blocking; the link may keep it
  Deadline deadline = Deadline::In(0);
  std::string peer_host;  // the peer's host id
};

// One row of the transport registry (transport.cc). Adding a transport = its folder + one row.
struct TransportInfo {
  const char* name;  // the COLL_TRANSPORT value; the name in logs and coll_op_info
  // Bit of this transport in the capability byte both ends of a ring edge exchange. Stable:
  // never renumber or reuse one (older peers read it).
  uint8_t wire_bit;
  // Preference under COLL_TRANSPORT=auto, lower first, for a peer on this host and on
  // another host; -1: never chosen automatically there.
  int same_host_order, remote_order;
  // Whether this process can use it to reach a peer (same_host: the peer's host id equals
  // ours); when not and `why` is set, one clause saying why. Cheap: called for every edge.
  bool (*available)(const Config& config, bool same_host, std::string* why);
  // The two ends of a link. A transport unavailable here returns COLL_ERR_UNSUPPORTED.
  Status (*make_send)(LinkSetup setup, std::unique_ptr<SendLink>* out);
  Status (*make_recv)(LinkSetup setup, std::unique_ptr<RecvLink>* out);
};

// Every transport built in.
const std::vector<TransportInfo>& Transports();
// The row called `name` (any case), or null.
const TransportInfo* FindTransport(const std::string& name);
// "tcp, shm, ibverbs": the names, for messages.
std::string TransportNames();

namespace tcp {
Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out);
Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out);
}  // namespace tcp

namespace shm {
bool Available(const Config& config);  // this process can share memory with same-host peers
Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out);
Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out);
}  // namespace shm

namespace ibverbs {
bool Available(const Config& config);  // an HCA library loads and an active port exists
Status Unavailability();                // why not (OK when available)
Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out);
Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out);
}  // namespace ibverbs

}  // namespace coll
