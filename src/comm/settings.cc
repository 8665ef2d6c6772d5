// Reading the configuration and the settings every rank must share (settings.h).
#include "comm/settings.h"

#include "transport/transport.h"

namespace coll {
namespace {

// COLL_TRANSPORT on the wire: 0 for auto, else the transport's wire bit + 1.
uint64_t TransportValue(const std::string& name) {
  const TransportInfo* t = FindTransport(name);
  return t == nullptr ? 0 : uint64_t{t->wire_bit} + 1;
}

std::string ShowTransport(uint64_t v) {
  if (v == 0) return "auto";
  for (const TransportInfo& t : Transports())
    if (uint64_t{t.wire_bit} + 1 == v) return t.name;
  return "transport #" + std::to_string(v - 1);
}

// A setting that may be unset: 0 is unset, otherwise the value + 1.
std::string ShowUnsetOrValue(uint64_t v) { return v == 0 ? "unset" : std::to_string(v - 1); }

}  // namespace

Status ConfigFromEnv(Config* out) {
  Config c;
  COLL_RETURN_IF_ERROR(Config::FromEnv(&c));
  if (c.transport != "auto" && FindTransport(c.transport) == nullptr)
    return InvalidArgument("COLL_TRANSPORT=%s is not one of auto, %s", c.transport.c_str(), TransportNames().c_str());
  *out = c;
  return Status::OK();
}

SharedSettings SharedSettingsOf(const Config& config) {
  return {
      {"COLL_CHUNK_BYTES", config.chunk_bytes, nullptr},
      {"COLL_NSLOTS", static_cast<uint64_t>(config.nslots), nullptr},
      {"COLL_TRANSPORT", TransportValue(config.transport), ShowTransport},
      {"COLL_SMALL_BYTES", config.small_bytes_set ? config.small_bytes + 1 : 0, ShowUnsetOrValue},
  };
}

}  // namespace coll
