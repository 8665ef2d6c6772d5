// HMAC challenge-response over a fresh TCP connection (see handshake.h).
#include "bootstrap/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "base/socket.h"

namespace coll {
namespace {

constexpr uint32_t kMagic = 0x434f4c48;  // "COLH"
constexpr uint32_t kVersion = 3;

enum Verdict : uint32_t { kAccept = 1, kBadProof = 2, kBadSize = 3, kBadRank = 4, kBadParams = 5 };

void Mac(const Token& token, char role, const HandshakeMsg& about, int client, int server, const uint8_t* nonce,
         uint8_t out[32]) {
  uint8_t msg[1 + 5 * 4 + kHandshakeParams * 8 + 16];
  msg[0] = static_cast<uint8_t>(role);
  int32_t fields[5] = {static_cast<int32_t>(about.purpose), client, server, about.nranks, 0};
  std::memcpy(msg + 1, fields, sizeof fields);
  std::memcpy(msg + 21, about.params, sizeof about.params);
  std::memcpy(msg + 21 + sizeof about.params, nonce, 16);
  unsigned int len = 32;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()), msg, sizeof msg, out, &len);
}

int ParamsDiffer(const uint64_t a[kHandshakeParams], const uint64_t b[kHandshakeParams]) {
  for (int i = 0; i < kHandshakeParams; ++i)
    if (a[i] != b[i]) return i;
  return -1;
}

std::string ParamText(const HandshakeParams& p, int i, uint64_t v) {
  if (p.unset_is_zero[i]) return v == 0 ? "unset" : std::to_string(v - 1);
  return std::to_string(v);
}

Status ParamMismatch(const HandshakeParams& p, int i, uint64_t mine, int my_rank, uint64_t theirs, int their_rank) {
  return InvalidArgument("%s is %s on rank %d but %s on rank %d: set it the same on every rank", p.names[i],
                         ParamText(p, i, mine).c_str(), my_rank, ParamText(p, i, theirs).c_str(), their_rank);
}

}  // namespace

Status ClientHandshake::sendHello(const Deadline& d) {
  hello_ = HandshakeMsg{kMagic, kVersion, static_cast<uint32_t>(purpose_), rank_, nranks_, {}, {}, {}};
  std::memcpy(hello_.params, params_.values, sizeof hello_.params);
  COLL_RETURN_IF_ERROR(RandomBytes(hello_.nonce, sizeof hello_.nonce));
  return SendAll(fd_, &hello_, sizeof hello_, d, what_);
}

Status ClientHandshake::prove(const Deadline& d) {
  HandshakeMsg sp{};
  Status st = RecvAll(fd_, &sp, sizeof sp, d, what_);
  if (st.code() == COLL_ERR_PEER_LOST)
    return AuthError("%s closed the connection during authentication (a different job on that address, or it "
                     "refused this rank)",
                     what_.c_str());
  COLL_RETURN_IF_ERROR(st);
  uint8_t expect[32];
  Mac(token_, 'S', hello_, rank_, server_, hello_.nonce, expect);
  if (sp.magic != kMagic || sp.rank != server_ || CRYPTO_memcmp(expect, sp.mac, 32) != 0)
    return AuthError("%s did not prove the job token: the unique id is not from this job (or another job listens "
                     "on that address)",
                     what_.c_str());
  int bad = ParamsDiffer(sp.params, params_.values);
  HandshakeMsg cp = hello_;
  Mac(token_, 'C', hello_, rank_, server_, sp.nonce, cp.mac);
  COLL_RETURN_IF_ERROR(SendAll(fd_, &cp, sizeof cp, d, what_));
  if (bad >= 0)
    return ParamMismatch(params_, bad, params_.values[bad], rank_, sp.params[bad], server_);
  return Status::OK();
}

