// Which GID a queue pair speaks from on RoCE: the entries of a port's GID table and the
// ranking that picks one (routable before link-local, RoCE v2 before v1, IPv4-mapped before
// IPv6 unless COLL_IB_ADDR_FAMILY says otherwise, COLL_SOCKET_IFNAME's netdev first, then the
// lowest index). Thread-safety: pure functions over values.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace coll {
namespace ibverbs {

constexpr int kGidTypeUnknown = -1;  // the library could not say (no ibv_query_gid_ex, no sysfs)

struct GidEntry {
  int index = -1;
  ibv_gid gid{};
  int type = kGidTypeUnknown;  // IBV_GID_TYPE_IB, _ROCE_V1, _ROCE_V2
  uint32_t ifindex = 0;        // the netdev of a RoCE GID; 0 when unknown
};

// A subnet (COLL_IB_ADDR_RANGE): family 0 means none is set.
struct AddrRange {
  int family = 0;  // AF_INET or AF_INET6
  uint8_t addr[16] = {};
  int prefix = 0;
};

struct GidPolicy {
  int family = 0;        // COLL_IB_ADDR_FAMILY: AF_INET, AF_INET6, 0 = IPv4 first, then IPv6
  AddrRange range;       // COLL_IB_ADDR_RANGE
  uint32_t ifindex = 0;  // COLL_SOCKET_IFNAME's netdev; 0: none preferred
};

bool GidEmpty(const ibv_gid& gid);
bool GidLinkLocal(const ibv_gid& gid);  // fe80::/10
bool GidIpv4Mapped(const ibv_gid& gid);  // ::ffff:a.b.c.d
// The subnet prefix (upper 64 bits) of an InfiniBand GID.
uint64_t GidSubnetPrefix(const ibv_gid& gid);
std::string GidString(const ibv_gid& gid);  // "::ffff:10.0.2.15", "fe80::2:0:0:1"
const char* GidTypeName(int type);          // "IB", "RoCE v1", "RoCE v2", "type unknown"
std::string DescribeGid(const GidEntry& e);  // "GID index 1 ::ffff:10.0.2.15 RoCE v2"
std::string DescribeTable(const std::vector<GidEntry>& table);  // "0 fe80::1 RoCE v2, 1 ..."

// "AF_INET" / "AF_INET6"; COLL_ERR_INVALID_ARGUMENT naming the variable otherwise.
Status ParseAddrFamily(const std::string& text, int* family);
// "10.0.0.0/8", "fd00::/8"; COLL_ERR_INVALID_ARGUMENT naming the variable otherwise.
Status ParseAddrRange(const std::string& text, AddrRange* out);
bool GidInRange(const ibv_gid& gid, const AddrRange& range);

// The best non-empty entry of `table` for RoCE under `policy`. COLL_ERR_INVALID_ARGUMENT when
// the policy's family or range excludes every entry, COLL_ERR_UNSUPPORTED when the table is
// empty; `warning` is set (else cleared) when the best is link-local, which only reaches the
// same L2 segment. `port` ("rxe0:1") and `settings` (the COLL_IB_ADDR_* text) name things in
// messages.
Status ChooseRoceGid(const std::vector<GidEntry>& table, const GidPolicy& policy, const std::string& port,
                     const std::string& settings, GidEntry* out, std::string* warning);

}  // namespace ibverbs
}  // namespace coll
