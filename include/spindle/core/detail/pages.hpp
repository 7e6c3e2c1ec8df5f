#pragma once
// Page-level hints for fresh memory. On a hypervisor that shadows page tables a first touch of a 4 KiB page
// costs about 10 us, where faulting pages in by one call or in 2 MiB huge pages costs a fraction of that
// (docs/performance-history.md, "W3: frames in huge pages"). Best effort: a kernel that refuses a hint changes nothing.

#include <cstddef>

namespace spindle::detail {

/// The base page size these hints round to (Linux on x86-64 and arm64 with 4 KiB pages).
inline constexpr std::size_t kPageBytes = 4096;
/// A transparent huge page where pages are 4 KiB.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

/// Faults in the whole pages inside [p, p + bytes) in one call, contents unchanged (MADV_POPULATE_WRITE; kernels
/// before 5.14 refuse it).
void populate_pages(void* p, std::size_t bytes) noexcept;

/// Asks for transparent huge pages on the whole 2 MiB-aligned stretches inside [p, p + bytes), before their
/// first touch; the bytes around them may be shared with other allocations and are left alone.
void advise_huge_pages(void* p, std::size_t bytes) noexcept;

/// Readies [p, p + bytes), about to be written whole, in case it is fresh: huge pages advised on its whole
/// 2 MiB stretches and, if its first whole page is not in memory yet, every whole page faulted in by one call.
/// Memory already in use is left as it is: faulting in pages that are there costs about 40% of a memcpy.
void prepare_fresh_pages(void* p, std::size_t bytes) noexcept;

}  // namespace spindle::detail
