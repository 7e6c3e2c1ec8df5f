#pragma once
/// @file
/// The function registry: how a worker process finds the code a task names. A task names a function by a
/// 64-bit id (a hash of the function's compiler-given name); the worker looks the id up in a table that
/// static registration objects fill before `main` (and before the worker loop, which starts from a later
/// static initialiser). Nothing received from the wire is ever executed or used as an address: an id that
/// is not in the table is a ProtocolError. The same table exists in every start method because it is built
/// by the binary itself, not inherited from the parent.
///
/// Usage: `pool.submit<&heavy>(n)` registers `heavy` by instantiating `detail::Registrar<&heavy>`; nothing
/// else is needed. Python equivalent: pickling a module-level function by its qualified name.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/process/codec.hpp"

namespace spindle::process {

namespace detail {

/// Decodes the arguments from `args`, calls the function, encodes its result into `result`.
using Invoker = void (*)(Reader& args, Writer& result);

/// One registered function.
struct FunctionEntry {
  std::uint64_t id;
  std::string_view name;
  Invoker invoke;
};

/// Adds `entry` to the registry. Aborts, with a message, on an id shared by two different functions, which
/// would make a task run the wrong one: two names that hash alike, or (clang 14) two specialisations of one
/// function template with the same signature, which that compiler names alike.
void register_function(const FunctionEntry& entry) noexcept;
/// The registered function with this id, or null.
const FunctionEntry* find_function(std::uint64_t id) noexcept;

constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

template <auto F>
constexpr std::string_view pretty_name() noexcept {
  return __PRETTY_FUNCTION__;
}

/// The compiler's spelling of T. With F's type in the id, two specialisations of one function template
/// with different signatures get different ids even under clang 14, whose __PRETTY_FUNCTION__ drops a
/// function template's arguments (`twice<int>` and `twice<long>` both print as `&twice`).
template <class T>
constexpr std::string_view type_name() noexcept {
  return __PRETTY_FUNCTION__;
}

/// "heavy" from the compiler's "...[with auto F = heavy; ...]" (g++) or "...[F = &heavy]" (clang), without
/// an anonymous namespace's prefix.
constexpr std::string_view short_name(std::string_view pretty) noexcept {
  const auto at = pretty.find("F = ");
  if (at == std::string_view::npos) return pretty;
  std::string_view s = pretty.substr(at + 4);
  const auto end = s.find_first_of(";]");
  if (end != std::string_view::npos) s = s.substr(0, end);
  if (!s.empty() && s.front() == '&') s.remove_prefix(1);
  for (std::string_view anon : {std::string_view("{anonymous}::"), std::string_view("(anonymous namespace)::")}) {
    const auto a = s.rfind(anon);
    if (a != std::string_view::npos) s = s.substr(a + anon.size());
  }
  return s;
}

template <class Sig>
struct Signature;
template <class R, class... A>
struct Signature<R (*)(A...)> {
  using result = R;
  using args = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct Signature<R (*)(A...) noexcept> : Signature<R (*)(A...)> {};

template <auto F>
concept NamedFunction = std::is_pointer_v<decltype(F)> && std::is_function_v<std::remove_pointer_t<decltype(F)>>;

template <auto F>
void invoke_function(Reader& in, Writer& out) {
  using S = Signature<decltype(F)>;
  typename S::args args;
  std::apply([&](auto&... a) {
    if constexpr (sizeof...(a) > 0) in(a...);
  }, args);
  if (in.remaining() != 0) throw ProtocolError("codec: trailing bytes after the arguments");
  if constexpr (std::is_void_v<typename S::result>) {
    std::apply([](auto&... a) { F(std::move(a)...); }, args);
  } else {
    out(std::apply([](auto&... a) { return F(std::move(a)...); }, args));
  }
}

struct Registration {
  explicit Registration(const FunctionEntry& e) noexcept { register_function(e); }
};

/// Instantiating `Registrar<F>::registration` registers F. The initialisation priority puts it before every
/// ordinary static initialiser, in particular before the one that starts a spawned worker's loop.
template <auto F>
struct Registrar {
  static constexpr std::string_view name = short_name(pretty_name<F>());
  static constexpr std::uint64_t id = fnv1a(pretty_name<F>()) ^ (fnv1a(type_name<decltype(F)>()) * 31);
  static const Registration registration;
};
#if defined(__GNUC__)
template <auto F>
const Registration Registrar<F>::registration __attribute__((init_priority(200))){
    FunctionEntry{Registrar<F>::id, Registrar<F>::name, &invoke_function<F>}};
#endif

}  // namespace detail

/// A call of a registered function with encoded arguments: what a task, an initializer or a Process target
/// is on the wire. Make one with `call<&fn>(args...)`.
/// **Thread safety:** a value type. **Python equivalent:** `(fn, args)` as pickled by multiprocessing.
struct Call {
  std::uint64_t id = 0;           ///< registry id (0: no call)
  std::string_view name;          ///< for messages (`WorkerCrashed::task`)
  std::string args;               ///< encoded arguments
  std::vector<int> fds;           ///< descriptors the arguments carry (owned: closed by the destructor)

  Call() = default;
  Call(Call&& o) noexcept : id(o.id), name(o.name), args(std::move(o.args)), fds(std::move(o.fds)) { o.fds.clear(); }
  Call& operator=(Call&& o) noexcept;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call();
  /// True if this names a function.
  explicit operator bool() const noexcept { return id != 0; }
};

/// The name a registered function travels under. Python: `fn.__qualname__`.
template <auto F>
  requires detail::NamedFunction<F>
constexpr std::string_view function_name() noexcept {
  return detail::Registrar<F>::name;
}

/// Packs a call of the named function `F` with `args` (converted to F's parameter types), registering F.
template <auto F, class... A>
  requires detail::NamedFunction<F>
Call call(A&&... args) {
  using S = detail::Signature<decltype(F)>;
  static_assert(std::tuple_size_v<typename S::args> == sizeof...(A), "wrong number of arguments for this function");
  (void)&detail::Registrar<F>::registration;
  Call c;
  c.id = detail::Registrar<F>::id;
  c.name = detail::Registrar<F>::name;
  const typename S::args packed(std::forward<A>(args)...);
  std::apply([&](const auto&... a) { encode_into(c.args, &c.fds, a...); }, packed);
  return c;
}

namespace detail {
template <class>
inline constexpr bool dependent_false = false;

/// The compile-time error for handing a callable object to another process.
template <class F>
constexpr void reject_callable() {
  static_assert(dependent_false<F>,
                "Can't pickle local object: a process pool runs *named* functions, found by a registry in the "
                "worker process. A lambda or function object (especially one with captures) has no name "
                "another process can look up and its captured state cannot be sent. Write a free function "
                "and pass it as a template argument: pool.submit<&my_function>(args...).");
}
}  // namespace detail

}  // namespace spindle::process
