// Frames on the control channel between the root and every rank: the rank table that ends
// the rendezvous, a fatal error with its reason (so every rank reports the root cause), the
// progress query that lets a timeout name the rank that has not reached a collective, and a
// goodbye. Header then `len` bytes of payload. Blocking with a deadline; thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "base/socket.h"
#include "base/status.h"

namespace coll {

// kFrameAskProgress (rank -> root) asks where every rank is; the root sends kFrameProgressQuery
// to every rank, each answers kFrameProgressReply (payload: the int64 sequence number of the
// latest collective it started), and the root sends the asker kFrameProgressTable (one int64
// per rank, -1 for a rank that did not answer in time: stopped or hung).
enum FrameType : uint32_t {
  kFrameBye = 1,
  kFrameFatal = 2,
  kFrameTable = 3,
  kFrameAskProgress = 4,
  kFrameProgressQuery = 5,
  kFrameProgressReply = 6,
  kFrameProgressTable = 7,
};

struct FrameHeader {
  uint32_t type;
  uint32_t code;   // kFrameFatal: the coll_status_t
  int32_t origin;  // the rank the frame speaks for
  uint32_t len;
};

constexpr uint32_t kMaxFrameBytes = 1u << 26;

Status WriteFrame(int fd, FrameType type, coll_status_t code, int origin, const std::string& payload,
                  const Deadline& deadline, const std::string& what);
// A fatal frame carrying st (its message, cut to 4000 bytes).
Status WriteFatal(int fd, const Status& st, int origin, const Deadline& deadline);
Status ReadFrame(int fd, const Deadline& deadline, const std::string& what, FrameHeader* header,
                 std::string* payload);

}  // namespace coll
