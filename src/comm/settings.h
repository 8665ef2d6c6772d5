// The communicator's view of the COLL_* settings: reading them (COLL_TRANSPORT looked up in
// the transport registry) and the list every rank must share, which the bootstrap and ring
// handshakes compare.
#pragma once

#include "base/config.h"
#include "base/status.h"
#include "bootstrap/handshake.h"

namespace coll {

// Config::FromEnv, then COLL_TRANSPORT must be "auto" or a registered transport's name.
Status ConfigFromEnv(Config* out);

// COLL_CHUNK_BYTES, COLL_NSLOTS, COLL_TRANSPORT, COLL_SMALL_BYTES: settings that must be equal
// on every rank (slot geometry, the transport choice, the latency-algorithm switch point).
// Changing this list changes the handshake: bump its version (bootstrap/handshake.cc).
SharedSettings SharedSettingsOf(const Config& config);

}  // namespace coll
