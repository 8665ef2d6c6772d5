// Pipelined chain broadcast along the ring from the root: each rank stores chunk c and
// forwards it to the right at once; the rank left of the root only stores.
#include <cstring>

#include "collectives/collectives.h"
#include "collectives/engine.h"
#include "core/dtype.h"

namespace coll {

static int RingPosOf(const Communicator& comm, int rank) {
  for (int i = 0; i < comm.nranks(); ++i)
    if (comm.ring()[i] == rank) return i;
  return 0;
}

Status ChainBroadcast(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc) {
  const int n = comm.nranks();
  const int q = Mod(comm.ringPos() - RingPosOf(comm, desc.root), n);
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  Schedule s;
  if (q == 0) {
    if (recvbuf != sendbuf && bytes > 0) std::memcpy(recvbuf, sendbuf, bytes);
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

Status ChainReduce(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc) {
  const int n = comm.nranks();
  // The chain starts right of the root and ends at it.
  const int q = Mod(comm.ringPos() - RingPosOf(comm, desc.root) - 1, n);
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  const char* in = static_cast<const char*>(sendbuf);
  Schedule s;
  if (q == 0) {
    s.sends.push_back(SendStep{in, bytes, -1});
  } else {
    RecvStep recv;
    recv.local = in;
    recv.bytes = bytes;
    const bool root = q == n - 1;
    recv.dst = root ? static_cast<char*>(recvbuf) : comm.scratch(bytes);
    recv.action = root ? RecvAction::kReduceFinal : RecvAction::kReduce;
    recv.forwarded_by = root ? -1 : 0;
    recv.dst_needed = root;
    s.recvs.push_back(recv);
    if (!root) s.sends.push_back(SendStep{recv.dst, bytes, 0});
  }
  return RunSchedule(comm, s, desc);
}

}  // namespace coll
