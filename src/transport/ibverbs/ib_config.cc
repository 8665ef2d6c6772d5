// COLL_IBVERBS_LIB / COLL_IB_* parsing with the range checks of base/config.h.
// Thread-safety: FromEnv only reads the environment.
#include "transport/ibverbs/ib_config.h"

#include <net/if.h>

#include <cstdlib>

#include "base/config.h"

namespace coll {
namespace ibverbs {
namespace {

Status ReadInt(const char* name, int min, int max, int* out) {
  int64_t v = *out;
  COLL_RETURN_IF_ERROR(EnvInt(name, min, max, &v));
  *out = static_cast<int>(v);
  return Status::OK();
}

// "mlx5_0" or "mlx5_0:1".
Status ParseHca(const char* text, IbConfig* c) {
  std::string s = text;
  size_t colon = s.rfind(':');
  c->hca = s.substr(0, colon);
  c->port = 0;
  if (colon == std::string::npos) return Status::OK();
  char* end = nullptr;
  long port = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (c->hca.empty() || end == s.c_str() + colon + 1 || *end != '\0' || port < 1 || port > 255)
    return InvalidArgument("COLL_IB_HCA=%s is not <device>[:<port>] (example: mlx5_0:1)", text);
  c->port = static_cast<int>(port);
  return Status::OK();
}

// COLL_IB_PKEY in hex (0x8001) or decimal.
Status ParsePkey(int* out) {
  const char* v = std::getenv("COLL_IB_PKEY");
  if (v == nullptr || *v == '\0') return Status::OK();
  char* end = nullptr;
  long pkey = std::strtol(v, &end, 0);
  if (end == v || *end != '\0' || pkey < 0 || pkey > 0xffff)
    return InvalidArgument("COLL_IB_PKEY=%s is not a partition key 0x0000-0xffff", v);
  *out = static_cast<int>(pkey);
  return Status::OK();
}

}  // namespace

Status IbConfig::FromEnv(IbConfig* out) {
  IbConfig c;
  if (const char* v = std::getenv("COLL_IBVERBS_LIB"); v != nullptr && *v != '\0') c.library = v;
  if (const char* v = std::getenv("COLL_IB_HCA"); v != nullptr && *v != '\0') COLL_RETURN_IF_ERROR(ParseHca(v, &c));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_GID_INDEX", -1, 255, &c.gid_index));
  if (const char* v = std::getenv("COLL_IB_ADDR_FAMILY"); v != nullptr && *v != '\0') {
    c.addr_family = v;
    COLL_RETURN_IF_ERROR(ParseAddrFamily(c.addr_family, &c.gid_policy.family));
  }
  if (const char* v = std::getenv("COLL_IB_ADDR_RANGE"); v != nullptr && *v != '\0') {
    c.addr_range = v;
    COLL_RETURN_IF_ERROR(ParseAddrRange(c.addr_range, &c.gid_policy.range));
  }
  if (const char* v = std::getenv("COLL_SOCKET_IFNAME"); v != nullptr && *v != '\0') {
    c.socket_ifname = v;
    c.gid_policy.ifindex = if_nametoindex(v);  // 0 (none preferred) when there is no such netdev
  }
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_TIMEOUT", 1, 31, &c.timeout));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_RETRY_CNT", 0, 7, &c.retry_cnt));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_RNR_RETRY", 0, 7, &c.rnr_retry));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_MIN_RNR_TIMER", 0, 31, &c.min_rnr_timer));
  COLL_RETURN_IF_ERROR(ParsePkey(&c.pkey));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_SL", 0, 15, &c.service_level));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_TC", 0, 255, &c.traffic_class));
  COLL_RETURN_IF_ERROR(EnvInt("COLL_IB_SPIN_US", 0, 60000000, &c.spin_us));
  *out = c;
  return Status::OK();
}

std::string IbConfig::gidSettings() const {
  std::string s;
  if (!addr_family.empty()) s += "COLL_IB_ADDR_FAMILY=" + addr_family;
  if (!addr_range.empty()) s += std::string(s.empty() ? "" : " ") + "COLL_IB_ADDR_RANGE=" + addr_range;
  return s.empty() ? "the automatic GID choice" : s;
}

std::string IbConfig::describe() const {
  return StrFormat("COLL_IBVERBS_LIB=%s COLL_IB_HCA=%s COLL_IB_GID_INDEX=%d COLL_IB_ADDR_FAMILY=%s "
                   "COLL_IB_ADDR_RANGE=%s COLL_IB_TIMEOUT=%d COLL_IB_RETRY_CNT=%d "
                   "COLL_IB_RNR_RETRY=%d COLL_IB_MIN_RNR_TIMER=%d COLL_IB_PKEY=0x%x COLL_IB_SL=%d COLL_IB_TC=%d "
                   "COLL_IB_SPIN_US=%lld",
                   library.c_str(), hca.empty() ? "(auto)" : (hca + ":" + std::to_string(port)).c_str(), gid_index,
                   addr_family.empty() ? "(auto)" : addr_family.c_str(), addr_range.empty() ? "(any)" : addr_range.c_str(),
                   timeout, retry_cnt, rnr_retry, min_rnr_timer, pkey, service_level, traffic_class,
                   static_cast<long long>(spin_us));
}

}  // namespace ibverbs
}  // namespace coll
