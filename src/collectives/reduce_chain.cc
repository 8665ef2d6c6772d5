// Pipelined chain reduce toward the root: the chain starts right of the root and ends at
// it; each rank reduces chunk c of the partial result with its input and forwards it, so
// every link carries the buffer once and only the root writes recvbuf.
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void ChainReduce(Operation& op, const void* sendbuf, void* recvbuf) {
  const Communicator& comm = op.comm();
  const CollDesc& desc = op.desc();
  const int n = comm.nranks();
  const int right = comm.ring()[Mod(comm.ringPos() + 1, n)], left = comm.ring()[Mod(comm.ringPos() - 1, n)];
  // The chain starts right of the root and ends at it.
  const int q = Mod(comm.ringPos() - comm.ringPosOf(desc.root) - 1, n);
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  const char* in = static_cast<const char*>(sendbuf);
  Schedule& s = op.schedule();
  if (q == 0) {
    s.sends.push_back(SendStep{right, in, bytes, -1});
  } else {
    RecvStep recv;
    recv.peer = left;
    recv.local = in;
    recv.bytes = bytes;
    const bool root = q == n - 1;
    recv.dst = root ? static_cast<char*>(recvbuf) : op.scratch(bytes);
    recv.action = root ? RecvAction::kReduceFinal : RecvAction::kReduce;
    recv.forwarded_by = root ? -1 : 0;
    recv.dst_needed = root;
    s.recvs.push_back(recv);
    if (!root) s.sends.push_back(SendStep{right, recv.dst, bytes, 0});
  }
}

}  // namespace coll
