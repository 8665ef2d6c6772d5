// Wire format: per announcement u16 name length, name, u8 kind, u8 dtype, u8 op, i32 root,
// u8 rank, i64 dims — host byte order (every rank of a job runs the same binary build).
#include "announce.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace coll_tf {
namespace {

template <typename T>
void Put(std::vector<char>* out, T v) {
  const char* p = reinterpret_cast<const char*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

template <typename T>
bool Get(const char** p, const char* end, T* v) {
  if (end - *p < static_cast<ptrdiff_t>(sizeof(T))) return false;
  std::memcpy(v, *p, sizeof(T));
  *p += sizeof(T);
  return true;
}

const char* DtypeName(uint8_t d) {
  static const char* const kNames[] = {"int8",    "uint8",   "int32",    "uint32",  "int64",
                                       "uint64",  "float16", "bfloat16", "float32", "float64"};
  return d < sizeof(kNames) / sizeof(kNames[0]) ? kNames[d] : "unknown";
}

const char* OpName(uint8_t op) {
  static const char* const kNames[] = {"sum", "product", "min", "max", "average"};
  return op < 5 ? kNames[op] : "unknown";
}

}  // namespace

void Serialize(const Announcement& a, std::vector<char>* out) {
  Put<uint16_t>(out, static_cast<uint16_t>(a.name.size()));
  out->insert(out->end(), a.name.begin(), a.name.end());
  Put<uint8_t>(out, static_cast<uint8_t>(a.kind));
  Put<uint8_t>(out, a.dtype);
  Put<uint8_t>(out, a.op);
  Put<int32_t>(out, a.root);
  Put<uint8_t>(out, static_cast<uint8_t>(a.shape.size()));
  for (int64_t d : a.shape) Put<int64_t>(out, d);
}

bool ParseAll(const char* data, size_t len, std::vector<Announcement>* out) {
  const char* p = data;
  const char* end = data + len;
  while (p < end) {
    Announcement a;
    uint16_t name_len;
    uint8_t kind, ndims;
    if (!Get(&p, end, &name_len) || end - p < name_len) return false;
    a.name.assign(p, name_len);
    p += name_len;
    if (!Get(&p, end, &kind) || kind > 3 || !Get(&p, end, &a.dtype) || !Get(&p, end, &a.op) ||
        !Get(&p, end, &a.root) || !Get(&p, end, &ndims))
      return false;
    a.kind = static_cast<Kind>(kind);
    a.shape.resize(ndims);
    for (auto& d : a.shape)
      if (!Get(&p, end, &d)) return false;
    out->push_back(std::move(a));
  }
  return true;
}

std::string Describe(const Announcement& a) {
  std::ostringstream s;
  switch (a.kind) {
    case Kind::kAllreduce: s << "allreduce(" << OpName(a.op) << ")"; break;
    case Kind::kBroadcast: s << "broadcast(root " << a.root << ")"; break;
    case Kind::kAllgather: s << "allgather"; break;
    case Kind::kReduceScatter: s << "reducescatter(" << OpName(a.op) << ")"; break;
  }
  s << " of " << DtypeName(a.dtype) << "[";
  for (size_t i = 0; i < a.shape.size(); ++i) s << (i ? "," : "") << a.shape[i];
  s << "]";
  return s.str();
}

bool Compatible(const Announcement& a, const Announcement& b) {
  if (a.kind != b.kind || a.dtype != b.dtype || a.shape.size() != b.shape.size()) return false;
  switch (a.kind) {
    case Kind::kAllreduce:
    case Kind::kReduceScatter: return a.op == b.op && a.shape == b.shape;
    case Kind::kBroadcast: return a.root == b.root && a.shape == b.shape;
    case Kind::kAllgather:  // the first dimension may differ between ranks
      return !a.shape.empty() && std::equal(a.shape.begin() + 1, a.shape.end(), b.shape.begin() + 1);
  }
  return false;
}

int64_t ScatterRows(int64_t dim0, int size, int r) { return dim0 / size + (r < dim0 % size); }

int64_t ScatterFirstRow(int64_t dim0, int size, int r) {
  return r * (dim0 / size) + std::min<int64_t>(r, dim0 % size);
}

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace coll_tf
