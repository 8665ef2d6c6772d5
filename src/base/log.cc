// COLL_DEBUG parsing and line output.
#include "base/log.h"

#include <strings.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace coll {
namespace {

LogLevel ParseLevel() {
  const char* v = std::getenv("COLL_DEBUG");
  if (v == nullptr || *v == '\0') return LogLevel::kWarn;
  if (strcasecmp(v, "NONE") == 0) return LogLevel::kNone;
  if (strcasecmp(v, "INFO") == 0) return LogLevel::kInfo;
  if (strcasecmp(v, "TRACE") == 0) return LogLevel::kTrace;
  if (strcasecmp(v, "WARN") != 0)
    std::fprintf(stderr, "libcollective WARN COLL_DEBUG=%s is not one of NONE, WARN, INFO, TRACE; using WARN\n", v);
  return LogLevel::kWarn;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kTrace: return "TRACE";
    default: return "";
  }
}

}  // namespace

LogLevel CurrentLogLevel() {
  static const LogLevel level = ParseLevel();
  return level;
}

void LogLine(LogLevel level, int rank, const char* fmt, ...) {
  char host[64] = "?";
  gethostname(host, sizeof host - 1);
  std::string line = rank >= 0 ? "[" + std::string(host) + ":" + std::to_string(getpid()) + " rank " +
                                     std::to_string(rank) + "] "
                               : "[" + std::string(host) + ":" + std::to_string(getpid()) + "] ";
  line += "libcollective ";
  line += LevelName(level);
  line += " ";
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  line += buf;
  line += "\n";
  ssize_t ignored = write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace coll
