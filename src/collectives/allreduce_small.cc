// Latency algorithm for small allreduce: a ring allgather of whole inputs (n-1 hops rather
// than the ring's 2(n-1)), then every rank reduces the n inputs itself in rank order 0..n-1,
// so all ranks compute the same operations in the same order and agree bitwise.
#include "collectives/collectives.h"
#include "base/dtype.h"

namespace coll {

void AllgatherReduceAllreduce(Operation& op, const void* sendbuf, void* recvbuf) {
  const int n = op.comm().nranks();
  const size_t bytes = op.desc().count * DtypeSize(op.desc().dtype);
  char* gathered = op.scratch(bytes * static_cast<size_t>(n));
  char* mine = gathered + static_cast<size_t>(op.comm().rank()) * bytes;
  op.schedule().before.push_back(
      LocalStep{LocalStep::Kind::kCopy, mine, static_cast<const char*>(sendbuf), nullptr, bytes});
  RingAllgather(op, mine, gathered);
  char* out = static_cast<char*>(recvbuf);
  const char* acc = gathered;
  for (int r = 1; r < n; ++r) {
    const char* next = gathered + static_cast<size_t>(r) * bytes;
    LocalStep::Kind kind = r == n - 1 ? LocalStep::Kind::kReduceFinal : LocalStep::Kind::kReduce;
    op.schedule().after.push_back(LocalStep{kind, out, acc, next, bytes});
    acc = out;
  }
}

}  // namespace coll
