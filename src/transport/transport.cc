// Dispatch from TransportKind to a transport's factories. Transports that are not built in
// yet report COLL_ERR_UNSUPPORTED.
#include "transport/transport.h"

namespace coll {

const char* TransportKindName(TransportKind kind) {
  switch (kind) {
    case TransportKind::kTcp: return "tcp";
    case TransportKind::kShm: return "shm";
    case TransportKind::kIbverbs: return "ibverbs";
  }
  return "?";
}

bool TransportAvailable(TransportKind kind, const Config& config, bool same_host) {
  switch (kind) {
    case TransportKind::kTcp: return true;
    case TransportKind::kShm: return same_host && shm::Available(config);
    case TransportKind::kIbverbs: return ibverbs::Available(config);
  }
  return false;
}

std::string TransportUnavailableReason(TransportKind kind, const Config& config, bool same_host) {
  if (TransportAvailable(kind, config, same_host)) return "available";
  switch (kind) {
    case TransportKind::kShm:
      return same_host ? "shared memory (shm_open in /dev/shm) does not work in this process"
                       : "the peer is on another host";
    case TransportKind::kIbverbs: return ibverbs::Unavailability().message();
    default: return "unavailable";
  }
}

Status MakeSendLink(TransportKind kind, LinkSetup setup, std::unique_ptr<SendLink>* out) {
  switch (kind) {
    case TransportKind::kTcp: return tcp::MakeSendLink(std::move(setup), out);
    case TransportKind::kShm: return shm::MakeSendLink(std::move(setup), out);
    case TransportKind::kIbverbs: return ibverbs::MakeSendLink(std::move(setup), out);
  }
  return Internal("unknown transport %d", static_cast<int>(kind));
}

Status MakeRecvLink(TransportKind kind, LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  switch (kind) {
    case TransportKind::kTcp: return tcp::MakeRecvLink(std::move(setup), out);
    case TransportKind::kShm: return shm::MakeRecvLink(std::move(setup), out);
    case TransportKind::kIbverbs: return ibverbs::MakeRecvLink(std::move(setup), out);
  }
  return Internal("unknown transport %d", static_cast<int>(kind));
}

}  // namespace coll
