// Registered memory: the receive pool and the send staging pool of a link, allocated and
// registered once at connect time (never on the hot path), with a clear error when
// RLIMIT_MEMLOCK cannot cover them. Thread-safety: a buffer belongs to one link; the
// process-wide count of registered bytes is atomic.
#pragma once

#include <infiniband/verbs.h>

#include <memory>

#include "transport/ibverbs/device.h"

namespace coll {
namespace ibverbs {

class RegisteredBuffer {
 public:
  // `bytes` of zeroed, page-aligned memory registered with `access` on `device`'s PD.
  // `what` names the buffer in errors ("receive pool for rank 3").
  static Status Create(std::shared_ptr<Device> device, size_t bytes, unsigned access, const std::string& what,
                       std::unique_ptr<RegisteredBuffer>* out);
  ~RegisteredBuffer();
  RegisteredBuffer(const RegisteredBuffer&) = delete;
  RegisteredBuffer& operator=(const RegisteredBuffer&) = delete;

  char* data() const { return data_; }
  size_t size() const { return bytes_; }
  uint32_t lkey() const { return mr_->lkey; }
  uint32_t rkey() const { return mr_->rkey; }
  uint64_t address() const { return reinterpret_cast<uintptr_t>(data_); }

 private:
  RegisteredBuffer() = default;

  std::shared_ptr<Device> device_;
  char* data_ = nullptr;
  size_t bytes_ = 0;
  size_t charged_ = 0;  // counted against RLIMIT_MEMLOCK
  ibv_mr* mr_ = nullptr;
};

// COLL_ERR_SYSTEM naming RLIMIT_MEMLOCK and the bytes needed when registering `more` bytes on
// top of what the process already registered would exceed the limit (unless it is unlimited
// or the process has CAP_IPC_LOCK).
Status CheckMemlock(size_t more, const std::string& what);

}  // namespace ibverbs
}  // namespace coll
