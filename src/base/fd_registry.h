// The descriptors libcollective owns in this process, so that a fork()ed child can drop
// them (see Fd). Thread-safe; the fork handlers hold the registry's lock across fork().
#pragma once

namespace coll {

void TrackFd(int fd);    // fd < 0 is ignored
void UntrackFd(int fd);  // fd < 0 is ignored

// How many descriptors are tracked (tests).
int TrackedFdCount();

}  // namespace coll
