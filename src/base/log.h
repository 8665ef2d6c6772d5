// Logging to stderr with a rank prefix, filtered by COLL_DEBUG (WARN default, INFO, TRACE).
// Thread-safe: each line is written with one write(2).
#pragma once

namespace coll {

enum class LogLevel { kNone = 0, kWarn = 1, kInfo = 2, kTrace = 3 };

LogLevel CurrentLogLevel();  // parsed once from COLL_DEBUG
inline bool LogEnabled(LogLevel level) { return level <= CurrentLogLevel(); }

// rank < 0 prints no rank. Appends the newline.
void LogLine(LogLevel level, int rank, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace coll

#define COLL_LOG(level, rank, ...)                                              \
  do {                                                                          \
    if (::coll::LogEnabled(::coll::LogLevel::level)) ::coll::LogLine(::coll::LogLevel::level, rank, __VA_ARGS__); \
  } while (0)
#define COLL_WARN(rank, ...) COLL_LOG(kWarn, rank, __VA_ARGS__)
#define COLL_INFO(rank, ...) COLL_LOG(kInfo, rank, __VA_ARGS__)
#define COLL_TRACE(rank, ...) COLL_LOG(kTrace, rank, __VA_ARGS__)
