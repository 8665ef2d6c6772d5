// The unique id: the root's bootstrap address and a random 128-bit job token, packed in
// coll_unique_id_t. Layout (stable, tests rely on it): [0,8) magic "COLLID01", [8,10) address
// family, [10,12) port (big endian), [12,28) IP address, [32,48) job token.
// coll_get_unique_id binds the root's listener at once and parks it in a process-wide
// registry (mutex-protected) so coll_comm_init on rank 0 picks up the same socket.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/socket.h"
#include "collective.h"
#include "base/config.h"

namespace coll {

using Token = std::array<uint8_t, 16>;

struct UniqueId {
  SockAddr root;
  Token token{};
};

void EncodeUniqueId(const UniqueId& id, coll_unique_id_t* out);
Status DecodeUniqueId(const coll_unique_id_t* in, UniqueId* out);

// Makes an id whose root listens on COLL_SOCKET_IFNAME (or the first interface that is up).
Status NewUniqueId(const Config& config, coll_unique_id_t* out);
// The listener bound by NewUniqueId for this token in this process, or an invalid Fd.
Fd TakeParkedListener(const Token& token);

// Random bytes from the OS / libcrypto.
Status RandomBytes(void* out, size_t bytes);
// The token of an env-bootstrapped job: COLL_JOB_TOKEN (32 hex digits) when set, else a
// digest of the root address, the size and every launcher job id present (weaker:
// documented); `warn` logs a warning when there is no launcher id to tell two jobs apart.
Status EnvJobToken(const Config& config, const std::string& root_addr, int nranks, bool warn, Token* out);

}  // namespace coll
