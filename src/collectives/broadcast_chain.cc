// Pipelined chain broadcast along the ring from the root: each rank stores chunk c and
// forwards it to the right at once; the rank left of the root only stores.
#include "collectives/collectives.h"
#include "collectives/engine.h"
#include "collectives/stream_copy.h"
#include "base/dtype.h"

namespace coll {

Status ChainBroadcast(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc) {
  const int n = comm.nranks();
  const int q = Mod(comm.ringPos() - comm.ringPosOf(desc.root), n);
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  Schedule& s = ReusableSchedule();
  if (q == 0) {
    // The root's own copy streams past the cache (measured faster than copying each chunk
    // as it goes out, and than memcpy).
    if (recvbuf != sendbuf && bytes > 0) StreamCopy(recvbuf, sendbuf, bytes);
    s.sends.push_back(SendStep{static_cast<const char*>(sendbuf), bytes, -1});
  } else {
    RecvStep recv;
    recv.dst = static_cast<char*>(recvbuf);
    recv.bytes = bytes;
    recv.forwarded_by = q < n - 1 ? 0 : -1;
    s.recvs.push_back(recv);
    if (q < n - 1) s.sends.push_back(SendStep{static_cast<const char*>(recvbuf), bytes, 0});
  }
  return RunSchedule(comm, s, desc);
}

}  // namespace coll
