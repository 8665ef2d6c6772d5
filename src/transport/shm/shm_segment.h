// The shared segment behind one shm link: the receiver creates it (a POSIX shm object under
// a random name), the sender maps it by name and unlinks it, so once both ends are mapped no
// name is left behind. Layout, flags and their memory ordering are documented below; a
// Segment object itself is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "transport/link.h"

namespace coll {
namespace shm {

constexpr uint64_t kSegmentMagic = 0x31304d4853434c43;  // "CLCSHM01"
constexpr size_t kLine = 64;

// Cache line 0, written once by the receiver before the name is sent, then read-only.
// `magic` is the publish flag of the whole initial segment: the receiver initialises every
// field, header and credit line, then stores magic with release; the sender loads it with
// acquire before it reads anything else (an atomic, so ThreadSanitizer sees the ordering).
struct alignas(kLine) SegmentInfo {
  std::atomic<uint64_t> magic;
  uint64_t nslots;
  uint64_t slot_bytes;
  uint64_t payload_offset;  // of slot 0's payload, page aligned
  uint64_t slot_stride;     // between payloads, page aligned
};

// One cache line per slot, written by the sender only. `seq` is the publish flag: the
// sender fills payload, bytes and meta, then stores seq = chunk index + 1 with release; the
// receiver loads it with acquire and reads the rest only when it equals the index it expects.
struct alignas(kLine) SlotHeader {
  std::atomic<uint64_t> seq;
  uint64_t bytes;
  ChunkMeta meta;
};
static_assert(sizeof(SlotHeader) == kLine, "a slot header is one cache line");

// Its own cache line, written by the receiver only: the number of chunks it has released
// (stored with release once it is done reading them); the sender loads it with acquire, so
// credits = nslots - (posted - released) and no byte of the socket moves per chunk.
struct alignas(kLine) CreditLine {
  std::atomic<uint64_t> released;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "cross-process atomics must be lock free");

// The control message on the link's socket that carries the segment name.
struct NameMessage {
  uint64_t magic;
  char name[56];  // NUL-terminated
};

// OK when msg carries the magic and a name of the form Segment::create makes
// ("/coll-shm-<pid>-<16 hex digits>"). The sender opens and then unlinks that name, so any
// other name (another program's shm object, a path) is refused before it is touched.
Status CheckNameMessage(const NameMessage& msg, int peer);

class Segment {
 public:
  Segment() = default;
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Receiver: creates, sizes (reserving the pages, so a full /dev/shm is an error here and
  // never a SIGBUS later), maps and initialises a fresh segment under a random name.
  Status create(size_t nslots, size_t slot_bytes);
  // Sender: maps the segment `name`, checks it matches the agreed geometry, unlinks it.
  Status open(const char* name, size_t nslots, size_t slot_bytes);
  // Removes the name if this object created it and it is still there (idempotent).
  void unlink();

  const std::string& name() const { return name_; }
  size_t nslots() const { return nslots_; }
  SlotHeader* header(uint64_t index) { return headers_ + index % nslots_; }
  char* payload(uint64_t index) { return base_ + payload_offset_ + (index % nslots_) * stride_; }
  CreditLine* credits() { return credits_; }

 private:
  void layout(size_t nslots, size_t slot_bytes);
  Status map(int fd, bool populate);

  std::string name_;
  bool linked_ = false;  // we created name_ and nobody has unlinked it yet
  char* base_ = nullptr;
  size_t bytes_ = 0;
  size_t nslots_ = 0, slot_bytes_ = 0, payload_offset_ = 0, stride_ = 0;
  SlotHeader* headers_ = nullptr;
  CreditLine* credits_ = nullptr;
};

}  // namespace shm
}  // namespace coll
