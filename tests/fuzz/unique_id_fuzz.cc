// libFuzzer target: coll_unique_id_t bytes as any process may hand them to coll_comm_init.
// DecodeUniqueId must accept or refuse without crashing, and what it accepts must survive
// an encode/decode round trip unchanged.
#include <cstdlib>
#include <cstring>

#include "bootstrap/unique_id.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coll_unique_id_t raw;
  std::memset(&raw, 0, sizeof raw);
  std::memcpy(&raw, data, size < sizeof raw ? size : sizeof raw);
  coll::UniqueId id;
  if (!coll::DecodeUniqueId(&raw, &id).ok()) return 0;
  coll_unique_id_t again;
  std::memset(&again, 0, sizeof again);
  coll::EncodeUniqueId(id, &again);
  coll::UniqueId id2;
  if (!coll::DecodeUniqueId(&again, &id2).ok() || id2.token != id.token || id2.root.len != id.root.len ||
      std::memcmp(&id2.root.storage, &id.root.storage, id.root.len) != 0)
    std::abort();
  return 0;
}