Status ClientHandshake::readVerdict(const Deadline& d) {
  uint32_t verdict = 0;
  COLL_RETURN_IF_ERROR(RecvAll(fd_, &verdict, sizeof verdict, d, what_));
  if (verdict == kBadSize)
    return InvalidArgument("%s says this job does not have %d ranks: every rank must pass the same nranks",
                           what_.c_str(), nranks_);
  if (verdict == kBadRank)
    return InvalidArgument("%s refused rank %d: it is out of range, not the expected neighbour, or already taken",
                           what_.c_str(), rank_);
  if (verdict == kBadParams) return InvalidArgument("%s has a different configuration (see its log)", what_.c_str());
  if (verdict != kAccept) return AuthError("%s refused this rank's proof of the job token", what_.c_str());
  return Status::OK();
}

Status ClientHandshake::run(const Deadline& d) {
  COLL_RETURN_IF_ERROR(sendHello(d));
  COLL_RETURN_IF_ERROR(prove(d));
  return readVerdict(d);
}

Status ServerHandshake::answerHello(const Deadline& d, int expected_client) {
  COLL_RETURN_IF_ERROR(RecvAll(fd_, &hello_, sizeof hello_, d, "a connecting process"));
  if (hello_.magic != kMagic || hello_.version != kVersion || hello_.purpose != static_cast<uint32_t>(purpose_))
    return AuthError("refused a connection that is not a libcollective %s peer",
                     purpose_ == ConnPurpose::kBootstrap ? "bootstrap" : "ring");
  if (hello_.nranks != nranks_) early_verdict_ = kBadSize;
  else if (hello_.rank < 0 || hello_.rank >= nranks_ || hello_.rank == rank_ ||
           (expected_client >= 0 && hello_.rank != expected_client))
    early_verdict_ = kBadRank;
  proof_ = HandshakeMsg{kMagic, kVersion, hello_.purpose, rank_, nranks_, {}, {}, {}};
  std::memcpy(proof_.params, params_.values, sizeof proof_.params);
  COLL_RETURN_IF_ERROR(RandomBytes(proof_.nonce, sizeof proof_.nonce));
  Mac(token_, 'S', hello_, hello_.rank, rank_, hello_.nonce, proof_.mac);
  return SendAll(fd_, &proof_, sizeof proof_, d, "rank " + std::to_string(hello_.rank));
}

Status ServerHandshake::judge(const Deadline& d) {
  HandshakeMsg cp{};
  Status st = RecvAll(fd_, &cp, sizeof cp, d, "a connecting process");
  if (!st.ok())
    return AuthError("refused a process claiming rank %d: it left during authentication (it could not verify this "
                     "job's token)",
                     hello_.rank);
  uint8_t expect[32];
  Mac(token_, 'C', hello_, hello_.rank, rank_, proof_.nonce, expect);
  uint32_t verdict = early_verdict_ ? early_verdict_ : kAccept;
  int bad = ParamsDiffer(hello_.params, params_.values);
  if (CRYPTO_memcmp(expect, cp.mac, 32) != 0) verdict = kBadProof;
  else if (verdict == kAccept && bad >= 0) verdict = kBadParams;
  COLL_RETURN_IF_ERROR(SendAll(fd_, &verdict, sizeof verdict, d, "rank " + std::to_string(hello_.rank)));
  if (verdict == kBadProof)
    return AuthError("refused a process claiming rank %d: it did not prove the job token", hello_.rank);
  if (verdict == kBadParams)
    return ParamMismatch(params_, bad, params_.values[bad], rank_, hello_.params[bad], hello_.rank);
  if (verdict != kAccept)
    return InvalidArgument("refused a process claiming rank %d of %d (this job has %d ranks; expected another rank)",
                           hello_.rank, hello_.nranks, nranks_);
  return Status::OK();
}

Status ServerHandshake::run(const Deadline& d, int expected_client) {
  COLL_RETURN_IF_ERROR(answerHello(d, expected_client));
  return judge(d);
}

}  // namespace coll
