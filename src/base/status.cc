// coll::Status implementation and formatting helpers.
#include "base/status.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

namespace coll {
namespace {

std::string VFormat(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return std::string();
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), fmt, ap);
  return std::string(buf.data(), static_cast<size_t>(n));
}

}  // namespace

const std::string& Status::message() const {
  static const std::string kEmpty;
  return message_ ? *message_ : kEmpty;
}

Status Status::withContext(const std::string& prefix) const {
  if (ok()) return *this;
  Status s(code_, prefix + message());
  s.consequence_ = consequence_;
  return s;
}

std::string StrFormat(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = VFormat(fmt, ap);
  va_end(ap);
  return s;
}

#define COLL_DEFINE_STATUS_FN(Name, code)  \
  Status Name(const char* fmt, ...) {      \
    va_list ap;                            \
    va_start(ap, fmt);                     \
    std::string s = VFormat(fmt, ap);      \
    va_end(ap);                            \
    return Status(code, std::move(s));     \
  }

COLL_DEFINE_STATUS_FN(InvalidArgument, COLL_ERR_INVALID_ARGUMENT)
COLL_DEFINE_STATUS_FN(Mismatch, COLL_ERR_MISMATCH)
COLL_DEFINE_STATUS_FN(Timeout, COLL_ERR_TIMEOUT)
COLL_DEFINE_STATUS_FN(PeerLost, COLL_ERR_PEER_LOST)
COLL_DEFINE_STATUS_FN(SystemError, COLL_ERR_SYSTEM)
COLL_DEFINE_STATUS_FN(Unsupported, COLL_ERR_UNSUPPORTED)
COLL_DEFINE_STATUS_FN(AuthError, COLL_ERR_AUTH)
COLL_DEFINE_STATUS_FN(Aborted, COLL_ERR_ABORTED)
COLL_DEFINE_STATUS_FN(Internal, COLL_ERR_INTERNAL)
#undef COLL_DEFINE_STATUS_FN

Status MakeStatus(coll_status_t code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = VFormat(fmt, ap);
  va_end(ap);
  return Status(code, std::move(s));
}

Status ErrnoError(int err, const std::string& what) {
  return Status(COLL_ERR_SYSTEM, StrFormat("%s: %s (errno %d)", what.c_str(), std::strerror(err), err));
}

}  // namespace coll
