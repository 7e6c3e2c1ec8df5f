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
///
/// A function passed at run time (`pool.submit(heavy, n)`, Python's spelling) travels as its address in a
/// form another process of the same program can check: the loaded object holding it ("" for the program,
/// else the shared library's path) and its offset from that object's load base, so PIE and ASLR do not
/// matter and every start method works (the worker is this program, forked or re-exec'd). The registry id
/// names a trampoline per signature `R(*)(Args...)` (registered like any named function) that decodes the
/// address and the arguments and calls the function. The worker calls an address only if it is the start
/// of a function symbol (STT_FUNC) of that object's ELF symbol tables, inside an executable segment: a
/// bogus offset from a corrupted frame is a ProtocolError, never a jump into arbitrary code.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/process/codec.hpp"

namespace spindle::process {

namespace detail {

struct Blob;  // detail/blob.hpp

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
  using pointer = R (*)(A...);  ///< without noexcept: one trampoline per signature
};
template <class R, class... A>
struct Signature<R (*)(A...) noexcept> : Signature<R (*)(A...)> {};

// clang-format off: clang-format 14 mangles requires-clauses
template <auto F>
concept NamedFunction = std::is_pointer_v<decltype(F)> && std::is_function_v<std::remove_pointer_t<decltype(F)>>;
// clang-format on

template <auto F>
void invoke_function(Reader& in, Writer& out) {
  using S = Signature<decltype(F)>;
  typename S::args args;
  std::apply(
      [&](auto&... a) {
        if constexpr (sizeof...(a) > 0) in(a...);
      },
      args);
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
const Registration Registrar<F>::registration
    __attribute__((init_priority(200))){FunctionEntry{Registrar<F>::id, Registrar<F>::name, &invoke_function<F>}};
#endif

/// Where a function passed at run time is, as the parent found it (cached for the process's life, so the
/// views stay valid).
struct FunctionAddress {
  std::string object;    ///< the loaded object's path as the dynamic loader names it; "" for the program
  std::uint64_t offset;  ///< from the object's load base
  std::string name;      ///< demangled, without its parameter list (for messages)
};

/// The address of the function at `fn`, checked as the worker will check it. Throws std::invalid_argument
/// if no other process of this program could find it (not the start of a function symbol, e.g. a stripped
/// binary, or code outside any loaded object).
const FunctionAddress& locate_function(std::uintptr_t fn);
/// The worker's side: the function at `offset` in loaded object `object`. Throws ProtocolError unless that
/// is the start of a function symbol of the object, inside an executable segment.
std::uintptr_t resolve_function(const std::string& object, std::uint64_t offset);

/// Reads a function address (object, offset) from `in` and resolves it.
inline std::uintptr_t read_function(Reader& in) {
  std::string object;
  std::uint64_t offset = 0;
  in(object, offset);
  return resolve_function(object, offset);
}

/// Decodes `fn`'s arguments from `in` and calls it with them, encoding the result into `out`.
template <class Fn>
void apply_decoded(Fn fn, Reader& in, Writer& out) {
  using R = typename Signature<Fn>::result;
  typename Signature<Fn>::args args;
  std::apply(
      [&](auto&... a) {
        if constexpr (sizeof...(a) > 0) in(a...);
      },
      args);
  if (in.remaining() != 0) throw ProtocolError("codec: trailing bytes after the arguments");
  if constexpr (std::is_void_v<R>) {
    std::apply([&](auto&... a) { fn(std::move(a)...); }, args);
  } else {
    out(std::apply([&](auto&... a) { return fn(std::move(a)...); }, args));
  }
}

/// The trampoline of signature `Fn` (a plain `R(*)(A...)`): a call of a function passed at run time.
template <class Fn>
struct PointerCall {
  static void invoke(Reader& in, Writer& out) { apply_decoded(reinterpret_cast<Fn>(read_function(in)), in, out); }
};

/// The trampoline of map(fn, items) chunks of signature `Fn`: fn over each item of a vector.
template <class Fn>
struct PointerMapChunk {
  using In = std::tuple_element_t<0, typename Signature<Fn>::args>;
  using R = typename Signature<Fn>::result;
  static void invoke(Reader& in, Writer& out) {
    const auto fn = reinterpret_cast<Fn>(read_function(in));
    std::vector<In> items;
    in(items);
    if (in.remaining() != 0) throw ProtocolError("codec: trailing bytes after the arguments");
    std::vector<R> results;
    results.reserve(items.size());
    for (auto& x : items) results.push_back(fn(std::move(x)));
    out(results);
  }
};

/// Instantiating `TrampolineRegistrar<T>::registration` registers `T::invoke`, under an id from T's name
/// (clang 14 spells a class template's arguments, unlike a function template's).
template <class T>
struct TrampolineRegistrar {
  static constexpr std::uint64_t id = fnv1a(type_name<T>()) * 31 + 7;
  static const Registration registration;
};
#if defined(__GNUC__)
template <class T>
const Registration TrampolineRegistrar<T>::registration
    __attribute__((init_priority(200))){FunctionEntry{TrampolineRegistrar<T>::id, type_name<T>(), &T::invoke}};
#endif

/// A pointer to a function (what a function name decays to), as opposed to a function object.
// clang-format off: clang-format 14 mangles requires-clauses
template <class P>
concept FunctionPointer = std::is_pointer_v<P> && std::is_function_v<std::remove_pointer_t<P>>;
// clang-format on

}  // namespace detail

/// A call of a registered function with encoded arguments: what a task, an initializer or a Process target
/// is on the wire. Make one with `call<&fn>(args...)`.
/// **Thread safety:** a value type. **Python equivalent:** `(fn, args)` as pickled by multiprocessing.
struct Call {
  std::uint64_t id = 0;   ///< registry id (0: no call)
  std::string_view name;  ///< for messages (`WorkerCrashed::task`)
  std::string args;       ///< encoded arguments
  std::vector<int> fds;   ///< descriptors the arguments carry (owned: closed by the destructor)
  /// Shared-memory blobs of large arguments (detail/blob.hpp), kept until the call was decoded.
  std::vector<std::shared_ptr<const void>> leases;
  /// The encoded arguments already in a shared-memory blob, in place of `args` (an MPI worker rank receives
  /// a large task straight into one): a process pool hands it to its worker as it is, without a copy.
  std::shared_ptr<detail::Blob> args_blob;
  std::size_t args_blob_bytes = 0;  ///< how many bytes of `args_blob` are the arguments

