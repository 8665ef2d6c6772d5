// A collective as this rank sees it: local steps before, the ordered steps it sends to and
// receives from its peers, and local steps after. The Operation (operation.h) cuts every
// network step into slot-sized chunks and pipelines them: chunk c of a send step that depends
// on a receive step goes out as soon as chunk c of that receive step has been reduced or
// copied, so transfer and reduction overlap. Each step names its peer; the ring algorithms
// send to the right neighbour and receive from the left one. Algorithms (one file each) only
// build Schedules and never touch memory themselves: copies and reductions go through the
// operation's MemoryOps (memory_ops.h). Value types; no threads.
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
  int peer = -1;
  const char* src = nullptr;
  size_t bytes = 0;
  int after_recv = -1;  // chunk c waits for chunk c of this receive step; -1: ready at once
};

struct RecvStep {
  int peer = -1;
  char* dst = nullptr;
  const char* local = nullptr;  // second operand of kReduce*
  size_t bytes = 0;
  RecvAction action = RecvAction::kCopy;
  int forwarded_by = -1;   // the send step that forwards this step's output, if any
  bool dst_needed = true;  // false: only the forward needs the result (it may go to the slot)
};

// Work without the network, run before the first chunk moves or after the last one.
struct LocalStep {
  enum class Kind : uint8_t {
    kCopy,         // dst = a
    kCopyFinal,    // dst = a, and dst will not be read soon (streams past the cache)
    kReduce,       // dst = a (op) b
    kReduceFinal,  // as kReduce, then the AVG division
  };
  Kind kind = Kind::kCopy;
  char* dst = nullptr;
  const char* a = nullptr;
  const char* b = nullptr;
  size_t bytes = 0;
};

struct Schedule {
  std::vector<LocalStep> before;
  std::vector<SendStep> sends;
  std::vector<RecvStep> recvs;
  std::vector<LocalStep> after;

  void clear() {  // keeps capacity: a reused schedule allocates nothing
    before.clear();
    sends.clear();
    recvs.clear();
    after.clear();
  }
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
