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
  char* inputAt = nullptr;  // the input is copied here before a run; nullptr: it stays in send
  const char* resultAt = nullptr;
};

class RowMeasurer {
 public:
  RowMeasurer(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op, int root);
  PerfRow Measure();

 private:
  Variant MakeVariant(bool inPlace, bool mpi);
  void Prepare(const Variant& v);
  void Call(const Variant& v, bool mpi);
  double TimeVariant(const Variant& v, bool mpi, size_t* wrong);
  void MeasureHalf(bool inPlace, VariantResult* result, std::string* algorithm);
  void RecordOpInfo(std::string* algorithm);

  const MeasureSetup& setup_;
  const PerfCollective& collective_;
  coll_dtype_t type_;
  coll_op_t op_;
  int root_;
  size_t elementSize_;
  Layout layout_;
  ValueContext context_;
  size_t sendBytes_, recvBytes_;
  Buffer send_, recv_, expected_;
  bool hasMpi_ = false;
  MPI_Datatype mpiType_ = MPI_DATATYPE_NULL;
  MPI_Op mpiOp_ = MPI_OP_NULL;
  PerfRow row_;
};

RowMeasurer::RowMeasurer(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op,
                         int root)
    : setup_(setup), collective_(*setup.collective), type_(type), op_(op), root_(root) {
  elementSize_ = ElementSize(type);
  int callRoot = root < 0 ? 0 : root;
  layout_ = collective_.layout(bytes / elementSize_, setup.nranks, setup.rank, callRoot);
  context_ = ValueContext{op, setup.rank, setup.nranks, callRoot, layout_.paramCount};
  sendBytes_ = layout_.sendCount * elementSize_;
  recvBytes_ = std::max(layout_.sendCount, layout_.recvCount) * elementSize_;
  send_ = Allocate(sendBytes_);
  recv_ = Allocate(recvBytes_);
  for (size_t i = 0; i < layout_.sendCount; ++i)
    StoreElement(type, send_.get(), i, collective_.input(context_, i));
  if (setup.options->check) {
    expected_ = Allocate(layout_.resultCount * elementSize_);
    for (size_t i = 0; i < layout_.resultCount; ++i)
      StoreElement(type, expected_.get(), i, collective_.expected(context_, i));
  }
  hasMpi_ = setup.options->compareMpi && collective_.runMpi != nullptr &&
            layout_.recvCount <= static_cast<size_t>(INT_MAX) && MpiTypeOf(type, &mpiType_) &&
            (!collective_.usesOp || MpiOpOf(op, &mpiOp_));
  if (collective_.isBarrier) hasMpi_ = setup.options->compareMpi;
}

Variant RowMeasurer::MakeVariant(bool inPlace, bool mpi) {
  Variant v;
  v.args = CallArgs{send_.get(), recv_.get(), layout_.paramCount, type_, op_, context_.root,
                    inPlace};
  v.resultAt = recv_.get();
  if (inPlace) {
    v.inputAt = recv_.get() + layout_.sendInPlace * elementSize_;
    v.args.send = v.inputAt;
    v.args.recv = recv_.get() + layout_.recvInPlace * elementSize_;
    v.resultAt = static_cast<const char*>(v.args.recv);
  } else if (mpi && collective_.mpiInputInReceive) {
    v.inputAt = recv_.get();
  }
  return v;
}

void RowMeasurer::Prepare(const Variant& v) {
  if (setup_.options->check) std::memset(recv_.get(), kPoison, recvBytes_);
  if (v.inputAt != nullptr && sendBytes_ > 0) std::memcpy(v.inputAt, send_.get(), sendBytes_);
}

