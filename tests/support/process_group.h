// Forks test processes, gives each its own environment, waits for them with a deadline and
// SIGKILLs whatever is left. Used from the gtest (parent) thread only; not thread-safe.
// Children never return into gtest: they run their function and end through EndChild
// (support/child_exit.h), so a gtest failure, a leak or an exit() inside the function fails
// the child even when it exits 0.
#pragma once

#include <sys/types.h>

#include <csignal>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/child_exit.h"

namespace colltest {

// One environment change; nullopt value means unsetenv.
using EnvVar = std::pair<std::string, std::optional<std::string>>;
using EnvList = std::vector<EnvVar>;

// Exit codes the harness itself uses in children.
constexpr int kExitUnsupported = 77;  // the library said COLL_ERR_UNSUPPORTED
constexpr int kExitException = 70;    // the child function threw

struct ProcessResult {
  std::string name;
  pid_t pid = -1;
  int exit_code = -1;        // valid when exited
  int term_signal = 0;       // nonzero when killed by a signal
  bool killed_at_deadline = false;
  bool reached_end = false;  // the child's function returned (not exit() inside it)

  bool exited() const { return term_signal == 0 && exit_code >= 0; }
  bool Succeeded() const { return exited() && exit_code == 0 && reached_end; }
  std::string Describe() const;
};

struct GroupResult {
  std::vector<ProcessResult> procs;
  bool timed_out = false;

  bool AllSucceeded() const;
  std::string Describe() const;  // one line per process, for gtest failure messages
};

class ProcessGroup {
 public:
  explicit ProcessGroup(std::chrono::milliseconds deadline = std::chrono::seconds(60));
  ~ProcessGroup();  // kills and reaps every child still running
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // Forks a child that applies env, runs fn and _exit()s with its value. Returns its index.
  int Spawn(const std::string& name, const EnvList& env, std::function<int()> fn);

  pid_t pid(int index) const { return procs_[index].pid; }
  void Kill(int index, int sig = SIGKILL);

  // Waits for every child until the deadline (counted from construction), then kills
  // the rest. Call once.
  GroupResult Wait();

 private:
  bool ReapOnce(ProcessResult& proc, bool block);
  void KillAll();

  std::chrono::steady_clock::time_point deadline_;
  std::vector<ProcessResult> procs_;
  std::vector<bool> running_;
  std::vector<int> done_fds_;  // read ends: one byte arrives when the child's function returned
};

// Polls pred every few milliseconds until it holds or timeout passes; returns pred().
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// CLOCK_MONOTONIC in nanoseconds: comparable across the forked ranks and the parent.
int64_t NowNs();

// A free TCP port on 127.0.0.1, picked at random below the ephemeral range (bound, then
// closed). The caller races others for it, but not the kernel's own port choices.
int PickFreePort();

// The name given to this child by ProcessGroup::Spawn ("rank 3"); "parent" in the parent.
const std::string& ProcessName();

}  // namespace colltest
