// Chooses an algorithm per call. The switch points come from measurements (see
// docs/PERFORMANCE.md) and are printed at COLL_DEBUG=INFO.
#include "collectives/collectives.h"
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

// Describes the call (taking the next sequence number) and readies op for its schedule.
static void Describe(Operation& op, CollKind kind, size_t count, coll_dtype_t dtype, coll_op_t reduce_op, int root,
                     uint8_t algorithm) {
  Communicator& comm = op.comm();
  CollDesc d;
  d.kind = kind;
  d.count = count;
  d.dtype = dtype;
  d.op = reduce_op;
  d.root = root;
  d.algorithm = algorithm;
  d.algorithm_name = AlgorithmName(algorithm);
  d.seq = comm.nextSeq();
  comm.last_op.algorithm = d.algorithm_name;
  comm.last_op.transport = comm.nranks() > 1 ? comm.transportName() : "none";
  comm.last_op.chunk_bytes = comm.config().chunk_bytes;
  COLL_TRACE(comm.rank(), "collective #%llu: %s via %s", static_cast<unsigned long long>(d.seq),
             DescribeCall(d).c_str(), d.algorithm_name);
  op.reset(d);
}

// One rank: the result is the input (AVG divides by 1, a no-op).
static void LocalCopy(Operation& op, const void* sendbuf, void* recvbuf, size_t bytes) {
  if (sendbuf != recvbuf && bytes > 0)
    op.schedule().before.push_back(LocalStep{LocalStep::Kind::kCopy, static_cast<char*>(recvbuf),
                                             static_cast<const char*>(sendbuf), nullptr, bytes});
}

void Allreduce(Operation& op, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype,
               coll_op_t reduce_op) {
  const Communicator& comm = op.comm();
  const size_t bytes = count * DtypeSize(dtype);
  if (comm.nranks() == 1) {
    Describe(op, CollKind::kAllreduce, count, dtype, reduce_op, -1, kAlgoLocal);
    LocalCopy(op, sendbuf, recvbuf, bytes);
    return;
  }
  if (count == 0) {
    Describe(op, CollKind::kAllreduce, count, dtype, reduce_op, -1, kAlgoRing);
    return;
  }
  // Small buffers: one pass of the ring (n-1 hops) instead of two; every rank reduces in
  // rank order, so the bits agree everywhere.
  const bool small = bytes <= comm.smallBytes() || count < static_cast<size_t>(comm.nranks());
  Describe(op, CollKind::kAllreduce, count, dtype, reduce_op, -1, small ? kAlgoAllgatherReduce : kAlgoRing);
  if (small)
    AllgatherReduceAllreduce(op, sendbuf, recvbuf);
  else
    RingAllreduce(op, sendbuf, recvbuf);
}

void Broadcast(Operation& op, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root) {
  const bool local = op.comm().nranks() == 1;
  Describe(op, CollKind::kBroadcast, count, dtype, COLL_SUM, root, local ? kAlgoLocal : kAlgoChain);
  if (local)
    LocalCopy(op, sendbuf, recvbuf, count * DtypeSize(dtype));
  else
    ChainBroadcast(op, sendbuf, recvbuf);
}

void Allgather(Operation& op, const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype) {
  const bool local = op.comm().nranks() == 1;
  Describe(op, CollKind::kAllgather, sendcount, dtype, COLL_SUM, -1, local ? kAlgoLocal : kAlgoRing);
  if (local)
    LocalCopy(op, sendbuf, recvbuf, sendcount * DtypeSize(dtype));
  else
    RingAllgather(op, sendbuf, recvbuf);
}

void ReduceScatter(Operation& op, const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                   coll_op_t reduce_op) {
  const bool local = op.comm().nranks() == 1;
  Describe(op, CollKind::kReduceScatter, recvcount, dtype, reduce_op, -1, local ? kAlgoLocal : kAlgoRing);
  if (local)
    LocalCopy(op, sendbuf, recvbuf, recvcount * DtypeSize(dtype));
  else
    RingReduceScatter(op, sendbuf, recvbuf);
}

void Reduce(Operation& op, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t reduce_op,
            int root) {
  const bool local = op.comm().nranks() == 1;
  Describe(op, CollKind::kReduce, count, dtype, reduce_op, root, local ? kAlgoLocal : kAlgoChain);
  if (local)
    LocalCopy(op, sendbuf, recvbuf, count * DtypeSize(dtype));
  else
    ChainReduce(op, sendbuf, recvbuf);
}

void Barrier(Operation& op) {
  const Communicator& comm = op.comm();
  const bool local = comm.nranks() == 1;
  Describe(op, CollKind::kBarrier, 1, COLL_UINT8, COLL_SUM, -1, local ? kAlgoLocal : kAlgoRing);
  if (local) return;
  // A one-byte allgather: after n-1 ring hops every rank has heard from every other. The
  // bytes carry nothing; the operation's scratch holds them.
  char* scratch = op.scratch(static_cast<size_t>(comm.nranks()));
  scratch[comm.rank()] = 1;
  RingAllgather(op, scratch + comm.rank(), scratch);
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
