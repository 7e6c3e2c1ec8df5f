// Page-level hints (include/spindle/core/detail/pages.hpp).

#include "spindle/core/detail/pages.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace spindle::detail {
namespace {

// Calls madvise(advice) on the whole `unit`-aligned stretches inside [p, p + bytes), if there are any.
void advise_inside(void* p, std::size_t bytes, std::uintptr_t unit, int advice) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const auto lo = (begin + unit - 1) & ~(unit - 1);
  const auto hi = (begin + bytes) & ~(unit - 1);
  if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, advice);
}

}  // namespace

void populate_pages(void* p, std::size_t bytes) noexcept {
#ifdef MADV_POPULATE_WRITE
  advise_inside(p, bytes, kPageBytes, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
  advise_inside(p, bytes, kHugePageBytes, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

void prepare_fresh_pages(void* p, std::size_t bytes) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const auto first = (begin + kPageBytes - 1) & ~(std::uintptr_t{kPageBytes} - 1);
  if (first + kPageBytes > begin + bytes) return;  // not one whole page: nothing to gain
  advise_huge_pages(p, bytes);                     // first, so that populating takes huge pages
  unsigned char in_memory = 0;
  if (::mincore(reinterpret_cast<void*>(first), kPageBytes, &in_memory) == 0 && (in_memory & 1) == 0)
    populate_pages(p, bytes);
}

}  // namespace spindle::detail
