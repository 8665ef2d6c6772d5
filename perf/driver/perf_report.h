// The nccl-tests-style table on rank 0's stdout and the --json file: one PerfRow per size
// (per type, op and root). Numbers are already reduced over ranks when they get here.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "collective.h"

namespace coll::perf {

struct VariantResult {  // out-of-place or in-place
  double time_us = 0;
  double alg_bw = 0;  // GB/s, GB = 1e9
  double bus_bw = 0;
  size_t wrong = 0;
  bool has_mpi = false;  // false: no comparison, or no MPI equivalent (fp16, bf16, avg)
  double mpi_time_us = 0;
  double mpi_bus_bw = 0;
};

struct PerfRow {
  size_t bytes = 0;
  size_t count = 0;
  coll_dtype_t type = COLL_FLOAT32;
  coll_op_t op = COLL_SUM;
  int root = -1;
  VariantResult out_of_place;
  VariantResult in_place;
  std::string algorithm;  // from coll_comm_last_op_info; "a|b" when in place differed
  std::string transport;
  size_t chunk_bytes = 0;
};

struct ReportInfo {
  const char* collective = "";  // "all_reduce"
  bool uses_op = false;
  bool is_barrier = false;
  bool check = true;
  bool compare_mpi = false;
  int nranks = 1;
  int hosts = 1;
  std::string command;
};

void PrintTableHeader(FILE* out, const ReportInfo& info);
void PrintRow(FILE* out, const ReportInfo& info, const PerfRow& row);
void PrintFooter(FILE* out, const ReportInfo& info, const std::vector<PerfRow>& rows);

// Writes {"tool", "nranks", "hosts", "command", "compare", "rows": [...]}; false with
// *error set when the file cannot be written.
bool WriteJson(const std::string& path, const ReportInfo& info, const std::vector<PerfRow>& rows,
               std::string* error);

}  // namespace coll::perf
