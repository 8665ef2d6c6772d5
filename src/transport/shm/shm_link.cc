// Placeholder until the shm transport lands: reports it unavailable.
#include "transport/transport.h"

namespace coll {
namespace shm {

bool Available(const Config&) { return false; }

Status MakeSendLink(LinkSetup, std::unique_ptr<SendLink>*) {
  return Unsupported("the shm transport is not built yet");
}

Status MakeRecvLink(LinkSetup, std::unique_ptr<RecvLink>*) {
  return Unsupported("the shm transport is not built yet");
}

}  // namespace shm
}  // namespace coll
