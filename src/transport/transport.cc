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
  (void)config;
  switch (kind) {
    case TransportKind::kTcp: return true;
    case TransportKind::kShm: return false && same_host;
    case TransportKind::kIbverbs: return false;
  }
  return false;
}

Status MakeSendLink(TransportKind kind, LinkSetup setup, std::unique_ptr<SendLink>* out) {
  switch (kind) {
    case TransportKind::kTcp: return tcp::MakeSendLink(std::move(setup), out);
    default: break;
  }
  return Unsupported("the %s transport is not available in this build", TransportKindName(kind));
}

Status MakeRecvLink(TransportKind kind, LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  switch (kind) {
    case TransportKind::kTcp: return tcp::MakeRecvLink(std::move(setup), out);
    default: break;
  }
  return Unsupported("the %s transport is not available in this build", TransportKindName(kind));
}

}  // namespace coll
