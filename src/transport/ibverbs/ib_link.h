// The Link over ibverbs. Each slot of the receiver's registered pool is [64-byte SlotHeader |
// chunk_bytes of payload]; the sender fills the same layout in its registered staging pool
// and moves header + payload with one RDMA_WRITE_WITH_IMM (imm = sequence << 8 | slot). The
// receiver pre-posts one receive per slot and returns credits with empty SEND_WITH_IMMs whose
// imm is its running count of released chunks. One thread at a time per end.
#pragma once

#include <memory>
#include <string>

#include "transport/ibverbs/endpoint.h"
#include "transport/ibverbs/memory.h"
#include "transport/link_window.h"
#include "transport/transport.h"

namespace coll {
namespace ibverbs {

constexpr uint32_t kSlotMagic = 0x534c4f54;  // "SLOT"
constexpr size_t kSlotHeaderBytes = 64;

// Written by the sender in front of the payload, by the same RDMA write.
struct SlotHeader {
  uint32_t magic;
  uint32_t bytes;  // payload bytes that follow
  uint64_t seq;    // chunk number on this link, from 0
  ChunkMeta meta;
  uint64_t reserved[2];
};
static_assert(sizeof(SlotHeader) == kSlotHeaderBytes, "the slot header is 64 bytes");

inline uint32_t ChunkImm(uint64_t seq, int slot) {
  return static_cast<uint32_t>(seq << 8) | static_cast<uint32_t>(slot);
}

// Slot geometry shared by both ends.
struct SlotGeometry {
  int nslots;
  size_t slot_bytes;  // payload
  size_t stride() const { return kSlotHeaderBytes + slot_bytes; }
  size_t poolBytes() const { return stride() * static_cast<size_t>(nslots); }
};

class IbSendLink final : public SendLink {
 public:
  static Status Create(LinkSetup setup, std::unique_ptr<SendLink>* out);
  ~IbSendLink() override;  // QP down, then deregister, then the socket closes (Endpoint::shutdown)
  size_t slotBytes() const override { return geo_.slot_bytes; }
  int peer() const override { return peer_; }
  bool hasCredit() override;
  LinkCaps caps() const override {
    LinkCaps caps;
    caps.writable_slot = true;  // a registered staging slot, RDMA-written by postSlot
    return caps;
  }
  void* slot() override;
  Status postSlot(size_t bytes, const ChunkMeta& meta) override;
  Status postCopy(const void* src, size_t bytes, const ChunkMeta& meta) override;
  Status progress(bool* made_progress) override;
  bool idle() override { return window_.outstanding() == 0 || ep_->peerClosed(); }
  PollSpec pollSpec() override { return ep_->pollSpec(); }
  std::string describe() const override { return ep_->describe(); }

 private:
  IbSendLink(int peer, SlotGeometry geo)
      : peer_(peer), geo_(geo), window_(StrFormat("ibverbs link to rank %d", peer), geo.slot_bytes, geo.nslots) {}
  Status connect(LinkSetup& setup, const IbConfig& config, std::shared_ptr<Device> device);
  Status onCompletion(const ibv_wc& wc, bool* made_progress);
  Status readControl(bool force);

  int peer_;
  SlotGeometry geo_;
  std::unique_ptr<Endpoint> ep_;
  std::unique_ptr<RegisteredBuffer> staging_;
  uint64_t remote_addr_ = 0;
  uint32_t remote_rkey_ = 0;
  SendWindow window_;
  bool ready_ = false;   // the receiver's QP can take writes
  bool want_credit_ = false;
};

class IbRecvLink final : public RecvLink {
 public:
  static Status Create(LinkSetup setup, std::unique_ptr<RecvLink>* out);
  ~IbRecvLink() override;  // QP down, then deregister, then the socket closes (Endpoint::shutdown)
  Status finishSetup(const Deadline& deadline) override;
  size_t slotBytes() const override { return geo_.slot_bytes; }
  int peer() const override { return peer_; }
  Status tryRecv(RecvChunk* chunk, bool* ready) override;
  Status release() override;
  Status progress(bool* made_progress) override;
  bool settled() override { return credits_sent_ == window_.released() || sender_gone_ || ep_->peerClosed(); }
  PollSpec pollSpec() override { return ep_->pollSpec(); }
  std::string describe() const override { return ep_->describe(); }

 private:
  IbRecvLink(int peer, SlotGeometry geo)
      : peer_(peer), geo_(geo), window_(StrFormat("ibverbs link from rank %d", peer), geo.nslots) {}
  Status start(LinkSetup& setup, const IbConfig& config, std::shared_ptr<Device> device);
  Status onCompletion(const ibv_wc& wc, bool* made_progress);
  Status onArrival(const ibv_wc& wc);
  Status flushCredits(bool* made_progress);
  Status readControl(bool force);
  char* slotPtr(uint64_t seq) const {
    return pool_->data() + static_cast<size_t>(window_.slotIndex(seq)) * geo_.stride();
  }

  int peer_;
  SlotGeometry geo_;
  std::unique_ptr<Endpoint> ep_;
  std::unique_ptr<RegisteredBuffer> pool_;
  ConnInfo local_{};
  RecvWindow window_;
  uint64_t credits_sent_ = 0;      // window_.released() as last told to the sender
  bool sender_gone_ = false;       // the sender closed and its QP no longer answers
};

// The process's IbConfig and Device for a link (reads the environment each time).
Status OpenForLink(const Config& base, std::shared_ptr<Device>* device, IbConfig* config);

// Why this process cannot use ibverbs with the current environment (OK when it can): the
// library does not load, a symbol is missing, or no ACTIVE port. Probed once per setting.
Status Unavailability();

}  // namespace ibverbs
}  // namespace coll
