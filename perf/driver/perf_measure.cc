// One row of a *_perf table (see perf_measure.h). Timing: without -c, one MPI_Barrier and
// `iters` back-to-back calls; with -c, each iteration is restored, barriered, timed alone
// and verified, so the check never lands inside the clock. MPI is timed the same way.
#include "perf_measure.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "collective.h"
#include "perf_data.h"

namespace coll::perf {
namespace {

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<char, FreeDeleter>;

constexpr unsigned char kPoison = 0xA5;

Buffer Allocate(size_t bytes) {
  size_t rounded = (std::max<size_t>(bytes, 64) + 4095) / 4096 * 4096;
  char* memory = static_cast<char*>(std::aligned_alloc(4096, rounded));
  if (memory == nullptr) {
    std::fprintf(stderr, "perf: cannot allocate %zu bytes\n", bytes);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return Buffer(memory);
}

bool MpiTypeOf(coll_dtype_t type, MPI_Datatype* out) {
  switch (type) {
    case COLL_INT8: *out = MPI_INT8_T; return true;
    case COLL_UINT8: *out = MPI_UINT8_T; return true;
    case COLL_INT32: *out = MPI_INT32_T; return true;
    case COLL_UINT32: *out = MPI_UINT32_T; return true;
    case COLL_INT64: *out = MPI_INT64_T; return true;
    case COLL_UINT64: *out = MPI_UINT64_T; return true;
    case COLL_FLOAT32: *out = MPI_FLOAT; return true;
    case COLL_FLOAT64: *out = MPI_DOUBLE; return true;
    case COLL_FLOAT16: case COLL_BFLOAT16: return false;  // MPI has no such type
  }
  return false;
}

bool MpiOpOf(coll_op_t op, MPI_Op* out) {
  switch (op) {
    case COLL_SUM: *out = MPI_SUM; return true;
    case COLL_PROD: *out = MPI_PROD; return true;
    case COLL_MIN: *out = MPI_MIN; return true;
    case COLL_MAX: *out = MPI_MAX; return true;
    case COLL_AVG: return false;  // MPI has no average
  }
  return false;
}

double MaxOverRanks(double value) {
  double result = 0;
  MPI_Allreduce(&value, &result, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return result;
}

size_t SumOverRanks(size_t value) {
  unsigned long long local = value, result = 0;
  MPI_Allreduce(&local, &result, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  return static_cast<size_t>(result);
}

double NowUs() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration<double, std::micro>(now).count();
}

struct Variant {
  CallArgs args;
  char* input_at = nullptr;  // the input is copied here before a run; nullptr: it stays in send
  const char* result_at = nullptr;
};

class RowMeasurer {
 public:
  RowMeasurer(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op, int root);
  PerfRow measure();

 private:
  Variant makeVariant(bool in_place, bool mpi);
  void prepare(const Variant& v);
  void call(const Variant& v, bool mpi);
  double timeVariant(const Variant& v, bool mpi, size_t* wrong);
  void measureHalf(bool in_place, VariantResult* result, std::string* algorithm);
  void recordOpInfo(std::string* algorithm);

  const MeasureSetup& setup_;
  const PerfCollective& collective_;
  coll_dtype_t type_;
  coll_op_t op_;
  int root_;
  size_t element_size_;
  Layout layout_;
  ValueContext context_;
  size_t send_bytes_, recv_bytes_;
  Buffer send_, recv_, expected_;
  bool has_mpi_ = false;
  MPI_Datatype mpi_type_ = MPI_DATATYPE_NULL;
  MPI_Op mpi_op_ = MPI_OP_NULL;
  PerfRow row_;
};

RowMeasurer::RowMeasurer(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op,
                         int root)
    : setup_(setup), collective_(*setup.collective), type_(type), op_(op), root_(root) {
  element_size_ = ElementSize(type);
  int call_root = root < 0 ? 0 : root;
  layout_ = collective_.layout(bytes / element_size_, setup.nranks, setup.rank, call_root);
  context_ = ValueContext{op, setup.rank, setup.nranks, call_root, layout_.param_count};
  send_bytes_ = layout_.send_count * element_size_;
  recv_bytes_ = std::max(layout_.send_count, layout_.recv_count) * element_size_;
  send_ = Allocate(send_bytes_);
  recv_ = Allocate(recv_bytes_);
  for (size_t i = 0; i < layout_.send_count; ++i)
    StoreElement(type, send_.get(), i, collective_.input(context_, i));
  if (setup.options->check) {
    expected_ = Allocate(layout_.result_count * element_size_);
    for (size_t i = 0; i < layout_.result_count; ++i)
      StoreElement(type, expected_.get(), i, collective_.expected(context_, i));
  }
  has_mpi_ = setup.options->compare_mpi && collective_.run_mpi != nullptr &&
            layout_.recv_count <= static_cast<size_t>(INT_MAX) && MpiTypeOf(type, &mpi_type_) &&
            (!collective_.uses_op || MpiOpOf(op, &mpi_op_));
  if (collective_.is_barrier) has_mpi_ = setup.options->compare_mpi;
}

Variant RowMeasurer::makeVariant(bool in_place, bool mpi) {
  Variant v;
  v.args = CallArgs{send_.get(), recv_.get(), layout_.param_count, type_, op_, context_.root,
                    in_place};
  v.result_at = recv_.get();
  if (in_place) {
    v.input_at = recv_.get() + layout_.send_in_place * element_size_;
    v.args.send = v.input_at;
    v.args.recv = recv_.get() + layout_.recv_in_place * element_size_;
    v.result_at = static_cast<const char*>(v.args.recv);
  } else if (mpi && collective_.mpi_input_in_receive) {
    v.input_at = recv_.get();
  }
  return v;
}

void RowMeasurer::prepare(const Variant& v) {
  if (setup_.options->check) std::memset(recv_.get(), kPoison, recv_bytes_);
  if (v.input_at != nullptr && send_bytes_ > 0) std::memcpy(v.input_at, send_.get(), send_bytes_);
}

void RowMeasurer::call(const Variant& v, bool mpi) {
  if (mpi) {
    if (collective_.run_mpi(v.args, mpi_type_, mpi_op_, MPI_COMM_WORLD) == MPI_SUCCESS) return;
    std::fprintf(stderr, "rank %d: MPI %s failed\n", setup_.rank, collective_.name);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  coll_status_t status = collective_.run_ours(v.args, setup_.comm);
  if (status == COLL_SUCCESS) return;
  std::fprintf(stderr, "rank %d: coll %s failed: %s: %s\n", setup_.rank, collective_.name,
               coll_status_string(status), coll_comm_last_error(setup_.comm));
  MPI_Abort(MPI_COMM_WORLD, 1);
}

double RowMeasurer::timeVariant(const Variant& v, bool mpi, size_t* wrong) {
  const PerfOptions& options = *setup_.options;
  prepare(v);
  for (int i = 0; i < options.warmup; ++i) {
    if (options.check) prepare(v);
    call(v, mpi);
  }
  if (!options.check) {
    MPI_Barrier(MPI_COMM_WORLD);
    double start = NowUs();
    for (int i = 0; i < options.iters; ++i) call(v, mpi);
    return (NowUs() - start) / options.iters;
  }
  double total = 0;
  for (int i = 0; i < options.iters; ++i) {
    prepare(v);
    MPI_Barrier(MPI_COMM_WORLD);
    double start = NowUs();
    call(v, mpi);
    total += NowUs() - start;
    if (!mpi && layout_.result_count > 0)
      *wrong += CountWrong(type_, v.result_at, expected_.get(), layout_.result_count);
  }
  return total / options.iters;
}

void RowMeasurer::recordOpInfo(std::string* algorithm) {
  coll_op_info_t info = COLL_OP_INFO_INIT;
  if (coll_comm_last_op_info(setup_.comm, &info) != COLL_SUCCESS) {
    *algorithm = "?";
    return;
  }
  *algorithm = info.algorithm != nullptr ? info.algorithm : "?";
  row_.transport = info.transport != nullptr ? info.transport : "?";
  row_.chunk_bytes = info.chunk_bytes;
}

void RowMeasurer::measureHalf(bool in_place, VariantResult* result, std::string* algorithm) {
  size_t wrong = 0;
  double local_us = timeVariant(makeVariant(in_place, false), false, &wrong);
  recordOpInfo(algorithm);
  result->time_us = MaxOverRanks(local_us);
  result->wrong = SumOverRanks(wrong);
  double factor = collective_.bus_factor(setup_.nranks);
  result->alg_bw = result->time_us > 0 ? static_cast<double>(row_.bytes) / 1e3 / result->time_us : 0;
  result->bus_bw = result->alg_bw * factor;
  result->has_mpi = has_mpi_;
  if (!has_mpi_) return;
  result->mpi_time_us = MaxOverRanks(timeVariant(makeVariant(in_place, true), true, &wrong));
  double mpi_alg_bw = result->mpi_time_us > 0 ? static_cast<double>(row_.bytes) / 1e3 / result->mpi_time_us : 0;
  result->mpi_bus_bw = mpi_alg_bw * factor;
}

PerfRow RowMeasurer::measure() {
  row_.bytes = std::max(layout_.send_count, layout_.recv_count) * element_size_;
  row_.count = layout_.param_count;
  row_.type = type_;
  row_.op = op_;
  row_.root = root_;
  std::string out_of_place_algorithm, in_place_algorithm;
  measureHalf(false, &row_.out_of_place, &out_of_place_algorithm);
  measureHalf(true, &row_.in_place, &in_place_algorithm);
  row_.algorithm = out_of_place_algorithm;
  if (in_place_algorithm != out_of_place_algorithm) row_.algorithm += "|" + in_place_algorithm;
  return row_;
}

}  // namespace

PerfRow MeasureRow(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op,
                   int root) {
  RowMeasurer measurer(setup, bytes, type, op, root);
  return measurer.measure();
}

}  // namespace coll::perf
