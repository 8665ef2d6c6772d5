// Latency algorithm for small allreduce: a ring allgather of whole inputs (n-1 hops rather
// than the ring's 2(n-1)), then every rank reduces the n inputs itself in rank order 0..n-1,
// so all ranks compute the same operations in the same order and agree bitwise.
#include <cstring>

#include "collectives/collectives.h"
#include "collectives/engine.h"
#include "collectives/reduce/reduce.h"
#include "base/dtype.h"

namespace coll {

Status AllgatherReduceAllreduce(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc) {
  const int n = comm.nranks();
  const size_t bytes = desc.count * DtypeSize(desc.dtype);
  char* gathered = comm.scratch(bytes * static_cast<size_t>(n));
  std::memcpy(gathered + static_cast<size_t>(comm.rank()) * bytes, sendbuf, bytes);
  COLL_RETURN_IF_ERROR(RingAllgather(comm, gathered + static_cast<size_t>(comm.rank()) * bytes, gathered, desc));
  const char* acc = gathered;
  for (int r = 1; r < n; ++r) {
    const char* next = gathered + static_cast<size_t>(r) * bytes;
    if (r == n - 1)
      ReduceFinal(recvbuf, acc, next, desc.count, desc.dtype, desc.op, n);
    else
      ReduceInto(recvbuf, acc, next, desc.count, desc.dtype, desc.op);
    acc = static_cast<const char*>(recvbuf);
  }
  return Status::OK();
}

}  // namespace coll
