// Failure reporting for CCHECK in forked children.
#include "support/child_check.h"

#include <cstdio>

#include "support/process_group.h"

namespace colltest {

Failure::Failure(const char* file, int line, const char* what) {
  out_ << "[" << ProcessName() << "] " << file << ":" << line << ": check failed: " << what
       << ": ";
}

int Failure::Report() {
  std::string text = out_.str();
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  return 1;
}

std::string StatusName(coll_status_t status) {
  static const char* const kNames[] = {
      "COLL_SUCCESS",      "COLL_ERR_INVALID_ARGUMENT", "COLL_ERR_MISMATCH",
      "COLL_ERR_TIMEOUT",  "COLL_ERR_PEER_LOST",        "COLL_ERR_SYSTEM",
      "COLL_ERR_UNSUPPORTED", "COLL_ERR_AUTH",          "COLL_ERR_ABORTED",
      "COLL_ERR_INTERNAL"};
  int code = static_cast<int>(status);
  std::string name = code >= 0 && code < 10 ? kNames[code] : "unknown status";
  return name + " (" + std::to_string(code) + ")";
}

}  // namespace colltest
