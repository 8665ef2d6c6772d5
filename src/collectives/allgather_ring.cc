// Ring allgather: n-1 steps; at ring position p, step u forwards the block of position
// p-u (its own at u = 0) and stores the block of position p-u-1 arriving from the left.
// Block order in recvbuf is by rank, so position s maps to rank ring[s].
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void RingAllgather(Operation& op, const void* sendbuf, void* recvbuf) {
  const Communicator& comm = op.comm();
  const CollDesc& desc = op.desc();
  const int n = comm.nranks(), p = comm.ringPos();
  const size_t bb = desc.count * DtypeSize(desc.dtype);
  char* out = static_cast<char*>(recvbuf);
  auto block = [&](int pos) { return out + static_cast<size_t>(comm.ring()[Mod(pos, n)]) * bb; };
  char* mine = block(p);
  Schedule& s = op.schedule();
  if (mine != sendbuf && bb > 0)
    s.before.push_back(LocalStep{LocalStep::Kind::kCopyFinal, mine, static_cast<const char*>(sendbuf), nullptr, bb});

  for (int u = 0; u < n - 1; ++u) {
    SendStep send;
    send.peer = comm.ring()[Mod(p + 1, n)];
    send.src = u == 0 ? static_cast<const char*>(sendbuf) : block(p - u);
    send.bytes = bb;
    send.after_recv = u == 0 ? -1 : u - 1;
    s.sends.push_back(send);
    RecvStep recv;
    recv.peer = comm.ring()[Mod(p - 1, n)];
    recv.dst = block(p - u - 1);
    recv.bytes = bb;
    recv.action = RecvAction::kCopy;
    recv.forwarded_by = u + 1 < n - 1 ? u + 1 : -1;
    s.recvs.push_back(recv);
  }
}

}  // namespace coll
