// Ring reduce-scatter: the first half of ring allreduce over n blocks of recvcount. Ring
// segment s carries block ring[s-1], so position p finishes block ring[p] = its own rank's
// block. Partial sums live in the operation's scratch (sendbuf is read-only).
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void RingReduceScatter(Operation& op, const void* sendbuf, void* recvbuf) {
  const Communicator& comm = op.comm();
  const CollDesc& desc = op.desc();
  const int n = comm.nranks(), p = comm.ringPos();
  const size_t bb = desc.count * DtypeSize(desc.dtype);
  const char* in = static_cast<const char*>(sendbuf);
  char* partial = op.scratch(bb * static_cast<size_t>(n));
  auto blockOff = [&](int seg) { return static_cast<size_t>(comm.ring()[Mod(seg - 1, n)]) * bb; };

  Schedule& s = op.schedule();
  for (int t = 0; t < n - 1; ++t) {
    int send_seg = Mod(p - t, n);
    SendStep send;
    send.peer = comm.ring()[Mod(p + 1, n)];
    send.src = (t == 0 ? in : partial) + blockOff(send_seg);
    send.bytes = bb;
    send.after_recv = t == 0 ? -1 : t - 1;
    s.sends.push_back(send);
    int seg = Mod(p - t - 1, n);
    RecvStep recv;
    recv.peer = comm.ring()[Mod(p - 1, n)];
    const bool last = t == n - 2;
    recv.dst = last ? static_cast<char*>(recvbuf) : partial + blockOff(seg);
    recv.local = in + blockOff(seg);
    recv.bytes = bb;
    recv.action = last ? RecvAction::kReduceFinal : RecvAction::kReduce;
    recv.forwarded_by = last ? -1 : t + 1;
    recv.dst_needed = last;
    s.recvs.push_back(recv);
  }
}

}  // namespace coll
