// Unique id encoding, the parked-listener registry and job tokens.
#include "bootstrap/unique_id.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "base/deadline.h"
#include "base/log.h"

namespace coll {
namespace {

constexpr char kMagic[8] = {'C', 'O', 'L', 'L', 'I', 'D', '0', '1'};

// Listeners bound by coll_get_unique_id and not yet taken by coll_comm_init. An id that is
// never used must not keep its socket forever: a listener is closed once it has been parked
// for COLL_TIMEOUT_MS (checked at the next call), and at most kMaxParked are kept (the oldest
// goes first). Rank 0 of an id whose listener was closed binds the address again at init.
constexpr size_t kMaxParked = 64;

struct ParkedListener {
  int fd;
  int64_t parked_us;
  int64_t timeout_ms;
};

std::mutex g_parked_mu;
std::map<Token, ParkedListener>& Parked() {
  static auto* parked = new std::map<Token, ParkedListener>();
  return *parked;
}

// With g_parked_mu held: closes expired listeners, and the oldest while more than `keep`.
void SweepParked(size_t keep) {
  auto& parked = Parked();
  const int64_t now = NowMicros();
  for (auto it = parked.begin(); it != parked.end();) {
    if (now - it->second.parked_us >= it->second.timeout_ms * 1000) {
      Fd closing(it->second.fd);
      it = parked.erase(it);
    } else {
      ++it;
    }
  }
  while (parked.size() > keep) {
    auto oldest = parked.begin();
    for (auto it = parked.begin(); it != parked.end(); ++it)
      if (it->second.parked_us < oldest->second.parked_us) oldest = it;
    Fd closing(oldest->second.fd);
    parked.erase(oldest);
  }
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
    SweepParked(kMaxParked - 1);
    Parked()[id.token] = ParkedListener{listener.release(), NowMicros(), config.timeout_ms};
  }
  EncodeUniqueId(id, out);
  return Status::OK();
}

Fd TakeParkedListener(const Token& token) {
  std::lock_guard<std::mutex> lock(g_parked_mu);
  SweepParked(kMaxParked);
  auto it = Parked().find(token);
  if (it == Parked().end()) return Fd();
  Fd fd(it->second.fd);
  Parked().erase(it);
  return fd;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static Status ParseHexToken(const std::string& hex, Token* out) {
  if (hex.size() != 32)
    return InvalidArgument("COLL_JOB_TOKEN must be 32 hex digits (128 bits), got %zu characters", hex.size());
  for (size_t i = 0; i < 32; ++i)
    if (HexValue(hex[i]) < 0)
      return InvalidArgument("COLL_JOB_TOKEN must be 32 hex digits (128 bits): character %zu ('%c') is not one", i + 1,
                             hex[i]);
  for (size_t i = 0; i < 16; ++i) (*out)[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) << 4 | HexValue(hex[2 * i + 1]));
  return Status::OK();
}

// Variables every process of one launch shares and another launch does not: OpenMPI's job
// id and its launcher's URI (pid and port), PMIx's namespace, Slurm's job and step, the
// TorchElastic run id, PBS, LSF and Flux job ids. torchrun's rendezvous endpoint
// (MASTER_ADDR/MASTER_PORT) is mixed in too, but alone it is no job id.
const char* const kLauncherIds[] = {"OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_orte_hnp_uri",
                                    "OMPI_MCA_pmix_namespace", "PMIX_NAMESPACE",         "SLURM_JOB_ID",
                                    "SLURM_STEP_ID",           "TORCHELASTIC_RUN_ID",    "PBS_JOBID",
                                    "LSB_JOBID",               "FLUX_JOB_ID"};
const char* const kLaunchHints[] = {"MASTER_ADDR", "MASTER_PORT"};

Status EnvJobToken(const Config& config, const std::string& root_addr, int nranks, bool warn, Token* out) {
  if (!config.job_token_hex.empty()) return ParseHexToken(config.job_token_hex, out);
  std::string material = "libcollective-env-token|" + root_addr + "|" + std::to_string(nranks);
  bool launcher = false;
  for (const char* var : kLauncherIds) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') continue;
    material += std::string("|") + var + "=" + v;
    launcher = true;
  }
  for (const char* var : kLaunchHints)
    if (const char* v = std::getenv(var)) material += std::string("|") + var + "=" + v;
  if (!launcher && warn)
    COLL_WARN(0, "COLL_JOB_TOKEN is not set and no launcher job id was found (OpenMPI, PMIx, Slurm, torchrun, PBS, "
              "LSF, Flux): the job token is derived from COLL_ROOT_ADDR and the size alone, so a second job started "
              "on the same address is only caught when a rank is claimed twice; set COLL_JOB_TOKEN to 32 random hex "
              "digits shared by the job's ranks");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    return SystemError("EVP_Digest(sha256) failed");
  std::memcpy(out->data(), digest, out->size());
  return Status::OK();
}

}  // namespace coll
