// Feeds a fuzz input to code that reads a socket: the bytes wait in one end of a socketpair
// whose writing side is then shut, so the reader sees exactly them and then EOF; whatever it
// answers lands in the other end's buffer and is dropped. Single-threaded.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace collfuzz {

class FedSocket {
 public:
  // Keeps at most max bytes of data (a socketpair buffer holds them without blocking).
  FedSocket(const uint8_t* data, size_t size, size_t max = 4096) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0) return;
    size = size < max ? size : max;
    while (size > 0) {
      ssize_t n = write(fds_[1], data, size);
      if (n <= 0) break;
      data += n;
      size -= static_cast<size_t>(n);
    }
    shutdown(fds_[1], SHUT_WR);
  }
  ~FedSocket() {
    if (fds_[1] >= 0) close(fds_[1]);
    if (fds_[0] >= 0 && !released_) close(fds_[0]);
  }
  int fd() const { return fds_[0]; }
  int release() {  // for code that takes ownership of the reading end
    released_ = true;
    return fds_[0];
  }

 private:
  int fds_[2] = {-1, -1};
  bool released_ = false;
};

}  // namespace collfuzz
