// Functions passed at run time (`pool.submit(heavy, 4)`): the parent describes a function pointer as (loaded
// object, offset from its load base); the worker, the same program forked or re-exec'd, turns that back into
// an address only if it is the start of a function symbol of that object's ELF symbol tables (.symtab, and
// .dynsym for shared libraries whose .symtab is stripped) inside an executable segment. dladdr alone would
// not do: it only sees exported symbols, and a program's own functions usually are not.

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime.hpp"
#include "spindle/process/registry.hpp"

namespace spindle::process::detail {

namespace {

// The function symbols of one loaded object, and where it is loaded in this process.
struct ObjectFunctions {
  std::uintptr_t base = 0;                                      // l_addr / dlpi_addr
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> code;  // executable segments, [begin, end)
  std::vector<std::pair<std::uint64_t, std::uint32_t>> starts;  // (st_value, offset of its name in `names`)
  std::string names;                                            // the string tables, concatenated
  std::string error;                                            // why there are none, if so
};

// Reads the STT_FUNC symbols of the ELF file at `path` into `out`, or says why not in out.error.
void read_symbols(const std::string& path, ObjectFunctions& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = "cannot open " + path + ": " + std::strerror(errno);
    return;
  }
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > 0)
    map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    out.error = "cannot map " + path;
    return;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto* file = static_cast<const unsigned char*>(map);
  // Every offset and count read from the file is checked against its size before use.
  auto within = [&](std::uint64_t off, std::uint64_t len) { return off <= size && len <= size - off; };
  Elf64_Ehdr eh;
  if (!within(0, sizeof eh) || (std::memcpy(&eh, file, sizeof eh), std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      !within(eh.e_shoff, std::uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr))) {
    out.error = path + " is not a 64-bit ELF file with section headers";
  } else {
    auto section = [&](std::size_t i) {
      Elf64_Shdr sh;
      std::memcpy(&sh, file + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof sh);
      return sh;
    };
    for (std::size_t i = 0; i < eh.e_shnum; ++i) {
      const Elf64_Shdr sh = section(i);
      if ((sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || sh.sh_entsize != sizeof(Elf64_Sym) ||
          sh.sh_link >= eh.e_shnum || !within(sh.sh_offset, sh.sh_size))
        continue;
      const Elf64_Shdr strtab = section(sh.sh_link);
      if (!within(strtab.sh_offset, strtab.sh_size) || strtab.sh_size == 0) continue;
      const std::size_t names_at = out.names.size();
      out.names.append(reinterpret_cast<const char*>(file + strtab.sh_offset), strtab.sh_size);
      out.names.back() = '\0';  // a final name always ends inside the table
      for (std::uint64_t at = sh.sh_offset; at + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size;
           at += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, file + at, sizeof sym);
        if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
        const std::size_t name = sym.st_name < strtab.sh_size ? names_at + sym.st_name : out.names.size() - 1;
        out.starts.emplace_back(sym.st_value, static_cast<std::uint32_t>(name));
      }
    }
    if (out.starts.empty()) out.error = path + " has no function symbols (stripped?)";
  }
  ::munmap(map, size);
  // Sorted by address, and for one address the first name (.symtab before .dynsym: the same function).
  std::stable_sort(out.starts.begin(), out.starts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

struct Loaded {
  const char* name;
  ObjectFunctions* out;
  bool found = false;
};

// Fills base and code of the loaded object called `name` ("" for the program).
int find_loaded(dl_phdr_info* info, std::size_t, void* data) {
  auto* want = static_cast<Loaded*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (std::strcmp(name, want->name) != 0) return 0;
  want->found = true;
  want->out->base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
      want->out->code.emplace_back(info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

using Cache = std::unordered_map<std::string, std::unique_ptr<ObjectFunctions>>;

// The parent's side and the worker's side each have their own cache and mutex: a worker forked while a
// parent thread held the parent's mutex (fork start method) must not wait for it forever. Never freed: the
// parent hands out views of names, and a worker may resolve functions during exit.
struct Side {
  std::mutex mutex;
  Cache cache;
};
Side& parent_side() {
  static auto* side = new Side();
  return *side;
}
Side& worker_side() {
  static auto* side = new Side();
  return *side;
}

// The function symbols of loaded object `name`, read once per process; null if it is not loaded here.
const ObjectFunctions* functions_of(Cache* cache, const std::string& name) {
  auto it = cache->find(name);
  if (it != cache->end()) return it->second.get();
  auto fns = std::make_unique<ObjectFunctions>();
  Loaded want{name.c_str(), fns.get()};
  ::dl_iterate_phdr(&find_loaded, &want);
  if (!want.found) return nullptr;  // not cached: bogus names from the wire must not grow the cache
  read_symbols(name.empty() ? std::string("/proc/self/exe") : name, *fns);
  return cache->emplace(name, std::move(fns)).first->second.get();
}

// The symbol starting at `offset`, or null.
const std::pair<std::uint64_t, std::uint32_t>* symbol_at(const ObjectFunctions& fns, std::uint64_t offset) {
  auto it = std::lower_bound(fns.starts.begin(), fns.starts.end(), offset,
                             [](const auto& s, std::uint64_t v) { return s.first < v; });
  return it != fns.starts.end() && it->first == offset ? &*it : nullptr;
}

bool in_code(const ObjectFunctions& fns, std::uintptr_t address) {
  return std::any_of(fns.code.begin(), fns.code.end(),
                     [&](const auto& seg) { return address >= seg.first && address < seg.second; });
}

// "heavy" from "(anonymous namespace)::heavy(int)": what the template spelling reports, too.
std::string readable(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  std::string s = status == 0 && demangled ? demangled.get() : mangled;
  if (!s.empty() && s.back() == ')') {  // drop the parameter list
    int depth = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
      if (s[i] == ')') ++depth;
      if (s[i] == '(' && --depth == 0) {
        s.resize(i);
        break;
      }
    }
  }
  for (const std::string_view anon : {std::string_view("(anonymous namespace)::")}) {
    for (auto at = s.find(anon); at != std::string::npos; at = s.find(anon)) s.erase(at, anon.size());
  }
  return s;
}

}  // namespace

std::unique_lock<std::mutex> hold_function_lookups() { return std::unique_lock(parent_side().mutex); }

const FunctionAddress& locate_function(std::uintptr_t fn) {
  static auto* located = new std::unordered_map<std::uintptr_t, FunctionAddress>();  // never freed: views
  thread_local std::pair<std::uintptr_t, const FunctionAddress*> last{0, nullptr};   // submit in a loop
  if (last.first == fn && fn != 0) return *last.second;
  Side& side = parent_side();
  std::lock_guard lock(side.mutex);
  auto it = located->find(fn);
  if (it == located->end()) {
    Dl_info info{};
    link_map* map = nullptr;
    if (fn == 0 ||
        ::dladdr1(reinterpret_cast<void*>(fn), &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 ||
        map == nullptr)
      throw std::invalid_argument("process pool: the function at " + std::to_string(fn) +
                                  " is in no loaded object; a worker could not find it");
    FunctionAddress where{map->l_name ? map->l_name : "", fn - map->l_addr, {}};
    const ObjectFunctions* fns = functions_of(&side.cache, where.object);
    const auto* sym = fns ? symbol_at(*fns, where.offset) : nullptr;
    if (!sym || !in_code(*fns, fn))
      throw std::invalid_argument(
          "process pool: a worker could not find the function at offset " + std::to_string(where.offset) + " of " +
          (where.object.empty() ? std::string("this program") : where.object) + " (" +
          (fns && !fns->error.empty() ? fns->error : std::string("not the start of a function symbol")) +
          "); pass it as a template argument instead: pool.submit<&fn>(args...)");
    where.name = readable(fns->names.c_str() + sym->second);
    it = located->emplace(fn, std::move(where)).first;
  }
  last = {fn, &it->second};
  return it->second;
}

std::uintptr_t resolve_function(const std::string& object, std::uint64_t offset) {
  Side& side = worker_side();
  std::lock_guard lock(side.mutex);
  const ObjectFunctions* fns = functions_of(&side.cache, object);
  if (!fns) throw ProtocolError("worker: a task names a function in an object that is not loaded here");
  const std::uintptr_t address = fns->base + offset;
  if (!symbol_at(*fns, offset) || !in_code(*fns, address))
    throw ProtocolError("worker: a task names a function address that is not the start of a function");
  return address;
}

}  // namespace spindle::process::detail
