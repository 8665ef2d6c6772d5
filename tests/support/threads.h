// What the kernel says about this process's threads (/proc/self/task), for tests that check
// where the library's own threads run. Thread-safe (reads /proc only).
#pragma once

#include <string>

namespace colltest {

// The Cpus_allowed_list ("0-3,8") of this process's thread named `name` (its comm, e.g.
// "coll-progress"); "" when there is none.
std::string ThreadCpus(const std::string& name);

}  // namespace colltest
