// TCP SendLink/RecvLink: non-blocking state machines driven by progress().
#include "transport/tcp/tcp_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace coll {
namespace tcp {

static std::string Describe(const char* dir, int peer, int fd) {
  SockAddr local;
  LocalAddress(fd, &local);
  return StrFormat("tcp %s rank %d (local %s)", dir, peer, local.str().c_str());
}

TcpSendLink::TcpSendLink(LinkSetup setup)
    : fd_(std::move(setup.socket)),
      peer_(setup.peer_rank),
      window_(StrFormat("tcp link to rank %d", setup.peer_rank), setup.config->chunk_bytes, setup.config->nslots),
      describe_(Describe("to", setup.peer_rank, fd_.get())) {}


Status TcpSendLink::lost(const char* what, int err) const {
  return LinkPeerLost(peer_, what, describe_, err ? std::strerror(err) : "connection closed by the peer");
}

Status TcpSendLink::postSlot(size_t, const ChunkMeta&) {
  return Internal("postSlot on a tcp link, which has no writable slot");
}

Status TcpSendLink::postCopy(const void* src, size_t bytes, const ChunkMeta& meta) {
  COLL_RETURN_IF_ERROR(window_.checkPost(bytes));
  window_.post();
  queue_.push_back(Pending{WireHeader{kChunkMagic, static_cast<uint32_t>(bytes), meta},
                           static_cast<const char*>(src), bytes, 0});
  bool ignored = false;
  return writeSome(&ignored);
}

Status TcpSendLink::writeSome(bool* made_progress) {
  while (!queue_.empty()) {
    Pending& p = queue_.front();
    iovec iov[2];
    int n = 0;
    const size_t hdr = sizeof(WireHeader);
    if (p.sent < hdr) iov[n++] = {reinterpret_cast<char*>(&p.header) + p.sent, hdr - p.sent};
    size_t data_off = p.sent > hdr ? p.sent - hdr : 0;
    if (p.bytes > data_off) iov[n++] = {const_cast<char*>(p.data) + data_off, p.bytes - data_off};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Status::OK();
      return lost("sending", errno);
    }
    *made_progress = true;
    p.sent += static_cast<size_t>(w);
    if (p.sent == hdr + p.bytes) {
      queue_.pop_front();
      COLL_RETURN_IF_ERROR(window_.creditsReturned(window_.returned() + 1));
    }
  }
  return Status::OK();
}


Status TcpSendLink::progress(bool* made_progress) { return writeSome(made_progress); }

// Only pending bytes need waiting for; a receiver that died shows up as an error on write.
PollSpec TcpSendLink::pollSpec() {
  if (queue_.empty()) return PollSpec{};
  return PollSpec{fd_.get(), POLLOUT};
}

TcpRecvLink::TcpRecvLink(LinkSetup setup)
    : fd_(std::move(setup.socket)),
      peer_(setup.peer_rank),
      slot_bytes_(setup.config->chunk_bytes),
      window_(StrFormat("tcp link from rank %d", setup.peer_rank), setup.config->nslots),
      headers_(new WireHeader[setup.config->nslots]),
      describe_(Describe("from", setup.peer_rank, fd_.get())) {
  slots_ = static_cast<char*>(std::aligned_alloc(4096, slot_bytes_ * static_cast<size_t>(setup.config->nslots)));
}

TcpRecvLink::~TcpRecvLink() { std::free(slots_); }

Status TcpRecvLink::lost(const char* what, int err) const {
  return LinkPeerLost(peer_, what, describe_, err ? std::strerror(err) : "connection closed by the peer");
}

