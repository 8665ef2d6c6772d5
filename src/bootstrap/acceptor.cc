// Acceptor: an accept thread plus one short-lived thread per handshake (see acceptor.h).
#include "bootstrap/acceptor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace coll {
namespace {

void Signal(int fd) {
  uint64_t one = 1;
  ssize_t ignored = write(fd, &one, sizeof one);
  (void)ignored;
}

void Drain(int fd) {
  uint64_t v;
  ssize_t ignored = read(fd, &v, sizeof v);
  (void)ignored;
}

std::string PeerName(int fd) {
  SockAddr a;
  a.len = sizeof a.storage;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) != 0) return "an unknown address";
  return a.str();
}

}  // namespace

Status Acceptor::Start(int listener, int64_t per_conn_ms, Work work, std::unique_ptr<Acceptor>* out) {
  std::unique_ptr<Acceptor> a(new Acceptor(listener, per_conn_ms, std::move(work)));
  a->ready_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  a->stop_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!a->ready_.valid() || !a->stop_.valid()) return ErrnoError(errno, "eventfd");
  Acceptor* raw = a.get();
  a->accept_thread_ = std::thread([raw] { raw->acceptLoop(); });
  *out = std::move(a);
  return Status::OK();
}

Acceptor::~Acceptor() {
  stopping_ = true;
  if (stop_.valid()) Signal(stop_.get());
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions.swap(sessions_);
    for (auto& s : sessions) shutdown(s->conn.get(), SHUT_RDWR);  // ends its waits at once
  }
  for (auto& s : sessions) s->thread.join();
}

void Acceptor::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (stopping_ || fds[1].revents) return;
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;  // EAGAIN (none left), or an aborted connection
      SetNoDelay(fd);
      startSession(Fd(fd));
    }
  }
}

void Acceptor::startSession(Fd conn) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t pending = 0;
  for (auto& s : sessions_) pending += s->done ? 0 : 1;
  if (pending >= kMaxPending) {
    for (auto& s : sessions_) {
      if (s->done) continue;
      shutdown(s->conn.get(), SHUT_RDWR);  // its handshake fails soon: dropped like any other
      break;
    }
  }
  auto session = std::make_unique<Session>();
  session->from = PeerName(conn.get());
  session->conn = std::move(conn);
  Session* s = session.get();
  sessions_.push_back(std::move(session));
  s->thread = std::thread([this, s] {
    Outcome outcome;
    work_(s->conn.get(), Deadline::In(per_conn_ms_), &outcome);
    std::lock_guard<std::mutex> lock(mu_);
    s->outcome = std::move(outcome);
    s->done = true;
    Signal(ready_.get());
  });
}

std::vector<Acceptor::Result> Acceptor::take() {
  Drain(ready_.get());
  std::vector<std::unique_ptr<Session>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if ((*it)->done) {
        finished.push_back(std::move(*it));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<Result> results;
  for (auto& s : finished) {
    s->thread.join();
    results.push_back(Result{std::move(s->conn), std::move(s->outcome), std::move(s->from)});
  }
  return results;
}

}  // namespace coll
