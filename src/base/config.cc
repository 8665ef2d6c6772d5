// COLL_* environment parsing with range checks and clear errors.
#include "base/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace coll {

bool ParseCpuList(const char* text, std::vector<int>* out) {
  std::vector<int> pus;
  const char* p = text;
  for (;;) {
    char* end = nullptr;
    errno = 0;
    long first = std::strtol(p, &end, 10);
    if (end == p || errno != 0 || first < 0 || first > 65535 || *p == '-' || *p == '+' || *p == ' ') return false;
    long last = first;
    p = end;
    if (*p == '-') {
      ++p;
      last = std::strtol(p, &end, 10);
      if (end == p || errno != 0 || last < first || last > 65535 || *p == '-' || *p == '+' || *p == ' ') return false;
      p = end;
    }
    for (long pu = first; pu <= last; ++pu) pus.push_back(static_cast<int>(pu));
    if (*p == '\0') break;
    if (*p++ != ',') return false;
  }
  std::sort(pus.begin(), pus.end());
  pus.erase(std::unique(pus.begin(), pus.end()), pus.end());
  *out = std::move(pus);
  return true;
}

bool ParseBytes(const char* text, size_t* out) {
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || text[0] == '-') return false;
  unsigned long long mult = 1;
  if (*end == 'K' || *end == 'k') mult = 1ull << 10, ++end;
  else if (*end == 'M' || *end == 'm') mult = 1ull << 20, ++end;
  else if (*end == 'G' || *end == 'g') mult = 1ull << 30, ++end;
  if (*end != '\0') return false;
  if (v > ~0ull / mult) return false;
  *out = static_cast<size_t>(v * mult);
  return true;
}

Status EnvBytes(const char* name, size_t min, size_t max, size_t* out) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return Status::OK();
  size_t parsed = 0;
  if (!ParseBytes(v, &parsed) || parsed < min || parsed > max)
    return InvalidArgument("%s=%s is not a byte size between %zu and %zu (examples: 65536, 512K, 4M)", name, v,
                           min, max);
  *out = parsed;
  return Status::OK();
}

Status EnvInt(const char* name, int64_t min, int64_t max, int64_t* out) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return Status::OK();
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || parsed < min || parsed > max)
    return InvalidArgument("%s=%s is not an integer between %lld and %lld", name, v, static_cast<long long>(min),
                           static_cast<long long>(max));
  *out = parsed;
  return Status::OK();
}

Status Config::FromEnv(Config* out) {
  Config c;
  if (const char* v = std::getenv("COLL_TRANSPORT"); v != nullptr && *v != '\0') {
    c.transport = v;
    for (char& ch : c.transport) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (const char* v = std::getenv("COLL_SOCKET_IFNAME")) c.socket_ifname = v;
  COLL_RETURN_IF_ERROR(EnvBytes("COLL_CHUNK_BYTES", 4096, size_t{1} << 30, &c.chunk_bytes));
  if (c.chunk_bytes % 64 != 0)
    return InvalidArgument("COLL_CHUNK_BYTES=%zu must be a multiple of 64", c.chunk_bytes);
  int64_t nslots = c.nslots;
  COLL_RETURN_IF_ERROR(EnvInt("COLL_NSLOTS", 2, 64, &nslots));
  c.nslots = static_cast<int>(nslots);
  COLL_RETURN_IF_ERROR(EnvInt("COLL_TIMEOUT_MS", 1, int64_t{1} << 40, &c.timeout_ms));
  COLL_RETURN_IF_ERROR(EnvBytes("COLL_SMALL_BYTES", 0, size_t{1} << 30, &c.small_bytes));
  c.small_bytes_set = std::getenv("COLL_SMALL_BYTES") != nullptr && *std::getenv("COLL_SMALL_BYTES") != '\0';
  COLL_RETURN_IF_ERROR(EnvInt("COLL_SPIN_US", 0, 10000000, &c.spin_us));
  if (const char* v = std::getenv("COLL_JOB_TOKEN")) c.job_token_hex = v;
  const char* cpus = std::getenv("COLL_PROGRESS_CPUS");
  if (cpus != nullptr && *cpus != '\0' && !ParseCpuList(cpus, &c.progress_cpus))
    return InvalidArgument("COLL_PROGRESS_CPUS=%s is not a CPU list (examples: 3, 0-3, 0,2,4-7)", cpus);
  *out = c;
  return Status::OK();
}

std::string Config::describe() const {
  return StrFormat("COLL_TRANSPORT=%s COLL_SOCKET_IFNAME=%s COLL_CHUNK_BYTES=%zu COLL_NSLOTS=%d COLL_TIMEOUT_MS=%lld "
                   "COLL_SMALL_BYTES=%s COLL_SPIN_US=%lld",
                   transport.c_str(), socket_ifname.empty() ? "(auto)" : socket_ifname.c_str(),
                   chunk_bytes, nslots, static_cast<long long>(timeout_ms),
                   small_bytes_set ? std::to_string(small_bytes).c_str() : "(per ring)",
                   static_cast<long long>(spin_us));
}

}  // namespace coll
