// soak: many mixed collectives of random sizes on one communicator, every result checked,
// with this process's resident memory and open descriptors sampled as it goes: both must
// stay flat once warm. One rank per process, bootstrapped by coll_comm_init_env (COLL_RANK,
// COLL_SIZE, COLL_ROOT_ADDR or mpirun's variables); perf/soak/run starts 4 ranks per transport.
//   soak [iterations (10000)] [seed (1)]
// Prints one line per 1000 collectives on rank 0 and a summary; exits 1 on a wrong result,
// an error, or growth past the bounds below after warm-up.
#include <dirent.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "collective.h"

namespace {

constexpr long kWarmup = 500;                      // collectives before the baseline sample
constexpr long kMaxRssGrowthKiB = 4096;            // after warm-up
constexpr size_t kMaxCount = (size_t{1} << 20) + 7; // int32 elements: 4 MiB

long RssKiB() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int OpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Value of element i on rank r for collective number k: small, so int32 sums are exact.
int32_t Value(long k, int r, size_t i) { return static_cast<int32_t>((k * 7 + r * 13 + static_cast<long>(i) * 3) % 1000); }

// Draws the same size on every rank (same seed, same sequence): mostly small, some large.
size_t DrawCount(std::mt19937_64& rng) {
  const unsigned kind = static_cast<unsigned>(rng() % 10);
  if (kind < 5) return rng() % 2048;            // latency path
  if (kind < 9) return rng() % 65536;           // mid
  return rng() % kMaxCount;                     // large: several chunks per ring step
}

struct Soak {
  coll_comm_t comm;
  int rank, n;
  std::vector<int32_t> send, recv;

  bool Fail(long k, const char* what, coll_status_t st) {
    std::fprintf(stderr, "soak rank %d: collective %ld (%s): %s: %s\n", rank, k, what, coll_status_string(st),
                 coll_comm_last_error(comm));
    return false;
  }

  bool Wrong(long k, const char* what, size_t i, long got, long want) {
    std::fprintf(stderr, "soak rank %d: collective %ld (%s): element %zu is %ld, expected %ld\n", rank, k, what, i,
                 got, want);
    return false;
  }

