// The slot bookkeeping every Link end keeps, whatever moves the bytes (link.h), written once
// for tcp, shm and ibverbs: the counters, the checks whose failure is a caller's bug, their
// messages, and the message of a lost peer. Not thread-safe: a Link end is used by one
// thread at a time, and so is its window.
//
// Sending end: chunks posted, and credits the receiver has given back (the running count of
// slots it released). A credit is held while posted - returned < nslots.
// Receiving end: chunks go through three counters in order: arrived (whole in a slot),
// handed (given to the caller by tryRecv, in order), released (slot free again: a credit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace coll {

class SendWindow {
 public:
  // `who` starts the misuse messages: "tcp link to rank 3".
  SendWindow(std::string who, size_t slot_bytes, int nslots)
      : who_(std::move(who)), slot_bytes_(slot_bytes), nslots_(static_cast<uint64_t>(nslots)) {}

  bool hasCredit() const { return posted_ - returned_ < nslots_; }
  uint64_t posted() const { return posted_; }
  uint64_t returned() const { return returned_; }
  uint64_t outstanding() const { return posted_ - returned_; }
  size_t slotBytes() const { return slot_bytes_; }
  int slotIndex(uint64_t chunk) const { return static_cast<int>(chunk % nslots_); }

  // A post needs a credit and must fit the slot; anything else is the caller's bug.
  // `link_has_credit`: the link's own answer where it asks more than this window (ibverbs:
  // the receiver is ready and the send queue has room).
  Status checkPost(size_t bytes, bool link_has_credit = true) const {
    if (link_has_credit && hasCredit() && bytes <= slot_bytes_) return Status::OK();
    return Internal("%s: post of %zu bytes without a credit or over the %zu-byte slot", who_.c_str(), bytes,
                    slot_bytes_);
  }
  void post() { ++posted_; }
  // The receiver has released `total` chunks in all (never more than were posted).
  Status creditsReturned(uint64_t total) {
    if (total < returned_ || total > posted_)
      return Internal("%s: the peer returned slots up to chunk %llu, but %llu were posted and %llu returned before",
                      who_.c_str(), static_cast<unsigned long long>(total), static_cast<unsigned long long>(posted_),
                      static_cast<unsigned long long>(returned_));
    returned_ = total;
    return Status::OK();
  }

 private:
  std::string who_;
  size_t slot_bytes_;
  uint64_t nslots_;
  uint64_t posted_ = 0, returned_ = 0;
};

class RecvWindow {
 public:
  // `who` starts the misuse messages: "tcp link from rank 3".
  RecvWindow(std::string who, int nslots) : who_(std::move(who)), nslots_(static_cast<uint64_t>(nslots)) {}

  uint64_t arrived() const { return arrived_; }
  uint64_t handed() const { return handed_; }
  uint64_t released() const { return released_; }
  int slotIndex(uint64_t chunk) const { return static_cast<int>(chunk % nslots_); }
  // A slot is free for the next chunk to arrive in.
  bool hasFreeSlot() const { return arrived_ - released_ < nslots_; }
  // A chunk has arrived that tryRecv has not handed out yet.
  bool hasChunk() const { return handed_ < arrived_; }

  void arrive() { ++arrived_; }
  // The next chunk in order (needs hasChunk()); returns its number.
  uint64_t handOut() { return handed_++; }
  Status release() {
    if (released_ == handed_) return Internal("%s: release without a held chunk", who_.c_str());
    ++released_;
    return Status::OK();
  }

 private:
  std::string who_;
  uint64_t nslots_;
  uint64_t arrived_ = 0, handed_ = 0, released_ = 0;
};

// The one sentence of a peer that went away under a link: "lost the connection to rank 3
// while receiving a chunk (tcp from rank 3 (local 127.0.0.1:4000)): Connection reset by peer".
// `cause` is what the transport saw (strerror, "connection closed by the peer", ...).
inline Status LinkPeerLost(int peer, const char* doing, const std::string& describe, const std::string& cause) {
  return PeerLost("lost the connection to rank %d while %s (%s): %s", peer, doing, describe.c_str(), cause.c_str());
}

}  // namespace coll
