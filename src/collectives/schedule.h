// A collective as this rank sees it: the ordered steps it sends to its right neighbour and
// receives from its left one. The engine (engine.cc) cuts every step into slot-sized chunks
// and pipelines them: chunk c of a send step that depends on a receive step goes out as soon
// as chunk c of that receive step has been reduced or copied, so transfer and reduction
// overlap. Algorithms (one file each) only build Schedules. Value types; no threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collective.h"

namespace coll {

enum class CollKind : uint8_t { kAllreduce = 1, kBroadcast, kAllgather, kReduceScatter, kReduce, kBarrier };
const char* CollKindName(CollKind kind);

enum class RecvAction : uint8_t {
  kCopy,         // dst = received
  kReduce,       // dst = local (op) received
  kReduceFinal,  // as kReduce, then the AVG division: dst holds a final value
};

struct SendStep {
  const char* src = nullptr;
  size_t bytes = 0;
  int after_recv = -1;  // chunk c waits for chunk c of this receive step; -1: ready at once
};

struct RecvStep {
  char* dst = nullptr;
  const char* local = nullptr;  // second operand of kReduce*
  size_t bytes = 0;
  RecvAction action = RecvAction::kCopy;
  int forwarded_by = -1;   // the send step that forwards this step's output, if any
  bool dst_needed = true;  // false: only the forward needs the result (it may go to the slot)
};

struct Schedule {
  std::vector<SendStep> sends;
  std::vector<RecvStep> recvs;
};

// What every rank must agree on; carried in each chunk's metadata.
struct CollDesc {
  CollKind kind = CollKind::kAllreduce;
  size_t count = 0;
  coll_dtype_t dtype = COLL_UINT8;
  coll_op_t op = COLL_SUM;
  int root = -1;
  uint8_t algorithm = 0;
  const char* algorithm_name = "";
  uint64_t seq = 0;
};

}  // namespace coll
