// Creating, mapping and unlinking the POSIX shm segment of one link (see shm_segment.h for
// the layout and the flags' memory ordering). A Segment is used by one thread at a time.
#include "transport/shm/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <new>

#include "base/socket.h"
#include "base/deadline.h"

namespace coll {
namespace shm {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHeadersOffset = 2 * kLine;  // after SegmentInfo and CreditLine

size_t RoundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

size_t PayloadOffset(size_t nslots) { return RoundUp(kHeadersOffset + nslots * kLine, kPage); }

std::string RandomName(int attempt) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))  // unique enough with O_EXCL retries
    r = (static_cast<uint64_t>(NowMicros()) + static_cast<uint64_t>(attempt)) * 0x9e3779b97f4a7c15ull;
  return StrFormat("/coll-shm-%d-%016llx", static_cast<int>(getpid()), static_cast<unsigned long long>(r));
}

size_t SegmentBytes(size_t nslots, size_t slot_bytes) {
  return PayloadOffset(nslots) + nslots * RoundUp(slot_bytes == 0 ? 1 : slot_bytes, kPage);
}

}  // namespace

Status CheckNameMessage(const NameMessage& msg, int peer) {
  const char* end = static_cast<const char*>(std::memchr(msg.name, 0, sizeof msg.name));
  bool ok = msg.magic == kSegmentMagic && end != nullptr;
  const char* p = msg.name;
  const char kPrefix[] = "/coll-shm-";
  ok = ok && std::strncmp(p, kPrefix, sizeof kPrefix - 1) == 0;
  p += ok ? sizeof kPrefix - 1 : 0;
  const char* digits = p;
  while (ok && *p >= '0' && *p <= '9') ++p;
  ok = ok && p > digits && p - digits <= 10 && *p == '-';
  const char* hex = ++p;
  while (ok && std::isxdigit(static_cast<unsigned char>(*p)) && !std::isupper(static_cast<unsigned char>(*p))) ++p;
  ok = ok && p - hex == 16 && p == end;
  if (!ok) return Internal("rank %d sent a malformed shm segment name", peer);
  return Status::OK();
}

Segment::~Segment() {
  unlink();
  if (base_ != nullptr) munmap(base_, bytes_);
}

void Segment::layout(size_t nslots, size_t slot_bytes) {
  nslots_ = nslots;
  slot_bytes_ = slot_bytes;
  payload_offset_ = PayloadOffset(nslots);
  stride_ = RoundUp(slot_bytes == 0 ? 1 : slot_bytes, kPage);
  bytes_ = SegmentBytes(nslots, slot_bytes);
}

Status Segment::map(int fd, bool populate) {
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  if (p == MAP_FAILED)
    return ErrnoError(errno, StrFormat("mapping the %zu-byte shm segment %s", bytes_, name_.c_str()));
  base_ = static_cast<char*>(p);
  credits_ = reinterpret_cast<CreditLine*>(base_ + kLine);
  headers_ = reinterpret_cast<SlotHeader*>(base_ + kHeadersOffset);
  return Status::OK();
}

Status Segment::create(size_t nslots, size_t slot_bytes) {
  layout(nslots, slot_bytes);
  Fd fd;
  for (int attempt = 0; attempt < 8 && !fd.valid(); ++attempt) {
    name_ = RandomName(attempt);
    fd.reset(shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid() && errno != EEXIST) return ErrnoError(errno, "creating the shm segment " + name_);
  }
  if (!fd.valid()) return ErrnoError(EEXIST, "creating an shm segment under a fresh random name");
  linked_ = true;
  // posix_fallocate reserves every page now: a full /dev/shm fails here, not as SIGBUS later.
  int err = posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes_));
  if (err != 0)
    return ErrnoError(err, StrFormat("reserving %zu bytes for the shm segment %s (is /dev/shm full?)", bytes_,
                                     name_.c_str()));
  COLL_RETURN_IF_ERROR(map(fd.get(), true));
  SegmentInfo* info = new (base_) SegmentInfo{};
  info->nslots = nslots;
  info->slot_bytes = slot_bytes;
  info->payload_offset = payload_offset_;
  info->slot_stride = stride_;
  new (credits_) CreditLine{};
  credits_->released.store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < nslots; ++i) {
    SlotHeader* h = new (&headers_[i]) SlotHeader{};
    h->seq.store(0, std::memory_order_relaxed);
  }
  info->magic.store(kSegmentMagic, std::memory_order_release);  // publishes everything above
  return Status::OK();
}

Status Segment::open(const char* name, size_t nslots, size_t slot_bytes) {
  layout(nslots, slot_bytes);
  name_ = name;
  Fd fd(shm_open(name, O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(errno, StrFormat("opening the peer's shm segment %s", name));
  // The name has served its purpose: from now on only the two mappings keep the memory.
  shm_unlink(name);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, "fstat of the shm segment " + name_);
  if (static_cast<size_t>(st.st_size) != bytes_)
    return Internal("the shm segment %s has %lld bytes where %zu were expected for %zu slots of %zu bytes", name,
                    static_cast<long long>(st.st_size), bytes_, nslots, slot_bytes);
  COLL_RETURN_IF_ERROR(map(fd.get(), true));
  const SegmentInfo* info = reinterpret_cast<const SegmentInfo*>(base_);
  if (info->magic.load(std::memory_order_acquire) != kSegmentMagic || info->nslots != nslots || info->slot_bytes != slot_bytes ||
      info->payload_offset != payload_offset_ || info->slot_stride != stride_)
    return Internal("the shm segment %s does not hold the agreed layout (%zu slots of %zu bytes)", name, nslots,
                    slot_bytes);
  return Status::OK();
}

void Segment::unlink() {
  if (!linked_) return;
  linked_ = false;
  shm_unlink(name_.c_str());  // ENOENT: the sender got there first
}

}  // namespace shm
}  // namespace coll
