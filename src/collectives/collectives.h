// Entry points of every collective, called by the C API after argument checks: each fills
// an Operation (describes the call, takes the next sequence number, builds the schedule)
// that the communicator then runs inline or queues for its progress thread. select.cc picks
// the algorithm by size; each algorithm lives in its own file and only builds a Schedule.
#pragma once

#include <cstddef>

#include "collectives/operation.h"
#include "collectives/schedule.h"
#include "comm/comm.h"

namespace coll {

void Allreduce(Operation& operation, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype,
               coll_op_t op);
void Broadcast(Operation& operation, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root);
void Allgather(Operation& operation, const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype);
void ReduceScatter(Operation& operation, const void* sendbuf, void* recvbuf, size_t recvcount,
                   coll_dtype_t dtype, coll_op_t op);
void Reduce(Operation& operation, const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype,
            coll_op_t op, int root);
void Barrier(Operation& operation);

// Algorithms (one file each): they append to op.schedule(), whose desc() is filled.
enum Algorithm : uint8_t { kAlgoRing = 1, kAlgoAllgatherReduce, kAlgoChain, kAlgoLocal };
const char* AlgorithmName(uint8_t algorithm);

void RingAllreduce(Operation& op, const void* sendbuf, void* recvbuf);
void AllgatherReduceAllreduce(Operation& op, const void* sendbuf, void* recvbuf);
void RingAllgather(Operation& op, const void* sendbuf, void* recvbuf);
void RingReduceScatter(Operation& op, const void* sendbuf, void* recvbuf);
void ChainBroadcast(Operation& op, const void* sendbuf, void* recvbuf);
void ChainReduce(Operation& op, const void* sendbuf, void* recvbuf);

// Ring segment s of `count` elements split n ways: [SegmentOffset(s), +SegmentCount(s)).
size_t SegmentOffset(size_t count, int n, int s);
size_t SegmentCount(size_t count, int n, int s);
inline int Mod(int a, int n) { return ((a % n) + n) % n; }

}  // namespace coll
