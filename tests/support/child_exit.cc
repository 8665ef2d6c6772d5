// BeginChild / EndChild: a gtest listener that counts failures in the child, and the
// LeakSanitizer check that _exit() would otherwise skip.
#include "support/child_exit.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include <gtest/gtest.h>

#if defined(__SANITIZE_ADDRESS__)
#define COLLTEST_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COLLTEST_HAS_LSAN 1
#endif
#endif
#ifdef COLLTEST_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace colltest {
namespace {

// Children of children inherit both, so the listener is installed once per process tree.
std::atomic<int> g_failures{0};
bool g_listener_installed = false;

class FailureCounter : public ::testing::EmptyTestEventListener {
 public:
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) ++g_failures;
  }
};

}  // namespace

void BeginChild() {
  g_failures = 0;
  if (!g_listener_installed) {
    ::testing::UnitTest::GetInstance()->listeners().Append(new FailureCounter);  // owned by gtest
    g_listener_installed = true;
  }
}

bool LeakCheckAvailable() {
#ifdef COLLTEST_HAS_LSAN
  return true;
#else
  return false;
#endif
}

void EndChild(int rc, int done_fd) {
  if (rc < 0 || rc > 255) rc = 1;
  if (g_failures > 0) {
    std::fprintf(stderr, "[child %d] %d gtest assertion(s) failed in this process\n", static_cast<int>(getpid()),
                 g_failures.load());
    rc = kExitGtestFailure;
  }
#ifdef COLLTEST_HAS_LSAN
  if (rc == 0 && __lsan_do_recoverable_leak_check() != 0) rc = kExitLeak;
#endif
  std::fflush(nullptr);
  if (done_fd >= 0) {
    const char done = 'E';
    ssize_t n;
    do {
      n = write(done_fd, &done, 1);
    } while (n < 0 && errno == EINTR);
  }
  _exit(rc);
}

}  // namespace colltest
