// How every forked test child ends, so that a child cannot hide a failure: a gtest
// EXPECT/ASSERT that failed in the child, a leak LeakSanitizer finds before _exit (which
// skips the sanitizer's own exit-time check), or an exit() that never returned from the
// test function each turn into something the parent sees. Used by ProcessGroup and by any
// test that forks by hand. Call from the child only; not thread-safe.
#pragma once

namespace colltest {

// Exit codes of a child whose function returned 0 but which failed anyway.
constexpr int kExitGtestFailure = 71;  // a gtest assertion failed in the child
constexpr int kExitLeak = 72;          // LeakSanitizer found leaks in the child

// Right after fork, in the child: count gtest assertion failures from here on.
void BeginChild();

// True when this build runs LeakSanitizer (AddressSanitizer builds).
bool LeakCheckAvailable();

// Ends the child with the function's result rc: kExitGtestFailure when a gtest assertion
// failed since BeginChild, else (when rc is 0 and LeakSanitizer runs) kExitLeak when the
// leak check finds leaks. When done_fd >= 0 one byte is written to it first, telling the
// parent that the function returned (an exit() or _exit() inside it writes nothing).
[[noreturn]] void EndChild(int rc, int done_fd);

}  // namespace colltest
