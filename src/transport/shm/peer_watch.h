// Notices a dead shm peer: after setup the link's TCP socket carries nothing, so EOF or an
// error on it means the peer process is gone (the kernel closes a dead process's sockets),
// while its flags in the segment would simply never move again. One thread at a time.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "base/socket.h"
#include "base/deadline.h"

namespace coll {
namespace shm {

class PeerWatch {
 public:
  explicit PeerWatch(Fd fd) : fd_(std::move(fd)) {}

  int fd() const { return fd_.get(); }
  int error() const { return err_; }  // errno of a broken connection, 0 for a clean close

  // True once the peer has closed the connection or it broke. Looks at the socket at most
  // every kIntervalMicros so that spinning callers do not pay a syscall per loop.
  bool gone() {
    if (gone_) return true;
    int64_t now = NowMicros();
    if (now < next_check_us_) return false;
    next_check_us_ = now + kIntervalMicros;
    return lookNow();
  }

  // gone() for a caller spinning on an empty slot: reads the clock only every 64 calls.
  bool goneWhileSpinning() {
    if (gone_) return true;
    if (++calls_ % 64 != 0) return false;
    return gone();
  }

  // Looks at the socket now: reads (and drops) anything there, notes EOF or an error.
  bool lookNow() {
    char buf[64];
    while (!gone_) {
      ssize_t r = recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r < 0 && errno == EINTR) continue;
      err_ = r < 0 ? errno : 0;
      gone_ = true;
    }
    return gone_;
  }

 private:
  static constexpr int64_t kIntervalMicros = 1000;

  Fd fd_;
  bool gone_ = false;
  int err_ = 0;
  int64_t next_check_us_ = 0;
  uint32_t calls_ = 0;
};

}  // namespace shm
}  // namespace coll
