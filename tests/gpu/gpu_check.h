// A few helpers for the GPU test programs in tests/gpu: they build with only the CUDA toolkit
// and a C++ compiler (tests/gpu/run compiles them without CMake on a GPU machine), so they use
// no test framework. Exit status: 0 passed, 1 failed, 77 skipped (CTest's SKIP_RETURN_CODE).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

namespace colltest {

constexpr int kExitSkipped = 77;

// True with the device's name when a CUDA device can be used; else false and why ("CUDA
// driver version is insufficient for CUDA runtime version", "no CUDA-capable device ...").
inline bool CudaDeviceAvailable(std::string* about) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    *about = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    return false;
  }
  if (n == 0) {
    *about = "the driver reports no CUDA device";
    return false;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    *about = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err);
    return false;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf, "%d device(s); device 0: %s, compute capability %d.%d, %d SMs", n, prop.name,
                prop.major, prop.minor, prop.multiProcessorCount);
  *about = buf;
  return true;
}

// Counts checks; prints each failure with its context.
class Checker {
 public:
  explicit Checker(const char* program) : program_(program) {}
  void expect(bool ok, const std::string& what) {
    ++checks_;
    if (ok) return;
    ++failures_;
    std::printf("%s: FAILED: %s\n", program_, what.c_str());
  }
  // A CUDA call that must succeed; false (and a failure) when it did not.
  bool cuda(cudaError_t err, const char* call) {
    expect(err == cudaSuccess, std::string(call) + ": " + cudaGetErrorString(err));
    return err == cudaSuccess;
  }
  int finish() const {
    std::printf("%s: %d checks, %d failed\n", program_, checks_, failures_);
    return failures_ == 0 ? 0 : 1;
  }

 private:
  const char* program_;
  int checks_ = 0;
  int failures_ = 0;
};

inline int Skip(const char* program, const std::string& why) {
  std::printf("%s: skipped: no CUDA device (%s)\n", program, why.c_str());
  return kExitSkipped;
}

}  // namespace colltest
