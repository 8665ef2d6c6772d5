// Building the ring's links: every rank connects to its right neighbour and accepts from its
// left one over an authenticated TCP connection, agrees on slot geometry, then hands the
// socket to the chosen transport, which either carries data on it (tcp) or keeps it as the
// control channel that notices a dead peer (shm, ibverbs).
#pragma once

#include <memory>
#include <string>

#include "base/socket.h"
#include "base/config.h"
#include "transport/link.h"

namespace coll {

enum class TransportKind { kTcp, kShm, kIbverbs };
const char* TransportKindName(TransportKind kind);

// What a transport gets to build one end of a link.
struct LinkSetup {
  int self_rank = -1;
  int peer_rank = -1;
  const Config* config = nullptr;
  Fd socket;  // connected, authenticated, non-blocking; the link may keep it
  Deadline deadline = Deadline::In(0);
  std::string peer_host;  // the peer's host id
};

// Whether this process can use the transport to reach a peer (same_host: the peer's host id
// equals ours). Cheap; tcp is always available.
bool TransportAvailable(TransportKind kind, const Config& config, bool same_host);
// Why TransportAvailable is false, one clause for an error message.
std::string TransportUnavailableReason(TransportKind kind, const Config& config, bool same_host);

// Per-transport factories. A transport unavailable here returns COLL_ERR_UNSUPPORTED.
Status MakeSendLink(TransportKind kind, LinkSetup setup, std::unique_ptr<SendLink>* out);
Status MakeRecvLink(TransportKind kind, LinkSetup setup, std::unique_ptr<RecvLink>* out);

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