void RowMeasurer::Call(const Variant& v, bool mpi) {
  if (mpi) {
    if (collective_.runMpi(v.args, mpiType_, mpiOp_, MPI_COMM_WORLD) == MPI_SUCCESS) return;
    std::fprintf(stderr, "rank %d: MPI %s failed\n", setup_.rank, collective_.name);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  coll_status_t status = collective_.runOurs(v.args, setup_.comm);
  if (status == COLL_SUCCESS) return;
  std::fprintf(stderr, "rank %d: coll %s failed: %s: %s\n", setup_.rank, collective_.name,
               coll_status_string(status), coll_comm_last_error(setup_.comm));
  MPI_Abort(MPI_COMM_WORLD, 1);
}

double RowMeasurer::TimeVariant(const Variant& v, bool mpi, size_t* wrong) {
  const PerfOptions& options = *setup_.options;
  Prepare(v);
  for (int i = 0; i < options.warmup; ++i) {
    if (options.check) Prepare(v);
    Call(v, mpi);
  }
  if (!options.check) {
    MPI_Barrier(MPI_COMM_WORLD);
    double start = NowUs();
    for (int i = 0; i < options.iters; ++i) Call(v, mpi);
    return (NowUs() - start) / options.iters;
  }
  double total = 0;
  for (int i = 0; i < options.iters; ++i) {
    Prepare(v);
    MPI_Barrier(MPI_COMM_WORLD);
    double start = NowUs();
    Call(v, mpi);
    total += NowUs() - start;
    if (!mpi && layout_.resultCount > 0)
      *wrong += CountWrong(type_, v.resultAt, expected_.get(), layout_.resultCount);
  }
  return total / options.iters;
}

void RowMeasurer::RecordOpInfo(std::string* algorithm) {
  coll_op_info_t info = COLL_OP_INFO_INIT;
  if (coll_comm_last_op_info(setup_.comm, &info) != COLL_SUCCESS) {
    *algorithm = "?";
    return;
  }
  *algorithm = info.algorithm != nullptr ? info.algorithm : "?";
  row_.transport = info.transport != nullptr ? info.transport : "?";
  row_.chunkBytes = info.chunk_bytes;
}

void RowMeasurer::MeasureHalf(bool inPlace, VariantResult* result, std::string* algorithm) {
  size_t wrong = 0;
  double localUs = TimeVariant(MakeVariant(inPlace, false), false, &wrong);
  RecordOpInfo(algorithm);
  result->timeUs = MaxOverRanks(localUs);
  result->wrong = SumOverRanks(wrong);
  double factor = collective_.busFactor(setup_.nranks);
  result->algBw = result->timeUs > 0 ? static_cast<double>(row_.bytes) / 1e3 / result->timeUs : 0;
  result->busBw = result->algBw * factor;
  result->hasMpi = hasMpi_;
  if (!hasMpi_) return;
  result->mpiTimeUs = MaxOverRanks(TimeVariant(MakeVariant(inPlace, true), true, &wrong));
  double mpiAlgBw = result->mpiTimeUs > 0 ? static_cast<double>(row_.bytes) / 1e3 / result->mpiTimeUs : 0;
  result->mpiBusBw = mpiAlgBw * factor;
}

PerfRow RowMeasurer::Measure() {
  row_.bytes = std::max(layout_.sendCount, layout_.recvCount) * elementSize_;
  row_.count = layout_.paramCount;
  row_.type = type_;
  row_.op = op_;
  row_.root = root_;
  std::string outOfPlaceAlgorithm, inPlaceAlgorithm;
  MeasureHalf(false, &row_.outOfPlace, &outOfPlaceAlgorithm);
  MeasureHalf(true, &row_.inPlace, &inPlaceAlgorithm);
  row_.algorithm = outOfPlaceAlgorithm;
  if (inPlaceAlgorithm != outOfPlaceAlgorithm) row_.algorithm += "|" + inPlaceAlgorithm;
  return row_;
}

}  // namespace

PerfRow MeasureRow(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op,
                   int root) {
  RowMeasurer measurer(setup, bytes, type, op, root);
  return measurer.Measure();
}

}  // namespace coll::perf
