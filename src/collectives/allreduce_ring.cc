// Ring allreduce: a pipelined reduce-scatter (n-1 steps) then allgather (n-1 steps). At
// ring position p, step t < n-1 sends segment p-t and reduces segment p-t-1 arriving from
// the left; segment p+1 is final at step n-2 and circulates unchanged afterwards, so every
// rank holds bitwise the same result. Chunk c of step t+1 leaves as soon as chunk c of
// step t is reduced.
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void RingAllreduce(Operation& op, const void* sendbuf, void* recvbuf) {
  const Communicator& comm = op.comm();
  const CollDesc& desc = op.desc();
  const int n = comm.nranks(), p = comm.ringPos();
  const int right = comm.ring()[Mod(p + 1, n)], left = comm.ring()[Mod(p - 1, n)];
  const size_t es = DtypeSize(desc.dtype);
  const char* in = static_cast<const char*>(sendbuf);
  char* out = static_cast<char*>(recvbuf);
  auto off = [&](int seg) { return SegmentOffset(desc.count, n, seg) * es; };
  auto len = [&](int seg) { return SegmentCount(desc.count, n, seg) * es; };

  Schedule& s = op.schedule();
  const int steps = 2 * (n - 1);
  for (int t = 0; t < steps; ++t) {
    int send_seg = t < n - 1 ? Mod(p - t, n) : Mod(p + 1 - (t - (n - 1)), n);
    SendStep send;
    send.peer = right;
    send.src = (t == 0 ? in : out) + off(send_seg);
    send.bytes = len(send_seg);
    send.after_recv = t == 0 ? -1 : t - 1;
    s.sends.push_back(send);

    RecvStep recv;
    recv.peer = left;
    if (t < n - 1) {
      int seg = Mod(p - t - 1, n);
      recv.dst = out + off(seg);
      recv.local = in + off(seg);
      recv.bytes = len(seg);
      recv.action = t == n - 2 ? RecvAction::kReduceFinal : RecvAction::kReduce;
      recv.dst_needed = t == n - 2;
    } else {
      int seg = Mod(p - (t - (n - 1)), n);
      recv.dst = out + off(seg);
      recv.bytes = len(seg);
      recv.action = RecvAction::kCopy;
    }
    recv.forwarded_by = t + 1 < steps ? t + 1 : -1;
    s.recvs.push_back(recv);
  }
}

}  // namespace coll
