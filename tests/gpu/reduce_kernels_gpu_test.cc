// The CUDA reduction kernels (reduce_cuda.h) against the CPU kernels (reduce.h), bit for bit:
// every dtype x op x AVG mode on reduce_inputs.h's hard inputs, out of place and in place,
// aligned (vector path) and shifted by one element (scalar path), and short counts (tails).
// Needs a CUDA device; exits 77 ("skipped: no CUDA device") without one. COLL_GPU_TEST_QUICK=1
// uses fewer random inputs (for compute-sanitizer runs).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "collectives/reduce/reduce.h"
#include "collectives/reduce/reduce_cuda.h"
#include "base/dtype.h"
#include "gpu/gpu_check.h"
#include "support/reduce_inputs.h"

namespace {

using coll::DtypeName;
using coll::DtypeSize;
using coll::OpName;

constexpr const char* kProgram = "reduce_kernels_gpu_test";

enum class Entry { kInto, kFinal, kFinalize };
const char* EntryName(Entry e) {
  return e == Entry::kInto ? "ReduceInto" : e == Entry::kFinal ? "ReduceFinal" : "FinalizeAvg";
}

struct Case {
  Entry entry;
  coll_op_t op;
  int nranks;
};

// Where the three operands sit, in elements from the start of their buffers.
struct Layout {
  const char* name;
  size_t a, b, out;  // offsets
  int alias;         // 0: out is its own buffer; 1: out is a; 2: out is b
  size_t count;      // 0: all the inputs that fit
};

void Cpu(const Case& c, void* out, const void* a, const void* b, size_t n, coll_dtype_t dtype) {
  switch (c.entry) {
    case Entry::kInto: coll::ReduceInto(out, a, b, n, dtype, c.op); break;
    case Entry::kFinal: coll::ReduceFinal(out, a, b, n, dtype, c.op, c.nranks); break;
    case Entry::kFinalize:
      std::memmove(out, a, n * DtypeSize(dtype));
      coll::FinalizeAvg(out, n, dtype, c.op, c.nranks);
      break;
  }
}

coll::Status Gpu(const Case& c, void* out, const void* a, const void* b, size_t n, coll_dtype_t dtype) {
  switch (c.entry) {
    case Entry::kInto: return coll::cuda::ReduceIntoOnDevice(out, a, b, n, dtype, c.op, nullptr);
    case Entry::kFinal: return coll::cuda::ReduceFinalOnDevice(out, a, b, n, dtype, c.op, c.nranks, nullptr);
    case Entry::kFinalize:
      if (out != a && cudaMemcpy(out, a, n * DtypeSize(dtype), cudaMemcpyDeviceToDevice) != cudaSuccess)
        return coll::SystemError("cudaMemcpy failed");
      return coll::cuda::FinalizeAvgOnDevice(out, n, dtype, c.op, c.nranks, nullptr);
  }
  return coll::Internal("unknown entry");
}

struct DeviceBuffers {
  void* a = nullptr;
  void* b = nullptr;
  void* out = nullptr;
  ~DeviceBuffers() {
    cudaFree(a);
    cudaFree(b);
    cudaFree(out);
  }
};

void RunDtype(coll_dtype_t dtype, size_t randoms, colltest::Checker* check) {
  const size_t es = DtypeSize(dtype);
  const colltest::ReduceInputs in = colltest::MakeReduceInputs(dtype, randoms, 7 + dtype);
  const size_t pad = 4;  // elements of room for shifted layouts
  const size_t bytes = (in.count + pad) * es;
  DeviceBuffers d;
  if (!check->cuda(cudaMalloc(&d.a, bytes), "cudaMalloc") || !check->cuda(cudaMalloc(&d.b, bytes), "cudaMalloc") ||
      !check->cuda(cudaMalloc(&d.out, bytes), "cudaMalloc"))
    return;
  std::vector<Case> cases;
  for (coll_op_t op : {COLL_SUM, COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG}) {
    cases.push_back({Entry::kInto, op, 1});
    for (int n : {1, 3, 8}) cases.push_back({Entry::kFinal, op, n});
  }
  for (int n : {1, 2, 3, 7}) cases.push_back({Entry::kFinalize, COLL_AVG, n});
  const Layout layouts[] = {{"aligned", 0, 0, 0, 0, 0},      {"in place (out = a)", 0, 0, 0, 1, 0},
                            {"in place (out = b)", 0, 0, 0, 2, 0}, {"all shifted by one element", 1, 1, 1, 0, 0},
                            {"out shifted by three", 0, 0, 3, 0, 0}, {"count 1", 0, 0, 0, 0, 1},
                            {"count 17", 0, 0, 0, 0, 17},     {"count 4099, shifted", 1, 1, 1, 0, 4099}};
  std::vector<uint8_t> ha(bytes), hb(bytes), hout(bytes), want(bytes);
  for (const Layout& l : layouts) {
    const size_t n = l.count != 0 ? l.count : in.count;
    for (const Case& c : cases) {
      if (c.entry == Entry::kFinalize && l.alias == 2) continue;  // one buffer: same as alias 1
      // Fresh operands every case: in-place cases overwrite an input.
      std::memset(ha.data(), 0, bytes);
      std::memset(hb.data(), 0, bytes);
      std::memcpy(ha.data() + l.a * es, in.a.data(), n * es);
      std::memcpy(hb.data() + l.b * es, in.b.data(), n * es);
      std::memset(want.data(), 0x5A, bytes);
      if (!check->cuda(cudaMemcpy(d.a, ha.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
          !check->cuda(cudaMemcpy(d.b, hb.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
          !check->cuda(cudaMemcpy(d.out, want.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy"))
        return;
      uint8_t* hdst = l.alias == 1 ? ha.data() + l.a * es : l.alias == 2 ? hb.data() + l.b * es : want.data() + l.out * es;
      Cpu(c, hdst, ha.data() + l.a * es, hb.data() + l.b * es, n, dtype);
      uint8_t* ddst = static_cast<uint8_t*>(l.alias == 1 ? d.a : l.alias == 2 ? d.b : d.out) +
                      (l.alias == 1 ? l.a : l.alias == 2 ? l.b : l.out) * es;
      const coll::Status st = Gpu(c, ddst, static_cast<uint8_t*>(d.a) + l.a * es,
                                  static_cast<uint8_t*>(d.b) + l.b * es, n, dtype);
      const std::string what = std::string(DtypeName(dtype)) + " " + OpName(c.op) + " " + EntryName(c.entry) +
                               " nranks " + std::to_string(c.nranks) + ", " + l.name;
      check->expect(st.ok(), what + ": " + st.message());
      if (!st.ok() || !check->cuda(cudaDeviceSynchronize(), "kernel")) continue;
      // The whole destination buffer: the result and the untouched bytes around it.
      void* dbuf = l.alias == 1 ? d.a : l.alias == 2 ? d.b : d.out;
      const uint8_t* hbuf = l.alias == 1 ? ha.data() : l.alias == 2 ? hb.data() : want.data();
      if (!check->cuda(cudaMemcpy(hout.data(), dbuf, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy")) return;
      const long long i = colltest::FirstDifference(hbuf, hout.data(), bytes / es, dtype);
      char detail[160] = "";
      if (i >= 0) {
        uint64_t g = 0, w = 0;
        std::memcpy(&g, hout.data() + i * es, es);
        std::memcpy(&w, hbuf + i * es, es);
        std::snprintf(detail, sizeof detail, ": buffer element %lld: gpu 0x%llx, cpu 0x%llx", i,
                      static_cast<unsigned long long>(g), static_cast<unsigned long long>(w));
      }
      check->expect(i < 0, what + detail);
    }
  }
}

}  // namespace

int main() {
  std::string about;
  if (!colltest::CudaDeviceAvailable(&about)) return colltest::Skip(kProgram, about);
  std::printf("%s: %s\n", kProgram, about.c_str());
  const char* quick = std::getenv("COLL_GPU_TEST_QUICK");
  const size_t randoms = quick != nullptr && std::strcmp(quick, "1") == 0 ? 1000 : (size_t{1} << 20) + 3;
  colltest::Checker check(kProgram);
  for (int d = COLL_INT8; d <= COLL_FLOAT64; ++d) RunDtype(static_cast<coll_dtype_t>(d), randoms, &check);
  return check.finish();
}
