// Mutual authentication of every connection (to the root, and between ring neighbours):
// each side proves it holds the job token with an HMAC-SHA256 over the other side's fresh
// nonce, so the token never crosses the wire. Both sides also compare `params` (slot
// geometry, transport) so ranks configured differently fail at init with a clear error.
// The client and server halves are split into steps so that a ring of ranks, each both
// client (to its right) and server (to its left), never waits in a cycle:
//   client.sendHello; server.answerHello; client.prove; server.judge; client.readVerdict.
// Blocking with a deadline; thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "bootstrap/unique_id.h"
#include "base/deadline.h"
#include "base/status.h"

namespace coll {

enum class ConnPurpose : uint32_t { kBootstrap = 1, kRingLink = 2 };

constexpr int kHandshakeParams = 4;

struct HandshakeParams {
  uint64_t values[kHandshakeParams] = {0, 0, 0, 0};
  const char* names[kHandshakeParams] = {"", "", "", ""};  // for messages ("COLL_CHUNK_BYTES", ...)
  bool unset_is_zero[kHandshakeParams] = {};  // value is setting + 1, 0 meaning "unset"
};

struct HandshakeMsg {
  uint32_t magic, version, purpose;
  int32_t rank, nranks;
  uint64_t params[kHandshakeParams];
  uint8_t nonce[16];
  uint8_t mac[32];  // server: proof over the client's nonce; client: unused in hello
};

class ClientHandshake {
 public:
  ClientHandshake(int fd, const Token& token, ConnPurpose purpose, int rank, int nranks, int server_rank,
                  const HandshakeParams& params, std::string what)
      : fd_(fd), token_(token), purpose_(purpose), rank_(rank), nranks_(nranks), server_(server_rank),
        params_(params), what_(std::move(what)) {}
  Status sendHello(const Deadline& d);
  Status prove(const Deadline& d);
  Status readVerdict(const Deadline& d);
  Status run(const Deadline& d);  // all three

 private:
  int fd_;
  const Token& token_;
  ConnPurpose purpose_;
  int rank_, nranks_, server_;
  HandshakeParams params_;
  std::string what_;
  HandshakeMsg hello_{};
};

class ServerHandshake {
 public:
  ServerHandshake(int fd, const Token& token, ConnPurpose purpose, int rank, int nranks,
                  const HandshakeParams& params)
      : fd_(fd), token_(token), purpose_(purpose), rank_(rank), nranks_(nranks), params_(params) {}
  // expected_client < 0 accepts any rank other than this one.
  Status answerHello(const Deadline& d, int expected_client);
  Status judge(const Deadline& d);
  Status run(const Deadline& d, int expected_client);
  int peerRank() const { return hello_.rank; }

 private:
  int fd_;
  const Token& token_;
  ConnPurpose purpose_;
  int rank_, nranks_;
  HandshakeParams params_;
  HandshakeMsg hello_{};
  HandshakeMsg proof_{};
  uint32_t early_verdict_ = 0;
};

}  // namespace coll
