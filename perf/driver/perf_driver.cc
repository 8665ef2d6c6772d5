// RunPerf, the main() shared by every *_perf binary: MPI start-up, libcollective bootstrap
// through coll_comm_init_mpi (MPI carries only the unique id, plus our timings and counts),
// the loops over types, ops, roots and sizes, and the report on rank 0.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "collective_mpi.h"
#include "perf_collective.h"
#include "perf_measure.h"
#include "perf_options.h"
#include "perf_report.h"

namespace coll::perf {
namespace {

constexpr int kHostNameBytes = 64;

// COLL_TEST_HOST_ID (set per emulated host by scripts/emulated-hosts), else the hostname.
std::string HostId() {
  const char* id = std::getenv("COLL_TEST_HOST_ID");
  if (id != nullptr && *id != '\0') return id;
  char name[kHostNameBytes] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// Prints one line per rank on rank 0; returns the number of distinct hosts.
int PrintRanks(int rank, int nranks) {
  char mine[kHostNameBytes] = {};
  std::snprintf(mine, sizeof mine, "%s", HostId().c_str());
  long pid = static_cast<long>(getpid());
  std::vector<char> names(static_cast<size_t>(kHostNameBytes) * nranks);
  std::vector<long> pids(static_cast<size_t>(nranks));
  MPI_Gather(mine, kHostNameBytes, MPI_CHAR, names.data(), kHostNameBytes, MPI_CHAR, 0,
             MPI_COMM_WORLD);
  MPI_Gather(&pid, 1, MPI_LONG, pids.data(), 1, MPI_LONG, 0, MPI_COMM_WORLD);
  std::set<std::string> hosts;
  for (int r = 0; r < nranks; ++r) {
    const char* name = &names[static_cast<size_t>(r) * kHostNameBytes];
    hosts.insert(name);
    if (rank == 0) std::printf("#  Rank %3d Pid %7ld on %s\n", r, pids[r], name);
  }
  int count = static_cast<int>(hosts.size());
  MPI_Bcast(&count, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return count;
}

std::string JoinArgs(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i > 0 ? " " : "") + std::string(argv[i]);
  return command;
}

void PrintBanner(const ReportInfo& info, const PerfOptions& o) {
  std::printf("# libcollective %s_perf: %d ranks on %d hosts\n", info.collective, info.nranks,
              info.hosts);
  std::printf("# min_bytes %zu max_bytes %zu step: %zu%s iters %d warmup %d check %d compare %s\n",
              o.min_bytes, o.max_bytes, o.step_factor > 1 ? static_cast<size_t>(o.step_factor) : o.step_bytes,
              o.step_factor > 1 ? "(factor)" : "(bytes)", o.iters, o.warmup, o.check ? 1 : 0,
              o.compare_mpi ? "mpi" : "none");
}

// Returns false (after rank 0 printed why) when the options do not fit this job.
bool Validate(const PerfOptions& o, const PerfCollective& c, int rank, int nranks) {
  if (!c.uses_root || o.root < nranks) return true;
  if (rank == 0) std::fprintf(stderr, "-r %d: there are only %d ranks\n", o.root, nranks);
  return false;
}

std::vector<PerfRow> RunAll(const MeasureSetup& setup, const ReportInfo& info) {
  const PerfOptions& o = *setup.options;
  const PerfCollective& c = *setup.collective;
  std::vector<size_t> sizes = c.is_barrier ? std::vector<size_t>{0} : SizesToScan(o);
  std::vector<coll_dtype_t> types = c.is_barrier ? std::vector<coll_dtype_t>{COLL_UINT8} : o.types;
  std::vector<coll_op_t> ops = c.uses_op ? o.ops : std::vector<coll_op_t>{COLL_SUM};
  std::vector<int> roots{-1};
  if (c.uses_root) roots = o.root >= 0 ? std::vector<int>{o.root} : std::vector<int>{};
  for (int r = 0; c.uses_root && o.root < 0 && r < setup.nranks; ++r) roots.push_back(r);
  std::vector<PerfRow> rows;
  for (coll_dtype_t type : types) {
    for (coll_op_t op : ops) {
      for (int root : roots) {
        for (size_t bytes : sizes) {
          rows.push_back(MeasureRow(setup, bytes, type, op, root));
          if (setup.rank == 0) PrintRow(stdout, info, rows.back());
        }
      }
    }
  }
  return rows;
}

int Finish(const ReportInfo& info, const PerfOptions& o, const std::vector<PerfRow>& rows,
           int rank) {
  size_t wrong = 0;
  for (const PerfRow& row : rows) wrong += row.out_of_place.wrong + row.in_place.wrong;
  int status = wrong == 0 ? 0 : 1;
  if (rank != 0) return status;
  PrintFooter(stdout, info, rows);
  std::string error;
  if (!o.json_path.empty() && !WriteJson(o.json_path, info, rows, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    status = 1;
  }
  return status;
}

}  // namespace

int RunPerf(int argc, char** argv, const PerfCollective& collective) {
  std::string command = JoinArgs(argc, argv);
  MPI_Init(&argc, &argv);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  PerfOptions options;
  std::string error;
  if (!ParseOptions(argc, argv, &options, &error) ||
      !Validate(options, collective, rank, nranks)) {
    if (rank == 0 && !error.empty()) std::fprintf(stderr, "%s\n", error.c_str());
    if (rank == 0) std::fputs(UsageText(argv[0]).c_str(), error.empty() ? stdout : stderr);
    MPI_Finalize();
    return error.empty() ? 0 : 2;
  }
  coll_comm_t comm = nullptr;
  coll_status_t status = coll_comm_init_mpi(&comm, MPI_COMM_WORLD);
  if (status != COLL_SUCCESS) {
    std::fprintf(stderr, "rank %d: coll_comm_init_mpi failed: %s: %s\n", rank,
                 coll_status_string(status), coll_comm_last_error(nullptr));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  ReportInfo info{collective.name, collective.uses_op, collective.is_barrier, options.check,
                  options.compare_mpi, nranks, 1, command};
  info.hosts = PrintRanks(rank, nranks);
  if (rank == 0) PrintBanner(info, options);
  if (rank == 0) PrintTableHeader(stdout, info);
  MeasureSetup setup{&collective, &options, comm, rank, nranks};
  std::vector<PerfRow> rows = RunAll(setup, info);
  int result = Finish(info, options, rows, rank);
  MPI_Bcast(&result, 1, MPI_INT, 0, MPI_COMM_WORLD);
  coll_comm_destroy(comm);
  MPI_Finalize();
  return result;
}

}  // namespace coll::perf
