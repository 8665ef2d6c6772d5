// Control-channel frames (see control_frame.h).
#include "bootstrap/control_frame.h"

namespace coll {

Status WriteFrame(int fd, FrameType type, coll_status_t code, int origin, const std::string& payload,
                  const Deadline& deadline, const std::string& what) {
  FrameHeader h{static_cast<uint32_t>(type), static_cast<uint32_t>(code), origin,
                static_cast<uint32_t>(payload.size())};
  std::string buf(reinterpret_cast<const char*>(&h), sizeof h);
  buf += payload;
  return SendAll(fd, buf.data(), buf.size(), deadline, what);
}

Status WriteFatal(int fd, const Status& st, int origin, const Deadline& deadline) {
  return WriteFrame(fd, kFrameFatal, st.code(), origin, st.message().substr(0, 4000), deadline, "control channel");
}

Status ReadFrame(int fd, const Deadline& deadline, const std::string& what, FrameHeader* header,
                 std::string* payload) {
  COLL_RETURN_IF_ERROR(RecvAll(fd, header, sizeof *header, deadline, what));
  if (header->len > kMaxFrameBytes)
    return Internal("%s sent a %u-byte control frame", what.c_str(), header->len);
  payload->resize(header->len);
  if (header->len == 0) return Status::OK();
  return RecvAll(fd, &(*payload)[0], header->len, deadline, what);
}

}  // namespace coll
