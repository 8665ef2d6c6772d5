// Detects whether a process that owns fabric objects is still alive, robust to pid reuse and to
// zombies (a dead child that has not been reaped is dead for the emulated fabric).
// Thread-safety: all functions are thread-safe; PeerAlive keeps a small mutex-guarded cache.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace softverbs {

// Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or 0 when the
// process does not exist or is a zombie.
uint64_t ProcessStartTime(pid_t pid);

// True when `pid` is running and is the process that started at `start_time`.
bool ProcessAlive(pid_t pid, uint64_t start_time);

// ProcessAlive with a cache: a positive answer is trusted for `max_age_ns`.
bool PeerAlive(pid_t pid, uint64_t start_time, uint64_t max_age_ns);

}  // namespace softverbs
