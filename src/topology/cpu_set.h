// CpuSet: a small value type naming processing units (PUs) by OS index, so that topology
// users never see hwloc types. Immutable after construction; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace coll {
namespace topo {

class CpuSet {
 public:
  CpuSet() = default;
  // Sorts and de-duplicates; negative indexes are dropped.
  explicit CpuSet(std::vector<int> pus);

  const std::vector<int>& pus() const { return pus_; }
  bool empty() const { return pus_.empty(); }
  size_t size() const { return pus_.size(); }
  bool contains(int pu) const;
  bool includes(const CpuSet& other) const;

  CpuSet intersect(const CpuSet& other) const;

  // Linux list format, as in taskset -c: "0-3,8,10-11"; "(empty)" when empty.
  std::string toString() const;

  bool operator==(const CpuSet& other) const { return pus_ == other.pus_; }
  bool operator!=(const CpuSet& other) const { return pus_ != other.pus_; }

 private:
  std::vector<int> pus_;
};

}  // namespace topo
}  // namespace coll
