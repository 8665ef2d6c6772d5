// Small blocking-with-deadline socket helpers used by the bootstrap and link setup.
// All sockets are non-blocking; waits use poll(2) bounded by a Deadline. Thread-compatible.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "base/deadline.h"
#include "base/status.h"

namespace coll {

// Owns a file descriptor. Every descriptor held by an Fd is also known to a process-wide
// registry (fd_registry.cc): in a child made by fork() -- a trainer's data loader -- they are
// all pointed at /dev/null, so the child does not keep the parent's sockets alive and a
// dead parent is still seen as dead by its peers. A child must not use a communicator.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd);
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release();  // the caller owns it now (no longer tracked)
  void reset(int fd = -1);
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
  int port() const;
  void setPort(int port);
  std::string str() const;  // "10.0.0.1:4242" or "[fe80::1]:4242"
};

// "host:port" or "[v6]:port"; host resolved with getaddrinfo.
Status ParseHostPort(const std::string& text, SockAddr* out);
// The first address of interface `ifname` (IPv4 preferred).
Status InterfaceAddress(const std::string& ifname, SockAddr* out);
// The address to listen on for a new job: COLL_SOCKET_IFNAME's, else the first non-loopback
// interface that is up, else loopback.
Status DefaultListenAddress(const std::string& ifname, SockAddr* out);

// Binds and listens on addr (port 0 picks one; addr is updated with the real port).
Status Listen(SockAddr* addr, int backlog, Fd* out);
// Connects, retrying refused connections until the deadline (the peer may not listen yet).
Status ConnectRetry(const SockAddr& addr, const Deadline& deadline, const std::string& what, Fd* out);
Status AcceptOne(int listen_fd, const Deadline& deadline, const std::string& what, Fd* out);
Status SendAll(int fd, const void* data, size_t bytes, const Deadline& deadline, const std::string& what);
Status RecvAll(int fd, void* data, size_t bytes, const Deadline& deadline, const std::string& what);
Status LocalAddress(int fd, SockAddr* out);
Status SetNonBlocking(int fd);
void SetNoDelay(int fd);

}  // namespace coll
