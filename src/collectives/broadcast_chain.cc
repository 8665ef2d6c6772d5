// Pipelined chain broadcast along the ring from the root: each rank stores chunk c and
// forwards it to the right at once; the rank left of the root only stores.
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void ChainBroadcast(Operation& op, const void* sendbuf, void* recvbuf) {
  const Communicator& comm = op.comm();
  const CollDesc& desc = op.desc();
  const int n = comm.nranks();
  const int right = comm.ring()[Mod(comm.ringPos() + 1, n)], left = comm.ring()[Mod(comm.ringPos() - 1, n)];
  const int q = Mod(comm.ringPos() - comm.ringPosOf(desc.root), n);
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  Schedule& s = op.schedule();
  if (q == 0) {
    // The root's own copy streams past the cache (measured faster than copying each chunk
    // as it goes out, and than memcpy).
    if (recvbuf != sendbuf && bytes > 0)
      s.before.push_back(LocalStep{LocalStep::Kind::kCopyFinal, static_cast<char*>(recvbuf),
                                   static_cast<const char*>(sendbuf), nullptr, bytes});
    s.sends.push_back(SendStep{right, static_cast<const char*>(sendbuf), bytes, -1});
  } else {
    RecvStep recv;
    recv.peer = left;
    recv.dst = static_cast<char*>(recvbuf);
    recv.bytes = bytes;
    recv.forwarded_by = q < n - 1 ? 0 : -1;
    s.recvs.push_back(recv);
    if (q < n - 1) s.sends.push_back(SendStep{right, static_cast<const char*>(recvbuf), bytes, 0});
  }
}

}  // namespace coll