// Feeds `bytes` of stream into the current chunk (header, then payload into its slot).
Status TcpRecvLink::absorb(const char* data, size_t bytes, size_t* used) {
  *used = 0;
  while (*used < bytes && window_.hasFreeSlot()) {
    if (header_got_ < sizeof cur_) {
      size_t n = std::min(bytes - *used, sizeof cur_ - header_got_);
      std::memcpy(reinterpret_cast<char*>(&cur_) + header_got_, data + *used, n);
      header_got_ += n;
      *used += n;
      if (header_got_ == sizeof cur_ && (cur_.magic != kChunkMagic || cur_.bytes > slot_bytes_))
        return Internal("rank %d sent a malformed chunk header (magic %08x, %u bytes for %zu-byte slots)", peer_,
                        cur_.magic, cur_.bytes, slot_bytes_);
    } else {
      size_t n = std::min(bytes - *used, static_cast<size_t>(cur_.bytes) - payload_got_);
      std::memcpy(slotPtr(window_.arrived()) + payload_got_, data + *used, n);
      payload_got_ += n;
      *used += n;
    }
    completeChunk();
  }
  return Status::OK();
}

void TcpRecvLink::completeChunk() {
  if (header_got_ == sizeof cur_ && payload_got_ == cur_.bytes) {
    headers_[window_.slotIndex(window_.arrived())] = cur_;
    window_.arrive();
    header_got_ = payload_got_ = 0;
  }
}

// Headers (and the start of small payloads) are read through a small staging buffer, so a
// small chunk costs one recv(2); the bulk of a large payload goes straight into its slot.
Status TcpRecvLink::readSome(bool* made_progress) {
  while (window_.hasFreeSlot()) {
    if (stage_pos_ < stage_len_) {
      size_t used = 0;
      COLL_RETURN_IF_ERROR(absorb(stage_ + stage_pos_, stage_len_ - stage_pos_, &used));
      stage_pos_ += used;
      continue;
    }
    if (closed_) return Status::OK();
    const bool in_payload = header_got_ == sizeof cur_;
    char* dst = in_payload ? slotPtr(window_.arrived()) + payload_got_ : stage_;
    size_t want = in_payload ? cur_.bytes - payload_got_ : sizeof stage_;
    ssize_t r = recv(fd_.get(), dst, want, 0);
    if (r == 0) {
      if (header_got_ != 0) return lost("receiving a chunk", 0);
      closed_ = true;
      return Status::OK();
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Status::OK();
      return lost("receiving", errno);
    }
    *made_progress = true;
    if (in_payload) {
      payload_got_ += static_cast<size_t>(r);
      completeChunk();
    } else {
      stage_pos_ = 0;
      stage_len_ = static_cast<size_t>(r);
    }
    // A short read drained the socket: absorb what is staged, then stop (no EAGAIN call).
    if (static_cast<size_t>(r) < want) {
      size_t used = 0;
      if (stage_pos_ < stage_len_) COLL_RETURN_IF_ERROR(absorb(stage_ + stage_pos_, stage_len_ - stage_pos_, &used));
      stage_pos_ += used;
      return Status::OK();
    }
  }
  return Status::OK();
}

Status TcpRecvLink::tryRecv(RecvChunk* chunk, bool* ready) {
  *ready = false;
  if (!window_.hasChunk()) {
    bool ignored = false;
    COLL_RETURN_IF_ERROR(readSome(&ignored));
  }
  if (window_.hasChunk()) {
    const uint64_t n = window_.handOut();
    const WireHeader& h = headers_[window_.slotIndex(n)];
    chunk->data = slotPtr(n);
    chunk->bytes = h.bytes;
    chunk->meta = h.meta;
    *ready = true;
    return Status::OK();
  }
  if (closed_) return lost("waiting for data", 0);
  return Status::OK();
}

// A free slot lets readSome take the next chunk off the socket; until then the kernel's
// buffers and TCP's window hold the sender back.
Status TcpRecvLink::release() { return window_.release(); }

// Reading happens in tryRecv, which the engine calls right after this.
Status TcpRecvLink::progress(bool*) { return Status::OK(); }

PollSpec TcpRecvLink::pollSpec() {
  if (closed_ || !window_.hasFreeSlot()) return PollSpec{};
  return PollSpec{fd_.get(), POLLIN};
}

Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out) {
  out->reset(new TcpSendLink(std::move(setup)));
  return Status::OK();
}

Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  out->reset(new TcpRecvLink(std::move(setup)));
  return Status::OK();
}

}  // namespace tcp
}  // namespace coll
