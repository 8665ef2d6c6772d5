// Memory shared between the test process and the children it forks: create it before
// Spawn, children write their slot, the parent reads after Wait. Use std::atomic members for
// anything read while children run (lock-free atomics work across processes).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace colltest {

template <typename T>
class SharedArray {
  static_assert(std::is_trivially_destructible<T>::value, "shared slots are never destroyed");

 public:
  explicit SharedArray(size_t n) : size_(n) {
    void* p = mmap(nullptr, Bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    data_ = static_cast<T*>(p);
    for (size_t i = 0; i < n; ++i) new (&data_[i]) T();
  }
  ~SharedArray() { munmap(data_, Bytes()); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }

 private:
  size_t Bytes() const { return size_ * sizeof(T) + 1; }

  size_t size_;
  T* data_ = nullptr;
};

}  // namespace colltest
