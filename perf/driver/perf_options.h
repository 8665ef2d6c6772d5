// Command-line options of the *_perf binaries: nccl-tests' flags (-b -e -i -f -n -w -c -d -o
// -r) plus --compare mpi and --json FILE. Every rank parses the same argv; plain data after.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "collective.h"

namespace coll::perf {

struct PerfOptions {
  size_t min_bytes = size_t{32} << 20;
  size_t max_bytes = size_t{32} << 20;
  size_t step_bytes = size_t{1} << 20;
  double step_factor = 0;  // > 1: multiply sizes by it instead of adding step_bytes
  int iters = 20;
  int warmup = 5;
  bool check = true;  // verify every timed iteration's result
  std::vector<coll_dtype_t> types{COLL_FLOAT32};
  std::vector<coll_op_t> ops{COLL_SUM};
  int root = 0;  // -1: every rank in turn (-r all)
  bool compare_mpi = false;
  std::string json_path;
};

// Parses argv into *options. On a bad or unknown flag returns false and sets *error to one
// sentence; on -h returns false with an empty *error.
bool ParseOptions(int argc, char** argv, PerfOptions* options, std::string* error);

// The usage text, one flag per line.
std::string UsageText(const char* program);

// The byte sizes to scan, in order: min_bytes, then by step_factor or step_bytes, up to max_bytes.
std::vector<size_t> SizesToScan(const PerfOptions& options);

// nccl-tests' names: "float", "half", "bfloat16", "int8", ...
const char* TypeName(coll_dtype_t type);
// "sum", "prod", "min", "max", "avg".
const char* OpName(coll_op_t op);

}  // namespace coll::perf
