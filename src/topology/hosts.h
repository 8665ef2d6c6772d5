// Which ranks share a host, and the ring order that keeps them adjacent. The bootstrap
// exchanges HostIdentity() strings; everything else here is a pure function of them.
// All functions are thread-safe (HostIdentity only reads the environment and /proc).
#pragma once

#include <string>
#include <vector>

namespace coll {
namespace topo {

// "hostname/boot_id", boot id from /proc/sys/kernel/random/boot_id ("hostname" alone if
// that file cannot be read). Containers on one kernel share a boot id but usually not a
// hostname, so they count as different hosts: the safe answer, as they may not share
// /dev/shm. Test-only: a non-empty COLL_TEST_HOST_ID replaces the whole string, so that
// tests can emulate several hosts on one machine.
std::string HostIdentity();

// A permutation of ranks 0..n-1 (n = host_ids.size()) for the ring: starts at rank 0, a
// host's ranks are adjacent and ascending, hosts are ordered by their lowest rank.
// Example: {A, B, A, B} -> {0, 2, 1, 3}.
std::vector<int> RingOrder(const std::vector<std::string>& host_ids);

// The ranks on the same host as `rank`, ascending, `rank` included. Empty if `rank` is out
// of range.
std::vector<int> HostLocalRanks(const std::vector<std::string>& host_ids, int rank);

// Number of distinct hosts.
int HostCount(const std::vector<std::string>& host_ids);

// One line for COLL_DEBUG=INFO: "ring 0 -shm-> 2 -tcp-> 1 -shm-> 3 -tcp-> 0".
// link_transports[i] names the link from order[i] to order[(i + 1) % n]; missing entries
// print as "?". A single rank prints "ring 0 (single rank)".
std::string DescribeRing(const std::vector<int>& order,
                         const std::vector<std::string>& link_transports);

}  // namespace topo
}  // namespace coll
