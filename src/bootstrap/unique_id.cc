// Unique id encoding, the parked-listener registry and job tokens.
#include "bootstrap/unique_id.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace coll {
namespace {

constexpr char kMagic[8] = {'C', 'O', 'L', 'L', 'I', 'D', '0', '1'};

std::mutex g_parked_mu;
std::map<Token, int>& Parked() {
  static auto* parked = new std::map<Token, int>();
  return *parked;
}

}  // namespace

void EncodeUniqueId(const UniqueId& id, coll_unique_id_t* out) {
  std::memset(out, 0, sizeof *out);
  auto* b = reinterpret_cast<uint8_t*>(out->bytes);
  std::memcpy(b, kMagic, 8);
  uint16_t fam = static_cast<uint16_t>(id.root.family());
  std::memcpy(b + 8, &fam, 2);
  uint16_t port = htons(static_cast<uint16_t>(id.root.port()));
  std::memcpy(b + 10, &port, 2);
  if (fam == AF_INET)
    std::memcpy(b + 12, &reinterpret_cast<const sockaddr_in*>(&id.root.storage)->sin_addr, 4);
  else
    std::memcpy(b + 12, &reinterpret_cast<const sockaddr_in6*>(&id.root.storage)->sin6_addr, 16);
  std::memcpy(b + 32, id.token.data(), id.token.size());
}

Status DecodeUniqueId(const coll_unique_id_t* in, UniqueId* out) {
  const auto* b = reinterpret_cast<const uint8_t*>(in->bytes);
  if (std::memcmp(b, kMagic, 8) != 0)
    return InvalidArgument("the unique id is not one made by coll_get_unique_id (bad magic); pass every rank the "
                           "same bytes rank 0 got");
  uint16_t fam = 0, port = 0;
  std::memcpy(&fam, b + 8, 2);
  std::memcpy(&port, b + 10, 2);
  UniqueId id;
  if (fam == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&id.root.storage);
    a->sin_family = AF_INET;
    a->sin_port = port;
    std::memcpy(&a->sin_addr, b + 12, 4);
    id.root.len = sizeof(sockaddr_in);
  } else if (fam == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&id.root.storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = port;
    std::memcpy(&a->sin6_addr, b + 12, 16);
    id.root.len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgument("the unique id holds an unknown address family %u", fam);
  }
  std::memcpy(id.token.data(), b + 32, id.token.size());
  *out = id;
  return Status::OK();
}

Status RandomBytes(void* out, size_t bytes) {
  if (RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(bytes)) != 1)
    return SystemError("RAND_bytes failed: the OS random source is unavailable");
  return Status::OK();
}

Status NewUniqueId(const Config& config, coll_unique_id_t* out) {
  UniqueId id;
  COLL_RETURN_IF_ERROR(DefaultListenAddress(config.socket_ifname, &id.root));
  Fd listener;
  COLL_RETURN_IF_ERROR(Listen(&id.root, 1024, &listener));
  COLL_RETURN_IF_ERROR(RandomBytes(id.token.data(), id.token.size()));
  {
    std::lock_guard<std::mutex> lock(g_parked_mu);
    Parked()[id.token] = listener.release();
  }
  EncodeUniqueId(id, out);
  return Status::OK();
}

Fd TakeParkedListener(const Token& token) {
  std::lock_guard<std::mutex> lock(g_parked_mu);
  auto it = Parked().find(token);
  if (it == Parked().end()) return Fd();
  Fd fd(it->second);
  Parked().erase(it);
  return fd;
}

static bool ParseHexToken(const std::string& hex, Token* out) {
  if (hex.size() != 32) return false;
  for (size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    (*out)[i] = static_cast<uint8_t>(v);
  }
  return true;
}

Status EnvJobToken(const Config& config, const std::string& root_addr, int nranks, Token* out) {
  if (!config.job_token_hex.empty()) {
    if (!ParseHexToken(config.job_token_hex, out))
      return InvalidArgument("COLL_JOB_TOKEN must be 32 hex digits (128 bits), got %zu characters",
                             config.job_token_hex.size());
    return Status::OK();
  }
  std::string material = "libcollective-env-token|" + root_addr + "|" + std::to_string(nranks);
  for (const char* var : {"OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "PMIX_NAMESPACE", "SLURM_JOB_ID"}) {
    if (const char* v = std::getenv(var)) material += std::string("|") + var + "=" + v;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    return SystemError("EVP_Digest(sha256) failed");
  std::memcpy(out->data(), digest, out->size());
  return Status::OK();
}

}  // namespace coll