  bool Run(long k, unsigned kind, size_t count) {
    const int root = static_cast<int>(k % n);
    send.resize(count);
    recv.resize(count * static_cast<size_t>(n));
    for (size_t i = 0; i < count; ++i) send[i] = Value(k, rank, i);
    coll_status_t st;
    switch (kind) {
      case 0: {
        if ((st = coll_allreduce(send.data(), recv.data(), count, COLL_INT32, COLL_SUM, comm)) != COLL_SUCCESS)
          return Fail(k, "allreduce", st);
        for (size_t i = 0; i < count; ++i) {
          long want = 0;
          for (int r = 0; r < n; ++r) want += Value(k, r, i);
          if (recv[i] != want) return Wrong(k, "allreduce", i, recv[i], want);
        }
        return true;
      }
      case 1: {
        if ((st = coll_broadcast(send.data(), recv.data(), count, COLL_INT32, root, comm)) != COLL_SUCCESS)
          return Fail(k, "broadcast", st);
        for (size_t i = 0; i < count; ++i)
          if (recv[i] != Value(k, root, i)) return Wrong(k, "broadcast", i, recv[i], Value(k, root, i));
        return true;
      }
      case 2: {
        if ((st = coll_allgather(send.data(), recv.data(), count, COLL_INT32, comm)) != COLL_SUCCESS)
          return Fail(k, "allgather", st);
        for (int r = 0; r < n; ++r)
          for (size_t i = 0; i < count; ++i)
            if (recv[static_cast<size_t>(r) * count + i] != Value(k, r, i))
              return Wrong(k, "allgather", i, recv[static_cast<size_t>(r) * count + i], Value(k, r, i));
        return true;
      }
      case 3: {
        if ((st = coll_reduce(send.data(), recv.data(), count, COLL_INT32, COLL_MAX, root, comm)) != COLL_SUCCESS)
          return Fail(k, "reduce", st);
        if (rank != root) return true;
        for (size_t i = 0; i < count; ++i) {
          long want = 0;
          for (int r = 0; r < n; ++r) want = std::max<long>(want, Value(k, r, i));
          if (recv[i] != want) return Wrong(k, "reduce", i, recv[i], want);
        }
        return true;
      }
      case 4: {
        const size_t each = count / static_cast<size_t>(n);
        send.resize(each * static_cast<size_t>(n));
        for (size_t i = 0; i < send.size(); ++i) send[i] = Value(k, rank, i);
        if ((st = coll_reduce_scatter(send.data(), recv.data(), each, COLL_INT32, COLL_SUM, comm)) != COLL_SUCCESS)
          return Fail(k, "reduce_scatter", st);
        for (size_t i = 0; i < each; ++i) {
          long want = 0;
          for (int r = 0; r < n; ++r) want += Value(k, r, static_cast<size_t>(rank) * each + i);
          if (recv[i] != want) return Wrong(k, "reduce_scatter", i, recv[i], want);
        }
        return true;
      }
      default:
        if ((st = coll_barrier(comm)) != COLL_SUCCESS) return Fail(k, "barrier", st);
        return true;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 10000;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  Soak s{};
  coll_status_t st = coll_comm_init_env(&s.comm);
  if (st != COLL_SUCCESS) {
    std::fprintf(stderr, "soak: init: %s: %s\n", coll_status_string(st), coll_comm_last_error(nullptr));
    return 1;
  }
  coll_comm_rank(s.comm, &s.rank);
  coll_comm_size(s.comm, &s.n);
  // The largest buffers up front, every page touched: RSS then measures libcollective, not
  // this program's vectors growing to the largest size drawn so far.
  s.send.assign(kMaxCount, 1);
  s.recv.assign(kMaxCount * static_cast<size_t>(s.n), 1);
  std::mt19937_64 rng(seed);
  long base_rss = 0, max_rss = 0;
  int base_fds = 0, min_fds = 1 << 30, max_fds = 0;
  bool ok = true;
  for (long k = 0; k < iterations && ok; ++k) {
    const unsigned kind = static_cast<unsigned>(rng() % 6);
    ok = s.Run(k, kind, DrawCount(rng));
    if (k == kWarmup) {
      base_rss = RssKiB();
      base_fds = OpenFds();
    }
    if (k >= kWarmup && (k % 100 == 0 || k == iterations - 1)) {
      const long rss = RssKiB();
      const int fds = OpenFds();
      max_rss = std::max(max_rss, rss);
      min_fds = std::min(min_fds, fds);
      max_fds = std::max(max_fds, fds);
      if (s.rank == 0 && (k % 1000 == 0 || k == iterations - 1))
        std::printf("soak: %ld collectives, rank 0 RSS %ld KiB, %d fds\n", k + 1, rss, fds);
    }
  }
  const long end_rss = RssKiB();
  const int end_fds = OpenFds();
  const bool rss_flat = max_rss - base_rss <= kMaxRssGrowthKiB;
  const bool fds_flat = min_fds == base_fds && max_fds == base_fds;
  std::printf("soak rank %d: %s after %ld collectives; RSS %ld KiB after warm-up, max %ld, end %ld (growth %ld "
              "KiB, bound %ld); fds %d after warm-up, range %d..%d, end %d\n",
              s.rank, ok ? "all results right" : "FAILED", iterations, base_rss, max_rss, end_rss,
              max_rss - base_rss, kMaxRssGrowthKiB, base_fds, min_fds, max_fds, end_fds);
  st = coll_comm_destroy(s.comm);
  if (st != COLL_SUCCESS) ok = false;
  return ok && rss_flat && fds_flat ? 0 : 1;
}
