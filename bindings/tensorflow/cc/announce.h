// What a rank tells the others about one collective request, and the wire format of a round's
// announcements. Pure data, no TensorFlow and no threads: the background thread owns every use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace coll_tf {

enum class Kind : uint8_t { kAllreduce = 0, kBroadcast = 1, kAllgather = 2, kReduceScatter = 3 };

struct Announcement {
  std::string name;
  Kind kind = Kind::kAllreduce;
  uint8_t dtype = 0;  // coll_dtype_t
  uint8_t op = 0;     // coll_op_t (allreduce and reduce-scatter)
  int32_t root = 0;   // broadcast only
  std::vector<int64_t> shape;
};

// Appends a to out.
void Serialize(const Announcement& a, std::vector<char>* out);
// Parses every announcement in [data, data + len); false when the bytes are malformed.
bool ParseAll(const char* data, size_t len, std::vector<Announcement>* out);

// "allreduce(sum) of float32[4,3]": what a request asks for, for error messages.
std::string Describe(const Announcement& a);
// Whether two ranks' announcements of one name can run as one collective.
bool Compatible(const Announcement& a, const Announcement& b);
// Number of elements of a shape.
int64_t NumElements(const std::vector<int64_t>& shape);
// Reduce-scatter's split of dim0 rows over size ranks: as even as possible, the first
// dim0 % size ranks one row more. The rows of rank r and the first row it holds.
int64_t ScatterRows(int64_t dim0, int size, int r);
int64_t ScatterFirstRow(int64_t dim0, int size, int r);

}  // namespace coll_tf
