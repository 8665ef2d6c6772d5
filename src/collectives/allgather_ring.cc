// Ring allgather: n-1 steps; at ring position p, step u forwards the block of position
// p-u (its own at u = 0) and stores the block of position p-u-1 arriving from the left.
// Block order in recvbuf is by rank, so position s maps to rank ring[s].
#include <cstring>

#include "collectives/collectives.h"
#include "collectives/engine.h"
#include "collectives/stream_copy.h"
#include "base/dtype.h"

namespace coll {

Status RingAllgather(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc) {
  const int n = comm.nranks(), p = comm.ringPos();
  const size_t bb = desc.count * DtypeSize(desc.dtype);
  char* out = static_cast<char*>(recvbuf);
  auto block = [&](int pos) { return out + static_cast<size_t>(comm.ring()[Mod(pos, n)]) * bb; };
  char* mine = block(p);
  if (mine != sendbuf && bb > 0) StreamCopy(mine, sendbuf, bb);

  Schedule& s = ReusableSchedule();
  for (int u = 0; u < n - 1; ++u) {
    SendStep send;
    send.src = u == 0 ? static_cast<const char*>(sendbuf) : block(p - u);
    send.bytes = bb;
    send.after_recv = u == 0 ? -1 : u - 1;
    s.sends.push_back(send);
    RecvStep recv;
    recv.dst = block(p - u - 1);
    recv.bytes = bb;
    recv.action = RecvAction::kCopy;
    recv.forwarded_by = u + 1 < n - 1 ? u + 1 : -1;
    s.recvs.push_back(recv);
  }
  return RunSchedule(comm, s, desc);
}

}  // namespace coll
