// HMAC challenge-response over a fresh TCP connection (see handshake.h).
#include "bootstrap/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <vector>

#include "base/socket.h"

namespace coll {
namespace {

constexpr uint32_t kMagic = 0x434f4c48;  // "COLH"
constexpr uint32_t kVersion = 4;  // 4: the shared settings are a counted list of values

enum Verdict : uint32_t { kAccept = 1, kBadProof = 2, kBadSize = 3, kBadRank = 4, kBadParams = 5, kTaken = 6 };

std::vector<uint64_t> ValuesOf(const SharedSettings& settings) {
  std::vector<uint64_t> v;
  for (const SharedSetting& s : settings) v.push_back(s.value);
  return v;
}

HandshakeMsg Header(ConnPurpose purpose, int rank, int nranks, const SharedSettings& settings) {
  return HandshakeMsg{kMagic, kVersion, static_cast<uint32_t>(purpose), rank, nranks,
                      static_cast<uint32_t>(settings.size()), {}, {}};
}

// The MAC covers who talks to whom for what, the client's settings and the nonce.
void Mac(const Token& token, char role, const HandshakeMsg& about, const std::vector<uint64_t>& about_values,
         int client, int server, const uint8_t* nonce, uint8_t out[32]) {
  std::vector<uint8_t> msg(1 + 5 * 4 + about_values.size() * 8 + 16);
  msg[0] = static_cast<uint8_t>(role);
  int32_t fields[5] = {static_cast<int32_t>(about.purpose), client, server, about.nranks,
                       static_cast<int32_t>(about_values.size())};
  std::memcpy(&msg[1], fields, sizeof fields);
  if (!about_values.empty()) std::memcpy(&msg[21], about_values.data(), about_values.size() * 8);
  std::memcpy(&msg[21 + about_values.size() * 8], nonce, 16);
  unsigned int len = 32;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()), msg.data(), msg.size(), out, &len);
}

Status SendMsg(int fd, const HandshakeMsg& m, const std::vector<uint64_t>& values, const Deadline& d,
               const std::string& what) {
  std::vector<uint8_t> buf(sizeof m + values.size() * 8);
  std::memcpy(buf.data(), &m, sizeof m);
  if (!values.empty()) std::memcpy(&buf[sizeof m], values.data(), values.size() * 8);
  return SendAll(fd, buf.data(), buf.size(), d, what);
}

// Reads a header and, when it is a libcollective one of this version, its settings.
Status RecvMsg(int fd, HandshakeMsg* m, std::vector<uint64_t>* values, const Deadline& d, const std::string& what) {
  values->clear();
  COLL_RETURN_IF_ERROR(RecvAll(fd, m, sizeof *m, d, what));
  if (m->magic != kMagic || m->version != kVersion || m->nsettings > kMaxSharedSettings) return Status::OK();
  values->resize(m->nsettings);
  if (values->empty()) return Status::OK();
  return RecvAll(fd, values->data(), values->size() * 8, d, what);
}

bool Foreign(const HandshakeMsg& m) {
  return m.magic != kMagic || m.version != kVersion || m.nsettings > kMaxSharedSettings;
}

// Index of the first setting that differs, -1 when none, -2 when the lists differ in length.
int SettingsDiffer(const std::vector<uint64_t>& theirs, const SharedSettings& mine) {
  if (theirs.size() != mine.size()) return -2;
  for (size_t i = 0; i < mine.size(); ++i)
    if (theirs[i] != mine[i].value) return static_cast<int>(i);
  return -1;
}

std::string SettingText(const SharedSetting& s, uint64_t v) { return s.show ? s.show(v) : std::to_string(v); }

Status SettingMismatch(const SharedSettings& mine, int i, int my_rank, const std::vector<uint64_t>& theirs,
                       int their_rank) {
  if (i == -2)
    return InvalidArgument("rank %d compares %zu settings at init but rank %d compares %zu: every rank must run the "
                           "same libcollective",
                           my_rank, mine.size(), their_rank, theirs.size());
  const SharedSetting& s = mine[i];
  return InvalidArgument("%s is %s on rank %d but %s on rank %d: set it the same on every rank", s.name.c_str(),
                         SettingText(s, s.value).c_str(), my_rank, SettingText(s, theirs[i]).c_str(), their_rank);
}

}  // namespace

Status ClientHandshake::sendHello(const Deadline& d) {
  hello_ = Header(purpose_, rank_, nranks_, settings_);
  hello_values_ = ValuesOf(settings_);
  COLL_RETURN_IF_ERROR(RandomBytes(hello_.nonce, sizeof hello_.nonce));
  return SendMsg(fd_, hello_, hello_values_, d, what_);
}

