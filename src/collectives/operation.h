// An Operation is one collective in flight: it owns its Schedule, its scratch memory and its
// cursors, and advances by progress() without ever blocking. Whoever drives it — the caller of
// a blocking collective (inline) or the communicator's progress thread — runs the same
// RunOperation() loop: one schedule, two drivers. Every chunk's sequence number and
// fingerprint is checked, and every stretch without progress is bounded by COLL_TIMEOUT_MS.
// One thread at a time drives an Operation; the communicator hands it between threads under
// its queue lock.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "collectives/memory_ops.h"
#include "collectives/schedule.h"
#include "comm/comm.h"

namespace coll {

class Operation {
 public:
  explicit Operation(Communicator& comm) : comm_(comm) {}
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  // Ready for a new collective: clears the schedule (keeping its capacity) and the cursors.
  void reset(const CollDesc& desc, MemoryKind memory = MemoryKind::kHost);
  // The buffers are `memory` (of CUDA device `device`): copies and reductions go through that
  // kind's MemoryOps, and sends are staged through host memory (the link's slot, else a ring of
  // COLL_NSLOTS staging chunks owned by the operation). After the schedule is built.
  void useMemory(MemoryKind memory, int device);
  Schedule& schedule() { return s_; }
  const CollDesc& desc() const { return d_; }
  Communicator& comm() { return comm_; }
  // At least `bytes` of memory owned by the operation, 4 KiB aligned, kept across reset().
  char* scratch(size_t bytes);
  size_t scratchBytes() const { return scratch_bytes_; }

  // Runs the `before` steps and cuts the network steps into chunks. Once, before progress().
  Status start();
  // One non-blocking pass: link progress, receives, reductions, sends, and the `after` steps
  // once the network part is over. *done when all is finished; *progressed when anything moved.
  Status progress(bool* done, bool* progressed);
  // Sleeps until a link may have news or the communicator's wake fd fires (round: how many
  // sleeps in a row, for the back-off of links without a file descriptor).
  Status waitForNews(int round);
  // The timeout sentence: the ranks that have not reached this collective (asked through the
  // root; blocks up to about a second), then what this rank waited for.
  Status timeoutError() const;

 private:
  struct Cursor {
    size_t step = 0, chunk = 0;
  };
  size_t chunks(size_t bytes) const { return (bytes + chunk_bytes_ - 1) / chunk_bytes_; }
  size_t chunkLen(size_t bytes, size_t c) const { return std::min(chunk_bytes_, bytes - c * chunk_bytes_); }
  void skipEmpty(Cursor* c, bool sends) const;
  bool recvDone(int step, size_t chunk) const;
  Status runLocal(const LocalStep& step) const;
  Status postChunk(const char* src, size_t len, const ChunkMeta& meta);
  Status pumpRecvs(bool* progressed);
  Status pumpSends(bool* progressed);
  Status processChunk(const RecvChunk& chunk, bool* fused);
  Status checkMeta(const ChunkMeta& got) const;
  Status neighbourTimeout() const;
  bool networkDone() const { return send_.step >= s_.sends.size() && recv_.step >= s_.recvs.size(); }

  Communicator& comm_;
  Schedule s_;
  CollDesc d_;
  const MemoryOps* mem_ = &MemoryOpsFor(MemoryKind::kHost);
  size_t esize_ = 1;
  size_t chunk_bytes_ = 1;
  Cursor send_, recv_;
  size_t received_ = 0;  // chunks of this call that came from the left neighbour
  SendLink* right_ = nullptr;
  bool writable_slot_ = false;  // right_->caps().writable_slot, read once at start
  RecvLink* left_ = nullptr;
  bool finished_ = false;
  std::unique_ptr<char, void (*)(void*)> scratch_{nullptr, &std::free};
  size_t scratch_bytes_ = 0;
  int device_ = -1;                 // the CUDA device of a device-memory operation
  bool staged_sends_ = false;       // sources are not host memory: copy them to host first
  std::unique_ptr<char, void (*)(void*)> staging_{nullptr, &std::free};
  size_t staging_bytes_ = 0;
  size_t staging_next_ = 0;         // chunks posted through the staging ring
};

// Drives op to the end on the calling thread: start, progress, spin then sleep while idle,
// the timeout. A failure is recorded on the communicator (sticky) and reported to the other
// ranks; the status returned is the communicator's failure then.
Status RunOperation(Operation& op);

// "allreduce(count=1000, float32, sum)" — for messages.
std::string DescribeCall(const CollDesc& desc);

}  // namespace coll
