// Chooses an algorithm per call. The switch points come from measurements (see
// docs/PERFORMANCE.md) and are printed at COLL_DEBUG=INFO.
#include <cstring>

#include "collectives/collectives.h"
#include "collectives/engine.h"
#include "collectives/reduce/reduce.h"
#include "base/dtype.h"
#include "base/log.h"

namespace coll {

const char* AlgorithmName(uint8_t algorithm) {
  switch (algorithm) {
    case kAlgoRing: return "ring";
    case kAlgoAllgatherReduce: return "allgather_reduce";
    case kAlgoChain: return "chain";
    case kAlgoLocal: return "local";
  }
  return "unknown";
}

static CollDesc Describe(Communicator& comm, CollKind kind, size_t count, coll_dtype_t dtype, coll_op_t op, int root,
                         uint8_t algorithm) {
  CollDesc d;
  d.kind = kind;
  d.count = count;
  d.dtype = dtype;
  d.op = op;
  d.root = root;
  d.algorithm = algorithm;
  d.algorithm_name = AlgorithmName(algorithm);
  d.seq = comm.nextSeq();
  comm.last_op.algorithm = d.algorithm_name;
  comm.last_op.transport = comm.nranks() > 1 ? comm.transportName() : "none";
  comm.last_op.chunk_bytes = comm.config().chunk_bytes;
  COLL_TRACE(comm.rank(), "collective #%llu: %s via %s", static_cast<unsigned long long>(d.seq),
             DescribeCall(d).c_str(), d.algorithm_name);
  return d;
}

// One rank: the result is the input (AVG divides by 1, a no-op).
static void LocalCopy(const void* sendbuf, void* recvbuf, size_t bytes) {
  if (sendbuf != recvbuf && bytes > 0) std::memmove(recvbuf, sendbuf, bytes);
}

Status Allreduce(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype,
                 coll_op_t op) {
  const size_t bytes = count * DtypeSize(dtype);
  if (comm.nranks() == 1) {
    Describe(comm, CollKind::kAllreduce, count, dtype, op, -1, kAlgoLocal);
    LocalCopy(sendbuf, recvbuf, bytes);
    return Status::OK();
  }
  if (count == 0) {
    Describe(comm, CollKind::kAllreduce, count, dtype, op, -1, kAlgoRing);
    return Status::OK();
  }
  // Small buffers: one pass of the ring (n-1 hops) instead of two; every rank reduces in
  // rank order, so the bits agree everywhere.
  const bool small = bytes <= comm.smallBytes() || count < static_cast<size_t>(comm.nranks());
  uint8_t algo = small ? kAlgoAllgatherReduce : kAlgoRing;
  CollDesc d = Describe(comm, CollKind::kAllreduce, count, dtype, op, -1, algo);
  return small ? AllgatherReduceAllreduce(comm, sendbuf, recvbuf, d) : RingAllreduce(comm, sendbuf, recvbuf, d);
}

Status Broadcast(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root) {
  uint8_t algo = comm.nranks() == 1 ? kAlgoLocal : kAlgoChain;
  CollDesc d = Describe(comm, CollKind::kBroadcast, count, dtype, COLL_SUM, root, algo);
  if (comm.nranks() == 1) {
    LocalCopy(sendbuf, recvbuf, count * DtypeSize(dtype));
    return Status::OK();
  }
  return ChainBroadcast(comm, sendbuf, recvbuf, d);
}

Status Allgather(Communicator& comm, const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype) {
  uint8_t algo = comm.nranks() == 1 ? kAlgoLocal : kAlgoRing;
  CollDesc d = Describe(comm, CollKind::kAllgather, sendcount, dtype, COLL_SUM, -1, algo);
  if (comm.nranks() == 1) {
    LocalCopy(sendbuf, recvbuf, sendcount * DtypeSize(dtype));
    return Status::OK();
  }
  return RingAllgather(comm, sendbuf, recvbuf, d);
}

Status ReduceScatter(Communicator& comm, const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                     coll_op_t op) {
  uint8_t algo = comm.nranks() == 1 ? kAlgoLocal : kAlgoRing;
  CollDesc d = Describe(comm, CollKind::kReduceScatter, recvcount, dtype, op, -1, algo);
  if (comm.nranks() == 1) {
    LocalCopy(sendbuf, recvbuf, recvcount * DtypeSize(dtype));
    return Status::OK();
  }
  return RingReduceScatter(comm, sendbuf, recvbuf, d);
}

Status Reduce(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op,
              int root) {
  uint8_t algo = comm.nranks() == 1 ? kAlgoLocal : kAlgoChain;
  CollDesc d = Describe(comm, CollKind::kReduce, count, dtype, op, root, algo);
  if (comm.nranks() == 1) {
    LocalCopy(sendbuf, recvbuf, count * DtypeSize(dtype));
    return Status::OK();
  }
  return ChainReduce(comm, sendbuf, recvbuf, d);
}

Status Barrier(Communicator& comm) {
  uint8_t algo = comm.nranks() == 1 ? kAlgoLocal : kAlgoRing;
  CollDesc d = Describe(comm, CollKind::kBarrier, 1, COLL_UINT8, COLL_SUM, -1, algo);
  if (comm.nranks() == 1) return Status::OK();
  // A one-byte allgather: after n-1 ring hops every rank has heard from every other.
  char* scratch = comm.scratch(static_cast<size_t>(comm.nranks()));
  scratch[comm.rank()] = 1;
  return RingAllgather(comm, scratch + comm.rank(), scratch, d);
}

size_t SegmentOffset(size_t count, int n, int s) {
  size_t base = count / static_cast<size_t>(n), rem = count % static_cast<size_t>(n);
  size_t us = static_cast<size_t>(s);
  return us * base + (us < rem ? us : rem);
}

size_t SegmentCount(size_t count, int n, int s) {
  size_t base = count / static_cast<size_t>(n), rem = count % static_cast<size_t>(n);
  return base + (static_cast<size_t>(s) < rem ? 1 : 0);
}

}  // namespace coll