Status ClientHandshake::prove(const Deadline& d) {
  HandshakeMsg sp{};
  std::vector<uint64_t> sp_values;
  Status st = RecvMsg(fd_, &sp, &sp_values, d, what_);
  if (st.code() == COLL_ERR_PEER_LOST)
    return AuthError("%s closed the connection during authentication (a different job on that address, or it "
                     "refused this rank)",
                     what_.c_str());
  COLL_RETURN_IF_ERROR(st);
  uint8_t expect[32];
  Mac(token_, 'S', hello_, hello_values_, rank_, server_, hello_.nonce, expect);
  if (Foreign(sp) || sp.rank != server_ || CRYPTO_memcmp(expect, sp.mac, 32) != 0)
    return AuthError("%s did not prove the job token: the unique id is not from this job (or another job listens "
                     "on that address)",
                     what_.c_str());
  int bad = SettingsDiffer(sp_values, settings_);
  HandshakeMsg cp = hello_;
  Mac(token_, 'C', hello_, hello_values_, rank_, server_, sp.nonce, cp.mac);
  COLL_RETURN_IF_ERROR(SendMsg(fd_, cp, hello_values_, d, what_));
  if (bad != -1) return SettingMismatch(settings_, bad, rank_, sp_values, server_);
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
  if (verdict == kTaken)
    return InvalidArgument("%s already has a rank %d with this job's token: two jobs share one root address (give "
                           "each job its own COLL_ROOT_ADDR, or COLL_JOB_TOKEN)",
                           what_.c_str(), rank_);
  if (verdict != kAccept) return AuthError("%s refused this rank's proof of the job token", what_.c_str());
  return Status::OK();
}

Status ClientHandshake::run(const Deadline& d) {
  COLL_RETURN_IF_ERROR(sendHello(d));
  COLL_RETURN_IF_ERROR(prove(d));
  return readVerdict(d);
}

Status ServerHandshake::answerHello(const Deadline& d, int expected_client) {
  COLL_RETURN_IF_ERROR(RecvMsg(fd_, &hello_, &hello_values_, d, "a connecting process"));
  if (Foreign(hello_) || hello_.purpose != static_cast<uint32_t>(purpose_))
    return AuthError("refused a connection that is not a libcollective %s peer",
                     purpose_ == ConnPurpose::kBootstrap ? "bootstrap" : "ring");
  if (hello_.nranks != nranks_) early_verdict_ = kBadSize;
  else if (hello_.rank == rank_ && purpose_ == ConnPurpose::kBootstrap)
    early_verdict_ = kTaken;  // another root of a job with this token
  else if (hello_.rank < 0 || hello_.rank >= nranks_ || hello_.rank == rank_ ||
           (expected_client >= 0 && hello_.rank != expected_client))
    early_verdict_ = kBadRank;
  proof_ = Header(purpose_, rank_, nranks_, settings_);
  COLL_RETURN_IF_ERROR(RandomBytes(proof_.nonce, sizeof proof_.nonce));
  Mac(token_, 'S', hello_, hello_values_, hello_.rank, rank_, hello_.nonce, proof_.mac);
  return SendMsg(fd_, proof_, ValuesOf(settings_), d, "rank " + std::to_string(hello_.rank));
}

Status ServerHandshake::judge(const Deadline& d, const std::function<bool(int rank)>& claim) {
  HandshakeMsg cp{};
  std::vector<uint64_t> cp_values;
  Status st = RecvMsg(fd_, &cp, &cp_values, d, "a connecting process");
  if (st.code() == COLL_ERR_TIMEOUT)
    return AuthError("dropped a connection claiming rank %d: it did not finish authentication in time", hello_.rank);
  if (!st.ok())
    return AuthError("dropped a connection claiming rank %d: it left during authentication (a process of another "
                     "job, or not a libcollective rank)",
                     hello_.rank);
  uint8_t expect[32];
  Mac(token_, 'C', hello_, hello_values_, hello_.rank, rank_, proof_.nonce, expect);
  uint32_t verdict = early_verdict_ ? early_verdict_ : kAccept;
  int bad = SettingsDiffer(hello_values_, settings_);
  if (CRYPTO_memcmp(expect, cp.mac, 32) != 0) verdict = kBadProof;
  else if (verdict == kAccept && bad != -1) verdict = kBadParams;
  else if (verdict == kAccept && claim && !claim(hello_.rank)) verdict = kTaken;
  proved_ = verdict != kBadProof;
  duplicate_ = verdict == kTaken;
  COLL_RETURN_IF_ERROR(SendAll(fd_, &verdict, sizeof verdict, d, "rank " + std::to_string(hello_.rank)));
  if (verdict == kBadProof)
    return AuthError("refused a process claiming rank %d: it did not prove the job token", hello_.rank);
  if (verdict == kTaken)
    return InvalidArgument("two processes with this job's token claim rank %d: two jobs share one root address (give "
                           "each job its own COLL_ROOT_ADDR, or COLL_JOB_TOKEN)",
                           hello_.rank);
  if (verdict == kBadParams) return SettingMismatch(settings_, bad, rank_, hello_values_, hello_.rank);
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
