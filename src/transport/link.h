// The Link: what the ring needs from a transport, modelled on RDMA (see docs/DESIGN.md).
//
// A connection between two ranks is one-way for data: the SendLink end pushes chunks, the
// RecvLink end owns `numSlots()` receive slots of `slotBytes()` each (registered once for
// ibverbs) and returns a credit per consumed slot. Chunks arrive in the order they were
// posted. Every call is non-blocking; blocking is done by the caller (the Operation's
// driver, collectives/operation.cc) using pollSpec() and wake-ups. An end is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/deadline.h"
#include "base/memory_kind.h"
#include "base/status.h"

namespace coll {

// Opaque per-chunk metadata carried beside the payload (the collective puts its sequence
// number and fingerprint here, so a receiver can tell a mismatched peer from garbage).
struct ChunkMeta {
  uint64_t words[4] = {0, 0, 0, 0};
};

struct RecvChunk {
  const void* data = nullptr;  // valid until release()
  size_t bytes = 0;
  ChunkMeta meta;
};

// What the waiter can sleep on: a file descriptor to poll(2) for `events`, or, with fd < 0
// and needs_spin, nothing (shared memory): the waiter then polls progress() with backoff.
// fd < 0 without needs_spin: this end has nothing to wait for.
struct PollSpec {
  int fd = -1;
  short events = 0;
  bool needs_spin = false;
};

// What a SendLink offers the one driving it. Every transport built today keeps host slots and
// sends from host memory; tcp has no slot the sender may fill.
struct LinkCaps {
  MemoryKind slot_memory = MemoryKind::kHost;  // where the receiver's slots (and slot()) live
  bool writable_slot = false;                   // slot()/postSlot() may be used
  uint32_t source_kinds = MemoryKindBit(MemoryKind::kHost);  // what postCopy() may read from
  bool accepts(MemoryKind kind) const { return (source_kinds & MemoryKindBit(kind)) != 0; }
};

class SendLink {
 public:
  virtual ~SendLink() = default;
  virtual size_t slotBytes() const = 0;
  virtual int peer() const = 0;
  virtual LinkCaps caps() const = 0;

  // True when a receive slot is free at the peer (a credit is held).
  virtual bool hasCredit() = 0;

  // Memory to write the next chunk into, when caps().writable_slot: the transport lets the
  // sender fill the peer's slot directly (shm: the peer's slot; ibverbs: a registered staging
  // slot). Only valid while hasCredit(); the caller then posts it with postSlot().
  virtual void* slot() = 0;
  virtual Status postSlot(size_t bytes, const ChunkMeta& meta) = 0;

  // Posts `bytes` from src. Needs hasCredit(). src must stay unchanged until idle():
  // a transport may send from it directly instead of copying. A link holds at most its
  // COLL_NSLOTS latest posts: once hasCredit() holds again, the src of the post COLL_NSLOTS
  // posts back is free (the Operation's staging ring relies on it).
  virtual Status postCopy(const void* src, size_t bytes, const ChunkMeta& meta) = 0;

  // Moves data and collects credits. Returns an error naming the peer when the link broke.
  virtual Status progress(bool* made_progress) = 0;
  // Every posted chunk has left src buffers (safe to return to the user).
  virtual bool idle() = 0;
  virtual PollSpec pollSpec() = 0;
  virtual std::string describe() const = 0;  // "tcp to rank 3 (10.0.0.2:4123)"
};

// Setup order (so a ring of ranks never waits in a cycle): every rank first makes its
// RecvLink (which must not wait for the peer: it only sends what the sender needs), then its
// SendLink (which may wait for the receiver's data), then calls RecvLink::finishSetup (which
// may wait for what the sender sent while being made).
class RecvLink {
 public:
  virtual ~RecvLink() = default;
  virtual Status finishSetup(const Deadline& deadline) {
    (void)deadline;
    return Status::OK();
  }
  virtual size_t slotBytes() const = 0;
  virtual int peer() const = 0;
  // The memory tryRecv()'s chunks live in.
  virtual MemoryKind slotMemory() const { return MemoryKind::kHost; }

  // The next chunk in order, if it has fully arrived. *ready false when none yet.
  virtual Status tryRecv(RecvChunk* chunk, bool* ready) = 0;
  // Returns the oldest chunk handed out by tryRecv to the sender (a credit).
  virtual Status release() = 0;

  virtual Status progress(bool* made_progress) = 0;
  // Every released slot has been handed back to the sender (a credit it can see). A
  // collective is over only when this holds: a transport that returns credits lazily must
  // not make the sender's last chunks depend on the next use of this link.
  virtual bool settled() { return true; }
  // Called when the caller is about to sleep: the end first pushes out anything it deferred
  // (credits returned in batches), so a sender never waits on a sleeping receiver.
  virtual PollSpec pollSpec() = 0;
  virtual std::string describe() const = 0;
};

}  // namespace coll
