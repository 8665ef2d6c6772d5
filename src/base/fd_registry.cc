// Registry of owned descriptors and the pthread_atfork handlers that, in a child, point each
// of them at /dev/null (the number stays taken, so a later close by its Fd is harmless, but
// the child no longer holds the parent's sockets open). Only async-signal-safe calls run in
// the child handler.
#include "base/fd_registry.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <mutex>
#include <unordered_set>

namespace coll {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_set<int> fds;
};

Registry& Get() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

void Prepare() { Get().mu.lock(); }
void Parent() { Get().mu.unlock(); }

void Child() {
  Registry& r = Get();
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    for (int fd : r.fds)
      if (fd != null_fd) dup3(null_fd, fd, O_CLOEXEC);
    close(null_fd);
  }
  r.mu.unlock();
}

void InstallHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(Prepare, Parent, Child); });
}

}  // namespace

void TrackFd(int fd) {
  if (fd < 0) return;
  InstallHandlersOnce();
  std::lock_guard<std::mutex> lock(Get().mu);
  Get().fds.insert(fd);
}

void UntrackFd(int fd) {
  if (fd < 0) return;
  std::lock_guard<std::mutex> lock(Get().mu);
  Get().fds.erase(fd);
}

int TrackedFdCount() {
  std::lock_guard<std::mutex> lock(Get().mu);
  return static_cast<int>(Get().fds.size());
}

}  // namespace coll