  Call() = default;
  Call(Call&& o) noexcept
      : id(o.id),
        name(o.name),
        args(std::move(o.args)),
        fds(std::move(o.fds)),
        leases(std::move(o.leases)),
        args_blob(std::move(o.args_blob)),
        args_blob_bytes(o.args_blob_bytes) {
    o.fds.clear();
  }
  Call& operator=(Call&& o) noexcept;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  ~Call();
  /// True if this names a function.
  explicit operator bool() const noexcept { return id != 0; }
};

/// The name a registered function travels under. Python: `fn.__qualname__`.
// clang-format off: clang-format 14 mangles requires-clauses
template <auto F>
requires detail::NamedFunction<F>
constexpr std::string_view function_name() noexcept {
  // clang-format on
  return detail::Registrar<F>::name;
}

namespace detail {
/// Encodes `a` as parameter type P: as it is when it already has that type (a large argument is not copied
/// first), else converted to P.
template <class P, class A>
void encode_as(Writer& w, A&& a) {
  if constexpr (std::is_same_v<std::remove_cvref_t<A>, P>) {
    w(a);
  } else {
    const P converted(std::forward<A>(a));
    w(converted);
  }
}

/// call<F>(args...); `blobs`: large arrays of numbers may go as shared-memory blobs (the caller keeps the
/// Call until a worker has decoded it: a process pool's task).
// clang-format off: clang-format 14 mangles requires-clauses
template <auto F, class... A>
requires NamedFunction<F> Call make_call(bool blobs, A&&... args) {
  // clang-format on
  using S = Signature<decltype(F)>;
  static_assert(std::tuple_size_v<typename S::args> == sizeof...(A), "wrong number of arguments for this function");
  (void)&Registrar<F>::registration;
  Call c;
  c.id = Registrar<F>::id;
  c.name = Registrar<F>::name;
  if constexpr (sizeof...(A) > 0) {
    Writer w(c.args, &c.fds);
    if (blobs) w.lend_blobs(&c.leases);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (encode_as<std::tuple_element_t<I, typename S::args>>(w, std::forward<A>(args)), ...);
    }
    (std::index_sequence_for<A...>{});
  }
  return c;
}
}  // namespace detail

/// Packs a call of the named function `F` with `args` (converted to F's parameter types), registering F.
// clang-format off: clang-format 14 mangles requires-clauses
template <auto F, class... A>
requires detail::NamedFunction<F> Call call(A&&... args) {
  // clang-format on
  return detail::make_call<F>(false, std::forward<A>(args)...);
}

namespace detail {
/// Packs a call of trampoline `T` for the function at `fn`, followed by `values`.
template <class T, class... V>
Call pointer_call(std::uintptr_t fn, const V&... values) {
  const FunctionAddress& where = locate_function(fn);
  (void)&TrampolineRegistrar<T>::registration;
  Call c;
  c.id = TrampolineRegistrar<T>::id;
  c.name = where.name;
  encode_into(c.args, &c.fds, where.object, where.offset, values...);
  return c;
}

}  // namespace detail

/// Packs a call of `fn`, a function of this program passed at run time (a named free function, or a
/// captureless lambda converted with `+`), with `args` (converted to fn's parameter types). Throws
/// std::invalid_argument if no worker could find fn (see detail::locate_function). Costs a cached look-up
/// that `call<&fn>(args...)` does not need. Python equivalent: pickling `(fn, args)`.
template <class R, class... P, class... A>
Call call(R (*fn)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "wrong number of arguments for this function");
  const std::tuple<std::decay_t<P>...> packed(std::forward<A>(args)...);
  return std::apply(
      [&](const auto&... a) {
        return detail::pointer_call<detail::PointerCall<R (*)(P...)>>(reinterpret_cast<std::uintptr_t>(fn), a...);
      },
      packed);
}

namespace detail {
template <class>
inline constexpr bool dependent_false = false;

/// The compile-time error for handing a callable object to another process.
template <class F>
constexpr void reject_callable() {
  static_assert(dependent_false<F>,
                "Can't pickle local object: a lambda with captures or a function object cannot be sent to a "
                "worker process; write a free function and pass it: pool.submit(my_function, args...) (or "
                "pool.submit<&my_function>(args...), the fastest; Process(my_function, args...))");
}
}  // namespace detail

}  // namespace spindle::process
