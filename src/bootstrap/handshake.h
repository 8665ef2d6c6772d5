// Mutual authentication of every connection (to the root, and between ring neighbours):
// each side proves it holds the job token with an HMAC-SHA256 over the other side's fresh
// nonce, so the token never crosses the wire. Both sides also compare the settings every rank
// must share (handed over by the caller as names and values) so ranks configured differently
// fail at init with a clear error.
// The client and server halves are split into steps so that a ring of ranks, each both
// client (to its right) and server (to its left), never waits in a cycle:
//   client.sendHello; server.answerHello; client.prove; server.judge; client.readVerdict.
// Blocking with a deadline; thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bootstrap/unique_id.h"
#include "base/deadline.h"
#include "base/status.h"

namespace coll {

enum class ConnPurpose : uint32_t { kBootstrap = 1, kRingLink = 2 };

// One setting every rank must share: compared by value in every handshake, named in the error.
struct SharedSetting {
  std::string name;                     // for messages ("COLL_CHUNK_BYTES", ...)
  uint64_t value = 0;                   // what crosses the wire
  std::string (*show)(uint64_t) = nullptr;  // value as the user wrote it; null: the number
};
using SharedSettings = std::vector<SharedSetting>;

// At most this many settings (a peer announcing more is not a libcollective peer).
constexpr uint32_t kMaxSharedSettings = 64;

// Wire layout: this header, then `nsettings` uint64 values (see docs/DESIGN.md).
struct HandshakeMsg {
  uint32_t magic, version, purpose;
  int32_t rank, nranks;
  uint32_t nsettings;
  uint8_t nonce[16];
  uint8_t mac[32];  // server: proof over the client's nonce; client: unused in hello
};

class ClientHandshake {
 public:
  ClientHandshake(int fd, const Token& token, ConnPurpose purpose, int rank, int nranks, int server_rank,
                  const SharedSettings& settings, std::string what)
      : fd_(fd), token_(token), purpose_(purpose), rank_(rank), nranks_(nranks), server_(server_rank),
        settings_(settings), what_(std::move(what)) {}
  Status sendHello(const Deadline& d);
  Status prove(const Deadline& d);
  Status readVerdict(const Deadline& d);
  Status run(const Deadline& d);  // all three

 private:
  int fd_;
  const Token& token_;
  ConnPurpose purpose_;
  int rank_, nranks_, server_;
  SharedSettings settings_;
  std::string what_;
  HandshakeMsg hello_{};
  std::vector<uint64_t> hello_values_;
};

class ServerHandshake {
 public:
  ServerHandshake(int fd, const Token& token, ConnPurpose purpose, int rank, int nranks,
                  const SharedSettings& settings)
      : fd_(fd), token_(token), purpose_(purpose), rank_(rank), nranks_(nranks), settings_(settings) {}
  // expected_client < 0 accepts any rank other than this one.
  Status answerHello(const Deadline& d, int expected_client);
  // claim, when given, is asked (once the client proved the token) whether the claimed rank
  // is still free, and takes it; a taken rank (or, for the bootstrap, this server's own
  // rank) is refused as a duplicate: two jobs that share a root address and a token.
  Status judge(const Deadline& d, const std::function<bool(int rank)>& claim = nullptr);
  Status run(const Deadline& d, int expected_client);
  int peerRank() const { return hello_.rank; }
  bool proved() const { return proved_; }        // the client proved the job token
  bool duplicate() const { return duplicate_; }  // ... and claimed a rank already taken

 private:
  int fd_;
  const Token& token_;
  ConnPurpose purpose_;
  int rank_, nranks_;
  SharedSettings settings_;
  HandshakeMsg hello_{};
  std::vector<uint64_t> hello_values_;
  HandshakeMsg proof_{};
  uint32_t early_verdict_ = 0;
  bool proved_ = false, duplicate_ = false;
};

}  // namespace coll
