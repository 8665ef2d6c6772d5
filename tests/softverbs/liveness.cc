// Process liveness via /proc (see liveness.h).
// Thread-safety: the PeerAlive cache is guarded by a mutex; the rest is stateless.
#include "liveness.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "config.h"

namespace softverbs {

uint64_t ProcessStartTime(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", int(pid));
  FILE* file = fopen(path, "re");
  if (file == nullptr) return 0;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof(buf) - 1, file);
  fclose(file);
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');  // the command name may contain spaces and parentheses
  if (p == nullptr || p[1] == '\0' || p[2] == '\0') return 0;
  char state = p[2];
  if (state == 'Z' || state == 'X' || state == 'x') return 0;
  // After ") " come fields 3.. ; the start time is field 22, i.e. 19 more separators.
  p += 2;
  for (int field = 3; field < 22 && p != nullptr; ++field) {
    p = strchr(p, ' ');
    if (p != nullptr) ++p;
  }
  if (p == nullptr) return 0;
  return strtoull(p, nullptr, 10);
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  uint64_t now = ProcessStartTime(pid);
  return now != 0 && now == start_time;
}

namespace {

struct Seen {
  uint64_t start_time;
  uint64_t checked_ns;
};

struct Cache {
  std::mutex mu;
  std::unordered_map<pid_t, Seen> seen;
  Cache* parents = nullptr;  // the caches this one replaced in a fork child, kept reachable
};

Cache* g_cache = new Cache();

// The child of a fork gets a fresh cache: a parent thread may have held the old mutex. The
// old one is never touched again but stays linked, so LeakSanitizer does not report it.
void ResetCacheInChild() {
  Cache* fresh = new Cache();
  fresh->parents = g_cache;
  g_cache = fresh;
}
const int g_atfork = pthread_atfork(nullptr, nullptr, ResetCacheInChild);

}  // namespace

bool PeerAlive(pid_t pid, uint64_t start_time, uint64_t max_age_ns) {
  (void)g_atfork;
  Cache* cache = g_cache;
  uint64_t now = NowNs();
  {
    std::lock_guard<std::mutex> lock(cache->mu);
    auto it = cache->seen.find(pid);
    if (it != cache->seen.end() && it->second.start_time == start_time &&
        now - it->second.checked_ns < max_age_ns) {
      return true;
    }
  }
  if (!ProcessAlive(pid, start_time)) return false;
  std::lock_guard<std::mutex> lock(cache->mu);
  cache->seen[pid] = Seen{start_time, now};
  return true;
}

}  // namespace softverbs
