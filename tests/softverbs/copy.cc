// Cross-process copies (see copy.h): walks both segment lists, moving the largest piece that is
// contiguous on both sides per system call, and resumes after partial transfers.
// Thread-safety: stateless.
#include "copy.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace softverbs {
namespace {

int CopyPiece(pid_t pid, bool to_remote, char* local, char* remote, size_t len) {
  if (pid == getpid()) {
    memmove(to_remote ? remote : local, to_remote ? local : remote, len);
    return 0;
  }
  while (len > 0) {
    iovec l{local, len};
    iovec r{remote, len};
    ssize_t n = to_remote ? process_vm_writev(pid, &l, 1, &r, 1, 0)
                          : process_vm_readv(pid, &l, 1, &r, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? EFAULT : errno;
    local += n;
    remote += n;
    len -= size_t(n);
  }
  return 0;
}

int Copy(pid_t pid, bool to_remote, const std::vector<iovec>& local,
         const std::vector<iovec>& remote) {
  size_t li = 0, ri = 0, loff = 0, roff = 0;
  while (li < local.size() && ri < remote.size()) {
    size_t len = std::min(local[li].iov_len - loff, remote[ri].iov_len - roff);
    if (len > 0) {
      int rc = CopyPiece(pid, to_remote, static_cast<char*>(local[li].iov_base) + loff,
                         static_cast<char*>(remote[ri].iov_base) + roff, len);
      if (rc != 0) return rc;
    }
    loff += len;
    roff += len;
    if (loff == local[li].iov_len) li++, loff = 0;
    if (roff == remote[ri].iov_len) ri++, roff = 0;
  }
  return 0;
}

}  // namespace

int CopyToProcess(pid_t pid, const std::vector<iovec>& local, const std::vector<iovec>& remote) {
  return Copy(pid, true, local, remote);
}

int CopyFromProcess(pid_t pid, const std::vector<iovec>& local,
                    const std::vector<iovec>& remote) {
  return Copy(pid, false, local, remote);
}

}  // namespace softverbs
