// Page-aligned pools registered once, the RLIMIT_MEMLOCK check before registering, and the
// process-wide count of registered bytes. Thread-safety: see memory.h.
#include "transport/ibverbs/memory.h"

#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace coll {
namespace ibverbs {
namespace {

std::atomic<size_t> g_registered{0};

constexpr size_t kPage = 4096;

// Whether CAP_IPC_LOCK is in the effective set (the memlock limit then does not apply).
bool HasIpcLock() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (caps >> 14) & 1;  // CAP_IPC_LOCK
  }
  return false;
}

}  // namespace

Status CheckMemlock(size_t more, const std::string& what) {
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return Status::OK();
  size_t need = g_registered.load() + more;
  if (need <= lim.rlim_cur || HasIpcLock()) return Status::OK();
  return SystemError("cannot register the %s: RLIMIT_MEMLOCK (ulimit -l) is %llu bytes but the ibverbs transport "
                     "needs %zu bytes of locked memory (%zu more); raise the limit (ulimit -l unlimited, "
                     "docker --ulimit memlock=-1) or lower COLL_CHUNK_BYTES / COLL_NSLOTS",
                     what.c_str(), static_cast<unsigned long long>(lim.rlim_cur), need, more);
}

Status RegisteredBuffer::Create(std::shared_ptr<Device> device, size_t bytes, unsigned access,
                                const std::string& what, std::unique_ptr<RegisteredBuffer>* out) {
  size_t rounded = (bytes + kPage - 1) / kPage * kPage;
  COLL_RETURN_IF_ERROR(CheckMemlock(rounded, what));
  std::unique_ptr<RegisteredBuffer> b(new RegisteredBuffer());
  b->device_ = std::move(device);
  b->bytes_ = bytes;
  b->data_ = static_cast<char*>(std::aligned_alloc(kPage, rounded));
  if (b->data_ == nullptr) return SystemError("cannot allocate %zu bytes for the %s", rounded, what.c_str());
  std::memset(b->data_, 0, rounded);
  b->mr_ = b->device_->api().regMr(b->device_->pd(), b->data_, rounded, access);
  if (b->mr_ == nullptr) {
    int err = errno;
    return SystemError("ibv_reg_mr of the %s (%zu bytes on %s) failed: %s (errno %d)%s", what.c_str(), rounded,
                       b->device_->name().c_str(), std::strerror(err), err,
                       err == ENOMEM ? "; check RLIMIT_MEMLOCK (ulimit -l) and the HCA's memory limits" : "");
  }
  b->charged_ = rounded;
  g_registered += rounded;
  *out = std::move(b);
  return Status::OK();
}

RegisteredBuffer::~RegisteredBuffer() {
  if (mr_ != nullptr) device_->api().dereg_mr(mr_);
  g_registered -= charged_;
  std::free(data_);
}

}  // namespace ibverbs
}  // namespace coll
