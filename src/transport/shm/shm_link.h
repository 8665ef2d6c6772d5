// The Link over shared memory between two processes of one host. The receiver's slots live
// in a segment both map (shm_segment.h): the sender writes a chunk (or the ring's reduction
// output) straight into the peer's slot and publishes it with a release store; credits come
// back through a counter in the same segment. The TCP socket from setup stays open only to
// notice a dead peer. One thread at a time per end.
#pragma once

#include <memory>
#include <string>

#include "transport/link_window.h"
#include "transport/shm/peer_watch.h"
#include "transport/shm/shm_segment.h"
#include "transport/transport.h"

namespace coll {
namespace shm {

class ShmSendLink final : public SendLink {
 public:
  ShmSendLink(int peer, size_t slot_bytes, int nslots, Fd socket)
      : peer_(peer),
        slot_bytes_(slot_bytes),
        window_(StrFormat("shm link to rank %d", peer), slot_bytes, nslots),
        watch_(std::move(socket)) {}
  Status connect(const char* segment_name, size_t nslots);

  size_t slotBytes() const override { return slot_bytes_; }
  int peer() const override { return peer_; }
  bool hasCredit() override;
  LinkCaps caps() const override {
    LinkCaps caps;
    caps.writable_slot = true;  // the peer's slot itself
    return caps;
  }
  void* slot() override { return seg_.payload(window_.posted()); }
  Status postSlot(size_t bytes, const ChunkMeta& meta) override;
  Status postCopy(const void* src, size_t bytes, const ChunkMeta& meta) override;
  Status progress(bool* made_progress) override;
  // Posting copies synchronously, so src buffers are free as soon as post returns; the
  // chunks themselves live in the peer's mapping, which outlives our leaving.
  bool idle() override { return true; }
  PollSpec pollSpec() override;
  std::string describe() const override { return describe_; }

 private:
  Status lost(const char* what) const;

  int peer_;
  size_t slot_bytes_;
  SendWindow window_;  // returned(): the receiver's released counter as last loaded
  PeerWatch watch_;
  Segment seg_;
  bool want_credit_ = false;  // the last hasCredit() found none
  std::string describe_;
};

class ShmRecvLink final : public RecvLink {
 public:
  ShmRecvLink(int peer, size_t slot_bytes, int nslots, Fd socket)
      : peer_(peer),
        slot_bytes_(slot_bytes),
        window_(StrFormat("shm link from rank %d", peer), nslots),
        watch_(std::move(socket)) {}
  Status create(size_t nslots, const Deadline& deadline);

  Status finishSetup(const Deadline& deadline) override;
  size_t slotBytes() const override { return slot_bytes_; }
  int peer() const override { return peer_; }
  Status tryRecv(RecvChunk* chunk, bool* ready) override;
  Status release() override;
  Status progress(bool* made_progress) override;
  PollSpec pollSpec() override;
  std::string describe() const override { return describe_; }

 private:
  Status lost(const char* what) const;

  int peer_;
  size_t slot_bytes_;
  RecvWindow window_;  // a chunk arrives when tryRecv sees its sequence number published
  PeerWatch watch_;
  Segment seg_;
  std::string describe_;
};

}  // namespace shm
}  // namespace coll
