// CpuSet implementation: sorted-vector set operations and list formatting.
// Pure value code; thread-compatible.
#include "topology/cpu_set.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace coll {
namespace topo {

CpuSet::CpuSet(std::vector<int> pus) : pus_(std::move(pus)) {
  pus_.erase(std::remove_if(pus_.begin(), pus_.end(), [](int pu) { return pu < 0; }), pus_.end());
  std::sort(pus_.begin(), pus_.end());
  pus_.erase(std::unique(pus_.begin(), pus_.end()), pus_.end());
}

bool CpuSet::contains(int pu) const {
  return std::binary_search(pus_.begin(), pus_.end(), pu);
}

bool CpuSet::includes(const CpuSet& other) const {
  return std::includes(pus_.begin(), pus_.end(), other.pus_.begin(), other.pus_.end());
}

CpuSet CpuSet::intersect(const CpuSet& other) const {
  std::vector<int> both;
  std::set_intersection(pus_.begin(), pus_.end(), other.pus_.begin(), other.pus_.end(),
                        std::back_inserter(both));
  return CpuSet(std::move(both));
}

std::string CpuSet::toString() const {
  if (pus_.empty()) return "(empty)";
  std::string out;
  size_t i = 0;
  while (i < pus_.size()) {
    size_t j = i;
    while (j + 1 < pus_.size() && pus_[j + 1] == pus_[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(pus_[i]);
    if (j > i) out += '-' + std::to_string(pus_[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace topo
}  // namespace coll
