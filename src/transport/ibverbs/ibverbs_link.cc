// Placeholder until the ibverbs transport lands: reports it unavailable.
#include "transport/transport.h"

namespace coll {
namespace ibverbs {

bool Available(const Config&) { return false; }

Status MakeSendLink(LinkSetup, std::unique_ptr<SendLink>*) {
  return Unsupported("the ibverbs transport is not built yet");
}

Status MakeRecvLink(LinkSetup, std::unique_ptr<RecvLink>*) {
  return Unsupported("the ibverbs transport is not built yet");
}

}  // namespace ibverbs
}  // namespace coll
