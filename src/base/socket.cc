// Socket helpers: address parsing, interface lookup, listen/connect/accept and exact-length
// transfers, every wait bounded by a Deadline.
#include "base/socket.h"

#include "base/fd_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace coll {

Fd::Fd(int fd) : fd_(fd) { TrackFd(fd); }

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

int Fd::release() {
  int f = fd_;
  fd_ = -1;
  UntrackFd(f);
  return f;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) {
    UntrackFd(fd_);
    close(fd_);
  }
  fd_ = fd;
  TrackFd(fd);
}

int SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::setPort(int port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<uint16_t>(port));
  if (family() == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(static_cast<uint16_t>(port));
}

std::string SockAddr::str() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof host);
    return StrFormat("%s:%d", host, port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host, sizeof host);
    return StrFormat("[%s]:%d", host, port());
  }
  return "(no address)";
}

Status ParseHostPort(const std::string& text, SockAddr* out) {
  std::string host, port;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return InvalidArgument("'%s' is not host:port", text.c_str());
  host = text.substr(0, colon);
  port = text.substr(colon + 1);
  long number = 0;
  for (char c : port) number = (c >= '0' && c <= '9' && number <= 65535) ? number * 10 + (c - '0') : 100000;
  if (port.size() > 5 || number > 65535)
    return InvalidArgument("'%s': the port must be a number from 1 to 65535, got '%s'", text.c_str(), port.c_str());
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr)
    return InvalidArgument("cannot resolve '%s': %s", text.c_str(), gai_strerror(rc));
  std::memcpy(&out->storage, res->ai_addr, res->ai_addrlen);
  out->len = res->ai_addrlen;
  freeaddrinfo(res);
  return Status::OK();
}

static bool CopyIfAddr(const ifaddrs* ifa, SockAddr* out) {
  if (ifa->ifa_addr == nullptr) return false;
  int fam = ifa->ifa_addr->sa_family;
  if (fam != AF_INET && fam != AF_INET6) return false;
  out->len = fam == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  std::memcpy(&out->storage, ifa->ifa_addr, out->len);
  if (fam == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) return false;
  }
  out->setPort(0);
  return true;
}

static Status FindAddress(const std::string& ifname, bool skip_loopback, SockAddr* out) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ErrnoError(errno, "getifaddrs");
  bool found = false;
  for (int want : {AF_INET, AF_INET6}) {
    for (ifaddrs* ifa = list; ifa != nullptr && !found; ifa = ifa->ifa_next) {
      if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != want) continue;
      if (!(ifa->ifa_flags & IFF_UP)) continue;
      if (!ifname.empty() && ifname != ifa->ifa_name) continue;
      if (ifname.empty() && skip_loopback && (ifa->ifa_flags & IFF_LOOPBACK)) continue;
      found = CopyIfAddr(ifa, out);
    }
    if (found) break;
  }
  freeifaddrs(list);
  if (!found) {
    if (!ifname.empty())
      return InvalidArgument("COLL_SOCKET_IFNAME=%s: no such interface with an IP address that is up",
                             ifname.c_str());
    return SystemError("no network interface with an IP address is up");
  }
  return Status::OK();
}

Status InterfaceAddress(const std::string& ifname, SockAddr* out) { return FindAddress(ifname, false, out); }

Status DefaultListenAddress(const std::string& ifname, SockAddr* out) {
  if (!ifname.empty()) return FindAddress(ifname, false, out);
  if (FindAddress("", true, out).ok()) return Status::OK();
  return FindAddress("", false, out);
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return ErrnoError(errno, "fcntl(O_NONBLOCK)");
  return Status::OK();
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Status Listen(SockAddr* addr, int backlog, Fd* out) {
  Fd fd(socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return ErrnoError(errno, "socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr->storage), addr->len) != 0)
    return ErrnoError(errno, "bind to " + addr->str());
  if (listen(fd.get(), backlog) != 0) return ErrnoError(errno, "listen on " + addr->str());
  socklen_t len = sizeof addr->storage;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr->storage), &len);
  addr->len = len;
  *out = std::move(fd);
  return Status::OK();
}

static Status WaitFd(int fd, short events, const Deadline& deadline, const std::string& what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = deadline.remainingMs(1000);
    int rc = poll(&p, 1, ms);
    if (rc > 0) return Status::OK();
    if (rc < 0 && errno != EINTR) return ErrnoError(errno, "poll while " + what);
    if (rc == 0 && deadline.expired()) return Timeout("timed out %s", what.c_str());
  }
}

Status ConnectRetry(const SockAddr& addr, const Deadline& deadline, const std::string& what, Fd* out) {
  int delay_ms = 1;
  for (;;) {
    Fd fd(socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return ErrnoError(errno, "socket");
    int rc = connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.len);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      COLL_RETURN_IF_ERROR(WaitFd(fd.get(), POLLOUT, deadline, "connecting to " + what));
      socklen_t len = sizeof err;
      getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      SetNoDelay(fd.get());
      *out = std::move(fd);
      return Status::OK();
    }
    if (err != ECONNREFUSED && err != ETIMEDOUT && err != ECONNRESET && err != EAGAIN && err != ENETUNREACH)
      return ErrnoError(err, "connect to " + what + " at " + addr.str());
    if (deadline.expired())
      return Timeout("timed out connecting to %s at %s (last error: %s)", what.c_str(), addr.str().c_str(),
                     std::strerror(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(deadline.remainingMs(delay_ms)));
    delay_ms = delay_ms < 100 ? delay_ms * 2 : 100;
  }
}

Status AcceptOne(int listen_fd, const Deadline& deadline, const std::string& what, Fd* out) {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      SetNoDelay(fd);
      out->reset(fd);
      return Status::OK();
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
      return ErrnoError(errno, "accept while " + what);
    COLL_RETURN_IF_ERROR(WaitFd(listen_fd, POLLIN, deadline, what));
  }
}

Status SendAll(int fd, const void* data, size_t bytes, const Deadline& deadline, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = send(fd, p, bytes, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      COLL_RETURN_IF_ERROR(WaitFd(fd, POLLOUT, deadline, "sending to " + what));
      continue;
    }
    return PeerLost("lost the connection to %s: %s", what.c_str(), std::strerror(errno));
  }
  return Status::OK();
}

Status RecvAll(int fd, void* data, size_t bytes, const Deadline& deadline, const std::string& what) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = recv(fd, p, bytes, 0);
    if (n > 0) {
      p += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return PeerLost("%s closed the connection", what.c_str());
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      COLL_RETURN_IF_ERROR(WaitFd(fd, POLLIN, deadline, "waiting for " + what));
      continue;
    }
    return PeerLost("lost the connection to %s: %s", what.c_str(), std::strerror(errno));
  }
  return Status::OK();
}

Status LocalAddress(int fd, SockAddr* out) {
  socklen_t len = sizeof out->storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&out->storage), &len) != 0) return ErrnoError(errno, "getsockname");
  out->len = len;
  return Status::OK();
}

}  // namespace coll
