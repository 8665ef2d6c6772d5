// The Link over one TCP connection: [40-byte header | payload] per chunk, payload read
// straight into the receiver's slot. TCP's own flow control is the back-pressure: the
// receiver reads a chunk only when a slot is free, so a slow receiver fills the socket
// buffers and the sender's writes wait; no credit message ever crosses the wire. "Credit" on
// the sending end bounds its queue to nslots chunks. The sender writes from the caller's
// buffer (no staging copy), so postCopy's src must stay untouched until idle(). One thread
// at a time per end.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "transport/link_window.h"
#include "transport/transport.h"

namespace coll {
namespace tcp {

struct WireHeader {
  uint32_t magic;
  uint32_t bytes;
  ChunkMeta meta;
};
static_assert(sizeof(WireHeader) == 40, "wire header is 40 bytes");
constexpr uint32_t kChunkMagic = 0x434f4c44;  // "COLD"

class TcpSendLink final : public SendLink {
 public:
  TcpSendLink(LinkSetup setup);
  size_t slotBytes() const override { return window_.slotBytes(); }
  int peer() const override { return peer_; }
  bool hasCredit() override { return window_.hasCredit(); }
  LinkCaps caps() const override { return LinkCaps{}; }  // host memory, no writable slot
  void* slot() override { return nullptr; }
  Status postSlot(size_t bytes, const ChunkMeta& meta) override;
  Status postCopy(const void* src, size_t bytes, const ChunkMeta& meta) override;
  Status progress(bool* made_progress) override;
  bool idle() override { return queue_.empty(); }
  PollSpec pollSpec() override;
  std::string describe() const override { return describe_; }

 private:
  struct Pending {
    WireHeader header;
    const char* data;
    size_t bytes;
    size_t sent;  // of sizeof(header) + bytes
  };
  Status writeSome(bool* made_progress);
  Status lost(const char* what, int err) const;

  Fd fd_;
  int peer_;
  SendWindow window_;  // a chunk's credit comes back once its last byte is written
  std::deque<Pending> queue_;
  std::string describe_;
};

class TcpRecvLink final : public RecvLink {
 public:
  TcpRecvLink(LinkSetup setup);
  ~TcpRecvLink() override;
  size_t slotBytes() const override { return slot_bytes_; }
  int peer() const override { return peer_; }
  Status tryRecv(RecvChunk* chunk, bool* ready) override;
  Status release() override;
  Status progress(bool* made_progress) override;
  PollSpec pollSpec() override;
  std::string describe() const override { return describe_; }

 private:
  Status readSome(bool* made_progress);
  Status absorb(const char* data, size_t bytes, size_t* used);
  void completeChunk();
  Status lost(const char* what, int err) const;
  char* slotPtr(uint64_t chunk) { return slots_ + static_cast<size_t>(window_.slotIndex(chunk)) * slot_bytes_; }

  Fd fd_;
  int peer_;
  size_t slot_bytes_;
  RecvWindow window_;
  char* slots_ = nullptr;
  std::unique_ptr<WireHeader[]> headers_;  // per slot
  WireHeader cur_{};
  size_t header_got_ = 0, payload_got_ = 0;
  char stage_[4096];
  size_t stage_pos_ = 0, stage_len_ = 0;
  bool closed_ = false;  // read EOF from the sender
  std::string describe_;
};

}  // namespace tcp
}  // namespace coll
