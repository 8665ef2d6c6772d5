#include "support/threads.h"

#include <dirent.h>

#include <fstream>

namespace colltest {

std::string ThreadCpus(const std::string& name) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return "";
  std::string found;
  while (dirent* e = readdir(dir)) {
    std::string task = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm_file(task + "/comm");
    std::string comm;
    if (!std::getline(comm_file, comm) || comm != name) continue;
    std::ifstream status(task + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) found = line.substr(line.find_first_not_of(" \t", 18));
    }
  }
  closedir(dir);
  return found;
}

}  // namespace colltest
