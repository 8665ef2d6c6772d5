// Host identity, ring order and ring description. Stateless; thread-safe.
#include "topology/hosts.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace coll {
namespace topo {
namespace {

constexpr const char* kBootIdPath = "/proc/sys/kernel/random/boot_id";

std::string Hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::string BootId() {
  std::ifstream in(kBootIdPath);
  std::string id;
  if (!in || !std::getline(in, id)) return std::string();
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

}  // namespace

std::string HostIdentity() {
  const char* override_id = std::getenv("COLL_TEST_HOST_ID");
  if (override_id != nullptr && override_id[0] != '\0') return override_id;
  std::string boot_id = BootId();
  if (boot_id.empty()) return Hostname();
  return Hostname() + "/" + boot_id;
}

std::vector<int> RingOrder(const std::vector<std::string>& host_ids) {
  // Hosts in order of first appearance = order of their lowest rank; rank 0 comes first.
  std::unordered_map<std::string, size_t> host_slot;
  std::vector<std::vector<int>> ranks_by_host;
  for (size_t rank = 0; rank < host_ids.size(); ++rank) {
    auto inserted = host_slot.emplace(host_ids[rank], ranks_by_host.size());
    if (inserted.second) ranks_by_host.emplace_back();
    ranks_by_host[inserted.first->second].push_back(static_cast<int>(rank));
  }
  std::vector<int> order;
  order.reserve(host_ids.size());
  for (const auto& ranks : ranks_by_host) order.insert(order.end(), ranks.begin(), ranks.end());
  return order;
}

std::vector<int> HostLocalRanks(const std::vector<std::string>& host_ids, int rank) {
  std::vector<int> local;
  if (rank < 0 || static_cast<size_t>(rank) >= host_ids.size()) return local;
  for (size_t r = 0; r < host_ids.size(); ++r) {
    if (host_ids[r] == host_ids[static_cast<size_t>(rank)]) local.push_back(static_cast<int>(r));
  }
  return local;
}

int HostCount(const std::vector<std::string>& host_ids) {
  std::unordered_map<std::string, int> seen;
  for (const auto& id : host_ids) seen.emplace(id, 0);
  return static_cast<int>(seen.size());
}

std::string DescribeRing(const std::vector<int>& order,
                         const std::vector<std::string>& link_transports) {
  if (order.empty()) return "ring (empty)";
  if (order.size() == 1) return "ring " + std::to_string(order[0]) + " (single rank)";
  std::string out = "ring " + std::to_string(order[0]);
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& transport = i < link_transports.size() ? link_transports[i] : "?";
    out += " -" + transport + "-> " + std::to_string(order[(i + 1) % order.size()]);
  }
  return out;
}

}  // namespace topo
}  // namespace coll
