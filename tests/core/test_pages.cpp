// Page-level hints for fresh memory (spindle/core/detail/pages.hpp): they must touch only the whole pages, or
// whole 2 MiB stretches, inside the range they are given, since the bytes around may belong to someone else.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "spindle/core/detail/pages.hpp"

namespace sd = spindle::detail;

namespace {

constexpr std::size_t kPage = sd::kPageBytes;
constexpr std::size_t kHuge = sd::kHugePageBytes;

// The flags the kernel keeps for the mapping that holds `addr` (smaps' VmFlags line), or "" if none does.
std::string vm_flags_at(const void* addr) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return "";
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  bool inside = false;
  std::string flags;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' ')) {
      inside = lo <= a && a < hi;
    } else if (inside && std::strncmp(line, "VmFlags:", 8) == 0) {
      flags = line + 8;
      break;
    }
  }
  std::fclose(f);
  return flags;
}

// Which of the `pages` pages from `base` are resident (mincore).
std::vector<bool> resident(void* base, std::size_t pages) {
  std::vector<unsigned char> v(pages);
  if (::mincore(base, pages * kPage, v.data()) != 0) return {};
  std::vector<bool> out(pages);
  for (std::size_t i = 0; i < pages; ++i) out[i] = (v[i] & 1) != 0;
  return out;
}

bool populate_supported() {
  utsname u{};
  int major = 0, minor = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 && major * 100 + minor >= 514;
}

// kPages fresh pages of their own: too small a mapping for a huge page, so none is in memory before a test
// touches it, whatever the machine's THP setting.
constexpr std::size_t kPages = 16;
struct FreshPages {
  FreshPages() {
    void* p = ::mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) base = static_cast<char*>(p);
  }
  ~FreshPages() {
    if (base != nullptr) ::munmap(base, kPages * kPage);
  }
  FreshPages(const FreshPages&) = delete;
  FreshPages& operator=(const FreshPages&) = delete;
  char* base = nullptr;
};

// A mapping of `bytes` aligned to 2 MiB (a larger one mapped, the ends kept: unmapped with it).
struct Aligned {
  explicit Aligned(std::size_t bytes) : size(bytes + kHuge) {
    raw = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw != MAP_FAILED)
      base =
          reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(std::uintptr_t{kHuge} - 1));
  }
  ~Aligned() {
    if (raw != MAP_FAILED) ::munmap(raw, size);
  }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  std::size_t size;
  void* raw = MAP_FAILED;
  char* base = nullptr;
};

// A large array's fresh memory is advised for huge pages on its whole 2 MiB stretches, and only there.
TEST(Pages, AdviseHugeMarksOnlyTheWhole2MiBStretchesInside) {
  if (::access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) GTEST_SKIP() << "no THP in this kernel";
  const Aligned m(4 * kHuge);
  ASSERT_NE(m.base, nullptr);
  char* start = m.base + 100;                     // unaligned, as a vector's data() is
  sd::advise_huge_pages(start, 2 * kHuge + 500);  // holds one whole aligned stretch: [base + 2M, base + 4M)
  sd::advise_huge_pages(start, kHuge);            // holds none: a no-op
  EXPECT_EQ(vm_flags_at(start).find(" hg"), std::string::npos) << "the partial stretch before was advised";
  EXPECT_NE(vm_flags_at(start + kHuge).find(" hg"), std::string::npos) << vm_flags_at(start + kHuge);
  EXPECT_EQ(vm_flags_at(start + 2 * kHuge + 200).find(" hg"), std::string::npos) << "the stretch after was advised";
  std::memset(start, 7, 2 * kHuge + 500);  // and the memory works as before
  EXPECT_EQ(start[kHuge + 5], 7);
}

// Populating faults in the whole pages inside the range, leaves the partial ones at its ends alone, and changes
// no byte.
TEST(Pages, PopulateFaultsInOnlyTheWholePagesInside) {
  if (!populate_supported()) GTEST_SKIP() << "MADV_POPULATE_WRITE needs Linux 5.14";
  const FreshPages m;
  ASSERT_NE(m.base, nullptr);
  char* base = m.base;
  ASSERT_EQ(resident(base, kPages), std::vector<bool>(kPages, false));
  sd::populate_pages(base + 100, 10 * kPage);  // whole pages 1..9 inside; 0 and 10 only in part
  std::vector<bool> want(kPages, false);
  for (std::size_t i = 1; i <= 9; ++i) want[i] = true;
  EXPECT_EQ(resident(base, kPages), want);
  for (std::size_t i = kPage; i < 10 * kPage; ++i) ASSERT_EQ(base[i], 0) << "byte " << i;
}

// A fresh range about to be written is faulted in whole, its bytes unchanged; a range whose first page is already
// in memory (a reused heap block) is left to fault as it will: populating pages that are there is not free.
TEST(Pages, PrepareFreshFaultsInOnlyARangeThatIsFresh) {
  if (!populate_supported()) GTEST_SKIP() << "MADV_POPULATE_WRITE needs Linux 5.14";
  const FreshPages m;
  ASSERT_NE(m.base, nullptr);
  char* base = m.base;
  sd::prepare_fresh_pages(base + 100, 6 * kPage);  // fresh: whole pages 1..5 inside
  std::vector<bool> want(kPages, false);
  for (std::size_t i = 1; i <= 5; ++i) want[i] = true;
  EXPECT_EQ(resident(base, kPages), want);
  for (std::size_t i = kPage; i < 6 * kPage; ++i) ASSERT_EQ(base[i], 0) << "byte " << i;
  base[8 * kPage] = 1;  // page 8 in use: the range from it is not fresh
  sd::prepare_fresh_pages(base + 8 * kPage, 6 * kPage);
  want[8] = true;
  EXPECT_EQ(resident(base, kPages), want) << "pages 9..13 were faulted in although page 8 was in memory";
  sd::prepare_fresh_pages(base + 14 * kPage + 1, kPage);  // no whole page inside: nothing
  EXPECT_EQ(resident(base, kPages), want);
}

}  // namespace
