// Entry points of every collective, called by the C API after argument checks. select.cc
// picks the algorithm by size; each algorithm lives in its own file and builds a Schedule.
#pragma once

#include <cstddef>

#include "collectives/schedule.h"
#include "comm/comm.h"

namespace coll {

Status Allreduce(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype,
                 coll_op_t op);
Status Broadcast(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root);
Status Allgather(Communicator& comm, const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype);
Status ReduceScatter(Communicator& comm, const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                     coll_op_t op);
Status Reduce(Communicator& comm, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op,
              int root);
Status Barrier(Communicator& comm);

// Algorithms (one file each). `desc` is filled by the caller except algorithm fields.
enum Algorithm : uint8_t { kAlgoRing = 1, kAlgoAllgatherReduce, kAlgoChain, kAlgoLocal };
const char* AlgorithmName(uint8_t algorithm);

Status RingAllreduce(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);
Status AllgatherReduceAllreduce(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);
Status RingAllgather(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);
Status RingReduceScatter(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);
Status ChainBroadcast(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);
Status ChainReduce(Communicator& comm, const void* sendbuf, void* recvbuf, CollDesc desc);

// Ring segment s of `count` elements split n ways: [SegmentOffset(s), +SegmentCount(s)).
size_t SegmentOffset(size_t count, int n, int s);
size_t SegmentCount(size_t count, int n, int s);
inline int Mod(int a, int n) { return ((a % n) + n) % n; }

}  // namespace coll
