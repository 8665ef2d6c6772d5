// coll::Status — the one internal error style: a status code plus one sentence.
// Value type, cheap when OK (no allocation). Never thrown; converted to the C enum at
// the API boundary (src/api/c_api.cc). Thread-compatible.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "collective.h"

namespace coll {

class Status {
 public:
  Status() = default;
  Status(coll_status_t code, std::string message)
      : code_(code), message_(code == COLL_SUCCESS ? nullptr : std::make_shared<std::string>(std::move(message))) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == COLL_SUCCESS; }
  coll_status_t code() const { return code_; }
  const std::string& message() const;

  // Prefixes the sentence with context ("allreduce: ") keeping the code.
  Status withContext(const std::string& prefix) const;

  // A consequence is a symptom of an error that happened elsewhere first (a flushed work
  // request after the QP went to error): callers give the cause a moment to be reported.
  Status asConsequence() const {
    Status s = *this;
    s.consequence_ = true;
    return s;
  }
  bool isConsequence() const { return consequence_; }

 private:
  coll_status_t code_ = COLL_SUCCESS;
  std::shared_ptr<const std::string> message_;
  bool consequence_ = false;
};

// printf-style helpers; the message is one sentence a user can act on.
Status InvalidArgument(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Mismatch(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Timeout(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status PeerLost(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status SystemError(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Unsupported(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status AuthError(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Aborted(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Internal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status MakeStatus(coll_status_t code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// "<what>: <strerror(err)> (errno N)" as COLL_ERR_SYSTEM.
Status ErrnoError(int err, const std::string& what);

std::string StrFormat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace coll

#define COLL_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::coll::Status _coll_status = (expr);       \
    if (!_coll_status.ok()) return _coll_status; \
  } while (0)
