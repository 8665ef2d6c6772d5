// CHECK-style assertions for forked children, where gtest assertions must not run. A failed
// check prints "[rank R] file:line: ..." to stderr and returns 1 from the enclosing
// int-returning function; stream more context with <<:
//   CCHECK(x == 3) << "x=" << x;
//   CCHECK_OK(coll_barrier(comm), comm);
//   CCHECK_STATUS(COLL_ERR_MISMATCH, coll_allreduce(...), comm) << "count " << n;
#pragma once

#include <sstream>
#include <string>

#include "collective.h"

namespace colltest {

class Failure {
 public:
  Failure(const char* file, int line, const char* what);
  template <typename T>
  Failure& operator<<(const T& value) {
    out_ << value;
    return *this;
  }
  int Report();  // prints the message; returns 1

 private:
  std::ostringstream out_;
};

// Turns the streamed Failure into the int a child function returns (precedence trick:
// assignment binds looser than <<).
struct FailureToInt {
  int operator=(Failure& f) { return f.Report(); }
  int operator=(Failure&& f) { return f.Report(); }
};

// "COLL_ERR_TIMEOUT (3)"; safe for values outside the enum.
std::string StatusName(coll_status_t status);

}  // namespace colltest

// Like any if-else macro, put it in braces under an if.
#define CCHECK(cond) \
  if (cond) {        \
  } else             \
    return ::colltest::FailureToInt() = ::colltest::Failure(__FILE__, __LINE__, #cond)

#define CCHECK_EQ(a, b) \
  CCHECK((a) == (b)) << "(" << (a) << " vs " << (b) << ") "

#define CCHECK_STATUS(expected, expr, comm)                                                    \
  for (coll_status_t ccheck_status_ = (expr); ccheck_status_ != (expected);)                   \
  return ::colltest::FailureToInt() =                                                          \
             ::colltest::Failure(__FILE__, __LINE__, #expr)                                    \
             << "returned " << ::colltest::StatusName(ccheck_status_) << ", expected "         \
             << ::colltest::StatusName(expected) << "; last error: \""                          \
             << coll_comm_last_error(comm) << "\" "

#define CCHECK_OK(expr, comm) CCHECK_STATUS(COLL_SUCCESS, expr, comm)
