// shm SendLink/RecvLink and the transport's factories. Setup over the link's socket:
// the receiver creates its segment and sends the name (never waiting), the sender maps and
// unlinks it and sends one ack byte, the receiver reads the ack in finishSetup. Each end is
// used by one thread at a time; Available() is thread-safe.
#include "transport/shm/shm_link.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace coll {
namespace shm {
namespace {

constexpr uint8_t kAck = 0x5a;

std::string PeerWhat(int peer) { return StrFormat("rank %d (shm setup)", peer); }

Status LostStatus(int peer, const char* what, const std::string& describe, int err) {
  return LinkPeerLost(peer, what, describe,
                      err ? std::strerror(err) : "the peer closed its control connection (process exited?)");
}

bool ProbeShm() {
  std::string name = StrFormat("/coll-shm-probe-%d", static_cast<int>(getpid()));
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST;  // a stale probe of a dead process with our pid
  shm_unlink(name.c_str());
  close(fd);
  return true;
}

}  // namespace

// ---- sender ----

Status ShmSendLink::connect(const char* segment_name, size_t nslots) {
  COLL_RETURN_IF_ERROR(seg_.open(segment_name, nslots, slot_bytes_));
  describe_ = StrFormat("shm to rank %d (segment %s, %zu x %zu bytes)", peer_, segment_name, nslots, slot_bytes_);
  return Status::OK();
}

Status ShmSendLink::lost(const char* what) const { return LostStatus(peer_, what, describe_, watch_.error()); }

bool ShmSendLink::hasCredit() {
  // The receiver's counter never passes what was posted: loading it cannot fail the window.
  if (!window_.hasCredit()) (void)window_.creditsReturned(seg_.credits()->released.load(std::memory_order_acquire));
  want_credit_ = !window_.hasCredit();
  return !want_credit_;
}

Status ShmSendLink::postSlot(size_t bytes, const ChunkMeta& meta) {
  COLL_RETURN_IF_ERROR(window_.checkPost(bytes));
  if (watch_.gone()) return lost("sending");
  SlotHeader* h = seg_.header(window_.posted());
  h->bytes = bytes;
  h->meta = meta;
  window_.post();
  h->seq.store(window_.posted(), std::memory_order_release);  // publishes payload, bytes and meta
  return Status::OK();
}

Status ShmSendLink::postCopy(const void* src, size_t bytes, const ChunkMeta& meta) {
  COLL_RETURN_IF_ERROR(window_.checkPost(bytes));
  if (bytes > 0) std::memcpy(seg_.payload(window_.posted()), src, bytes);
  return postSlot(bytes, meta);
}

Status ShmSendLink::progress(bool* made_progress) {
  if (!want_credit_) return Status::OK();
  if (hasCredit()) {
    *made_progress = true;
    return Status::OK();
  }
  // A receiver that left after the last collective is fine; one we still need a slot from
  // is lost. Reload after seeing EOF: it may have released its last slot just before leaving.
  if (watch_.gone() && !hasCredit()) return lost("waiting for a free slot");
  return Status::OK();
}

PollSpec ShmSendLink::pollSpec() {
  if (!want_credit_) return PollSpec{};
  return PollSpec{-1, 0, true};
}

// ---- receiver ----

Status ShmRecvLink::create(size_t nslots, const Deadline& deadline) {
  COLL_RETURN_IF_ERROR(seg_.create(nslots, slot_bytes_));
  describe_ = StrFormat("shm from rank %d (segment %s, %zu x %zu bytes)", peer_, seg_.name().c_str(), nslots,
                        slot_bytes_);
  NameMessage msg{};
  msg.magic = kSegmentMagic;
  std::snprintf(msg.name, sizeof msg.name, "%s", seg_.name().c_str());
  // A fresh connection's send buffer takes these 64 bytes at once: this never waits.
  return SendAll(watch_.fd(), &msg, sizeof msg, deadline, PeerWhat(peer_));
}

Status ShmRecvLink::finishSetup(const Deadline& deadline) {
  uint8_t ack = 0;
  Status st = RecvAll(watch_.fd(), &ack, 1, deadline, PeerWhat(peer_));
  seg_.unlink();  // the sender has unlinked it already; this covers a sender that failed
  COLL_RETURN_IF_ERROR(st);
  if (ack != kAck) return Internal("rank %d sent a bad shm setup acknowledgement (%02x)", peer_, ack);
  return Status::OK();
}

Status ShmRecvLink::lost(const char* what) const { return LostStatus(peer_, what, describe_, watch_.error()); }

Status ShmRecvLink::tryRecv(RecvChunk* chunk, bool* ready) {
  *ready = false;
  const uint64_t due = window_.handed();
  const SlotHeader* h = seg_.header(due);
  uint64_t seq = h->seq.load(std::memory_order_acquire);
  if (seq != due + 1) {
    if (seq > due + 1)
      return Internal("shm link from rank %d: slot holds chunk %llu where chunk %llu was due", peer_,
                      static_cast<unsigned long long>(seq - 1), static_cast<unsigned long long>(due));
    if (!watch_.goneWhileSpinning()) return Status::OK();
    // The sender may have posted its last chunk just before leaving: look once more.
    if (h->seq.load(std::memory_order_acquire) != due + 1) return lost("waiting for data");
  }
  if (h->bytes > slot_bytes_)
    return Internal("rank %d posted a %llu-byte chunk into a %zu-byte shm slot", peer_,
                    static_cast<unsigned long long>(h->bytes), slot_bytes_);
  window_.arrive();
  window_.handOut();
  chunk->data = seg_.payload(due);
  chunk->bytes = h->bytes;
  chunk->meta = h->meta;
  *ready = true;
  return Status::OK();
}

Status ShmRecvLink::release() {
  COLL_RETURN_IF_ERROR(window_.release());
  seg_.credits()->released.store(window_.released(), std::memory_order_release);  // after our reads of the slot
  return Status::OK();
}

Status ShmRecvLink::progress(bool*) { return Status::OK(); }

PollSpec ShmRecvLink::pollSpec() { return PollSpec{-1, 0, true}; }

// ---- factories ----

bool Available(const Config&) {
  static const bool available = ProbeShm();
  return available;
}

Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  if (setup.config->nslots < 1 || setup.config->chunk_bytes == 0)
    return InvalidArgument("shm link needs at least one slot of at least one byte");
  std::unique_ptr<ShmRecvLink> link(
      new ShmRecvLink(setup.peer_rank, setup.config->chunk_bytes, setup.config->nslots, std::move(setup.socket)));
  COLL_RETURN_IF_ERROR(link->create(static_cast<size_t>(setup.config->nslots), setup.deadline));
  *out = std::move(link);
  return Status::OK();
}

Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out) {
  if (setup.config->nslots < 1 || setup.config->chunk_bytes == 0)
    return InvalidArgument("shm link needs at least one slot of at least one byte");
  const int fd = setup.socket.get();
  const std::string what = PeerWhat(setup.peer_rank);
  NameMessage msg{};
  COLL_RETURN_IF_ERROR(RecvAll(fd, &msg, sizeof msg, setup.deadline, what));
  COLL_RETURN_IF_ERROR(CheckNameMessage(msg, setup.peer_rank));
  std::unique_ptr<ShmSendLink> link(
      new ShmSendLink(setup.peer_rank, setup.config->chunk_bytes, setup.config->nslots, std::move(setup.socket)));
  COLL_RETURN_IF_ERROR(link->connect(msg.name, static_cast<size_t>(setup.config->nslots)));
  COLL_RETURN_IF_ERROR(SendAll(fd, &kAck, 1, setup.deadline, what));
  *out = std::move(link);
  return Status::OK();
}

}  // namespace shm
}  // namespace coll
