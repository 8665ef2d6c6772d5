// ProcessGroup: fork, per-child environment, deadline, SIGKILL and reaping.
// Children die with the parent (PR_SET_PDEATHSIG), so a crashed test leaves no ranks behind.
#include "support/process_group.h"

#include <time.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <sstream>
#include <thread>

namespace colltest {
namespace {

std::string& MutableProcessName() {
  static std::string name = "parent";
  return name;
}

void ApplyEnv(const EnvList& env) {
  for (const EnvVar& var : env) {
    if (var.second) {
      setenv(var.first.c_str(), var.second->c_str(), 1);
    } else {
      unsetenv(var.first.c_str());
    }
  }
}

[[noreturn]] void RunChild(const std::string& name, pid_t parent, const EnvList& env,
                           const std::function<int()>& fn, int done_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(kExitException);
  BeginChild();
  MutableProcessName() = name;
  ApplyEnv(env);
  int rc = kExitException;
  try {
    rc = fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[%s] uncaught exception: %s\n", name.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "[%s] uncaught exception\n", name.c_str());
  }
  EndChild(rc, done_fd);
}

}  // namespace

const std::string& ProcessName() { return MutableProcessName(); }

std::string ProcessResult::Describe() const {
  std::ostringstream out;
  out << name << " (pid " << pid << "): ";
  if (term_signal != 0) {
    out << "killed by signal " << term_signal << " (" << strsignal(term_signal) << ")";
  } else {
    out << "exit " << exit_code;
    if (exit_code == 0 && !reached_end) out << " without returning from its test function (exit() inside it?)";
    if (exit_code == kExitGtestFailure) out << " (a gtest assertion failed in it)";
    if (exit_code == kExitLeak) out << " (LeakSanitizer found leaks in it)";
    if (exit_code == kExitException) out << " (its test function threw)";
  }
  if (killed_at_deadline) out << " [killed at the harness deadline]";
  return out.str();
}

bool GroupResult::AllSucceeded() const {
  if (timed_out) return false;
  for (const ProcessResult& p : procs) {
    if (!p.Succeeded()) return false;
  }
  return true;
}

std::string GroupResult::Describe() const {
  std::ostringstream out;
  if (timed_out) out << "deadline passed; remaining processes were killed\n";
  for (const ProcessResult& p : procs) out << "  " << p.Describe() << "\n";
  return out.str();
}

ProcessGroup::ProcessGroup(std::chrono::milliseconds deadline)
    : deadline_(std::chrono::steady_clock::now() + deadline) {}

ProcessGroup::~ProcessGroup() {
  KillAll();
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (running_[i]) ReapOnce(procs_[i], true);
    close(done_fds_[i]);
  }
}

int ProcessGroup::Spawn(const std::string& name, const EnvList& env, std::function<int()> fn) {
  std::fflush(nullptr);
  int done[2];
  if (pipe2(done, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::perror("pipe2");
    std::abort();
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::abort();
  }
  if (pid == 0) {
    close(done[0]);
    RunChild(name, parent, env, fn, done[1]);
  }
  close(done[1]);
  done_fds_.push_back(done[0]);
  ProcessResult result;
  result.name = name;
  result.pid = pid;
  procs_.push_back(result);
  running_.push_back(true);
  return static_cast<int>(procs_.size()) - 1;
}

void ProcessGroup::Kill(int index, int sig) {
  if (running_[index]) kill(procs_[index].pid, sig);
}

bool ProcessGroup::ReapOnce(ProcessResult& proc, bool block) {
  int status = 0;
  pid_t got;
  do {
    got = waitpid(proc.pid, &status, block ? 0 : WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got != proc.pid) return false;
  if (WIFEXITED(status)) proc.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) proc.term_signal = WTERMSIG(status);
  char byte = 0;
  ssize_t n;
  do {
    n = read(done_fds_[&proc - procs_.data()], &byte, 1);
  } while (n < 0 && errno == EINTR);
  proc.reached_end = n == 1;
  return true;
}

void ProcessGroup::KillAll() {
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (running_[i]) kill(procs_[i].pid, SIGKILL);
  }
}

GroupResult ProcessGroup::Wait() {
  GroupResult result;
  size_t left = procs_.size();
  while (left > 0 && std::chrono::steady_clock::now() < deadline_) {
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (running_[i] && ReapOnce(procs_[i], false)) {
        running_[i] = false;
        --left;
      }
    }
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (!running_[i]) continue;
    kill(procs_[i].pid, SIGKILL);
    ReapOnce(procs_[i], true);
    procs_[i].killed_at_deadline = true;
    running_[i] = false;
    result.timed_out = true;
  }
  result.procs = procs_;
  return result;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

namespace {

// Binds 127.0.0.1:port; returns the bound port, or -1.
int TryBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  int bound = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    bound = ntohs(addr.sin_port);
  close(fd);
  return bound;
}

}  // namespace

// A random port below the kernel's ephemeral range (ip_local_port_range): every listener the
// library binds to port 0 and every outgoing connection of every concurrent test takes its
// port from that range, so a port picked there is soon taken by someone else ("Address
// already in use" when the test's rank 0 binds it). Below it only other picks can collide.
int PickFreePort() {
  int low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    int lo = 0, hi = 0;
    if (std::fscanf(f, "%d %d", &lo, &hi) == 2 && lo > 0) low = lo;
    std::fclose(f);
  }
  constexpr int kLowest = 10000;
  if (low > kLowest + 1000) {
    std::random_device seed;
    std::mt19937 rng(seed());
    std::uniform_int_distribution<int> pick(kLowest, low - 1);
    for (int attempt = 0; attempt < 50; ++attempt)
      if (int port = TryBind(pick(rng)); port > 0) return port;
  }
  return TryBind(0);
}

}  // namespace colltest
